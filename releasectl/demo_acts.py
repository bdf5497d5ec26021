"""The demo's story, act by act: what each step does, shows and expects.

Every command is the real CLI in a child process with the sandbox's environment; every
expectation is checked against what the command printed, its exit code, what the sandbox ALB
answers and, independently, what the sandbox's ECR and ECS hold (read through boto3).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from releasectl.demo_console import AlbPoller, Answer, Narrator, http_get, run_releasectl
from releasectl.demo_scratch import Scratch
from releasectl.sandbox.state import ID_ENV

# A quick, real subset of the project's tests for buildspec.yml's pre_build (UNIT_TESTS): the
# demo shows the gate working, not the whole suite's minutes. It leaves out tests/test_service.py
# on purpose: act 3's broken /healthz must get past unit tests to show the circuit breaker.
UNIT_TESTS = "tests/test_outcome.py tests/test_plan.py"
FIRST, SECOND, BROKEN = "0.1.0", "0.1.1", "0.1.2"
GREETING = "Hello from CI/CD!"
SERVICE = "service/hello_world.py"
HEALTHZ = 'if path == "/healthz":\n        return 200'
PING = '    if path == "/ping":\n        return 200, "text/plain; charset=utf-8", {body}\n'
COMMAND_TIMEOUT = 120.0  # seconds per command; far above what a step takes
ALB_SAMPLES = 4  # requests per check: round robin reaches both tasks twice


class DemoFailed(Exception):
    """A step did not behave as expected; the message says which and how."""


@dataclass
class Step:
    act: int
    title: str
    command: tuple[str, ...]
    expected_exit: int
    exit_code: int | None = None
    seconds: float = 0.0
    version: str | None = None
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lines: tuple[str, ...] = ()  # what the command printed, stdout and stderr as they came

    @property
    def ok(self) -> bool:
        return self.exit_code == self.expected_exit and not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "act": self.act,
            "title": self.title,
            "command": ["releasectl", *self.command],
            "expected_exit": self.expected_exit,
            "exit_code": self.exit_code,
            "ok": self.ok,
            "version": self.version,
            "seconds": round(self.seconds, 3),
            "checks": self.checks,
            "problems": self.problems,
        }


class Story:
    def __init__(self, narrator: Narrator, scratch: Scratch, sandbox: Any) -> None:
        self.say = narrator
        self.scratch = scratch
        self.sandbox = sandbox
        self.steps: list[Step] = []

    @property
    def env(self) -> dict[str, str]:
        # The sandbox id lets the sandbox find and end these processes too, whatever happens.
        return {**self.scratch.env, **self.sandbox.env, ID_ENV: self.sandbox.marker}

    def run(self) -> None:
        self.prologue()
        self.feature()
        self.fix()
        self.broken_release()
        self.rollback()
        self.tables()

    # ------------------------------------------------------------------ acts

    def prologue(self) -> None:
        self.say.ok(
            f"sandbox {self.sandbox.marker} is up: AWS endpoint {self.sandbox.endpoint}, "
            f"ALB {self.sandbox.alb_url}"
        )
        answers = self._alb("/")
        if not all(a.status == 200 and a.body.startswith(GREETING) for a in answers):
            raise DemoFailed(f"before any release the sandbox ALB answered {_shown(answers)}")
        self.say.note("Before any release the service runs a bootstrap image of the copy (not a release).")

    def feature(self) -> None:
        self.say.act(1, f"A feature: `feat:` makes a new minor version, {FIRST}")
        self.scratch.edit(
            SERVICE,
            '    if path == "/healthz":\n',
            PING.format(body='b"pong\\n"') + '    if path == "/healthz":\n',
        )
        self._commit("feat: add a /ping endpoint")
        step = self._build(
            1, "feat: built, released and deployed by the sandbox CodeBuild", FIRST, expected_exit=0
        )
        self._expect_alb(step, FIRST)
        self._expect_ping(step, "pong")
        self._expect_claimed(step, FIRST)
        self._expect_running(step, FIRST)

    def fix(self) -> None:
        self.say.act(2, f"A fix: `fix:` makes a patch, {SECOND}")
        self.scratch.edit(SERVICE, 'b"pong\\n"', 'f"pong from {VERSION}\\n".encode()')
        self._commit("fix: say which version answers /ping")
        step = self._build(2, "fix: built, released and deployed the same way", SECOND, expected_exit=0)
        self._expect_alb(step, SECOND)
        self._expect_ping(step, f"pong from {SECOND}")
        self._expect_claimed(step, SECOND)
        self._expect_running(step, SECOND)

    def broken_release(self) -> None:
        self.say.act(3, f"A bad release: {BROKEN} fails its health checks and ECS rolls it back")
        self.scratch.edit(SERVICE, HEALTHZ, HEALTHZ.replace("return 200", "return 500"))
        self._commit("refactor: simplify the /healthz handler")
        self.say.note("(this commit makes /healthz answer 500; the ALB is polled all along from here)")
        with AlbPoller(self.sandbox.alb_url + "/") as poller:
            step = self._build(3, "broken /healthz: released, deployed, rolled back", BROKEN, expected_exit=1)
            verdicts = [line for line in step.lines if re.match(r"^release: rolled_back\b", line)]
            if verdicts:
                self.say.ok(f"releasectl inside the build reported: {verdicts[-1]}")
                step.checks.append("release reported rolled_back")
            else:
                self._problem(step, "no `release: rolled_back` line in the build's output")
            self.say.note("Waiting for the sandbox ECS to finish its rollback deployment ...")
            if not self.sandbox.wait_until_steady(30):
                self._problem(step, "the service did not return to a steady state within 30 s")
        expected = f"{GREETING} (version {SECOND})"
        wrong = [a for a in poller.answers if (a.status, a.body) != (200, expected)]
        if not poller.answers or wrong:
            self._problem(step, f"during the bad rollout the ALB answered {_shown(wrong or poller.answers)}")
        else:
            self.say.ok(
                f"the sandbox ALB answered all {len(poller.answers)} requests made during the bad rollout "
                f"with {SECOND}"
            )
            step.checks.append(f"ALB answered {SECOND} throughout ({len(poller.answers)} requests)")
        self._expect_alb(step, SECOND)
        self._expect_claimed(step, BROKEN)
        self._expect_running(step, SECOND)

    def rollback(self) -> None:
        self.say.act(4, f"An operator's rollback to the first version, {FIRST}")
        step = self._releasectl(4, "rollback --to the first version", ("rollback", "--to", FIRST), 0)
        self._expect_alb(step, FIRST)
        self._expect_running(step, FIRST)

    def tables(self) -> None:
        self.say.act(5, "What runs now, and the release ledger")
        status = self._releasectl(5, "status", ("status",), 0)
        if not any(re.match(rf"^version\s+{re.escape(FIRST)}\b", line) for line in status.lines):
            self._problem(status, f"`releasectl status` does not say version {FIRST}")
        ledger = self._releasectl(5, "releases", ("releases",), 0)
        outcomes = {FIRST: "succeeded", SECOND: "succeeded", BROKEN: "rolled_back"}
        rows = {
            v: [line for line in ledger.lines if re.search(rf"\b{re.escape(v)}\b", line)] for v in outcomes
        }
        wrong = [f"{v} ({o})" for v, o in outcomes.items() if not any(o in line for line in rows[v])]
        if wrong:
            self._problem(ledger, f"`releasectl releases` does not list {', '.join(wrong)}")
        step_note = ", ".join(f"{v} {o}" for v, o in outcomes.items())
        self.say.ok(f"the ledger lists {step_note}")

    # ------------------------------------------------------------------ steps

    def _commit(self, message: str) -> None:
        self.say.command(f"git commit -am {message!r} && git push")
        for line in self.scratch.commit(message).splitlines():
            self.say.output(line)
        self.scratch.push()

    def _releasectl(self, act: int, title: str, args: Sequence[str], expected_exit: int) -> Step:
        step = Step(act, title, tuple(args), expected_exit)
        self.steps.append(step)
        self.say.command("releasectl " + " ".join(args))
        ran = run_releasectl(
            args, cwd=self.scratch.repo, env=self.env, narrator=self.say, timeout=COMMAND_TIMEOUT
        )
        step.exit_code, step.seconds, step.lines = ran.code, ran.seconds, ran.lines
        if ran.timed_out:
            self._problem(
                step, f"`releasectl {' '.join(args)}` was still running after {COMMAND_TIMEOUT:g} s"
            )
        elif ran.code != expected_exit:
            self._problem(step, f"`releasectl {' '.join(args)}` exited {ran.code}, expected {expected_exit}")
        else:
            self.say.ok(
                f"`releasectl {' '.join(args)}` exited {ran.code} after {ran.seconds:.1f} s, as expected"
            )
        return step

    def _build(self, act: int, title: str, version: str, *, expected_exit: int) -> Step:
        step = self._releasectl(act, title, ("build",), expected_exit)
        released = [m.group(1) for line in step.lines if (m := _EXPORTED.match(line.strip()))]
        step.version = released[-1] if released else None
        if step.version != version:
            self._problem(step, f"the build released {step.version or 'nothing'}, expected {version}")
        self.say.ok(f"the build exported RELEASE_VERSION={step.version}")
        return step

    def _problem(self, step: Step, text: str) -> None:
        """Record what went wrong and end the story: later acts build on this one."""
        step.problems.append(text)
        raise DemoFailed(f"act {step.act} ({step.title}): {text}")

    # ------------------------------------------------------------------ checks

    def _alb(self, path: str) -> list[Answer]:
        url = self.sandbox.alb_url + path
        answers = [http_get(url) for _ in range(ALB_SAMPLES)]
        for answer in answers[:2]:
            target = f"  (task {answer.target[:8]})" if answer.target else ""
            self.say.say(f"  GET {url} via the sandbox ALB -> {answer.status} {answer.body}{target}", "cyan")
        return answers

    def _expect_alb(self, step: Step, version: str) -> None:
        expected = f"{GREETING} (version {version})"
        answers = self._alb("/")
        if any((a.status, a.body) != (200, expected) for a in answers):
            self._problem(step, f"the sandbox ALB answered {_shown(answers)}, expected {expected!r}")
        self.say.ok(f"all {len(answers)} requests answered {version}")
        step.checks.append(f"ALB answers {version}")

    def _expect_ping(self, step: Step, body: str) -> None:
        answers = self._alb("/ping")
        if any((a.status, a.body) != (200, body) for a in answers):
            self._problem(step, f"/ping answered {_shown(answers)}, expected {body!r}")
        step.checks.append(f"/ping answers {body!r}")

    def _expect_claimed(self, step: Step, version: str) -> str:
        """Read back through the sandbox endpoint what the build claimed: the version tag and the
        commit's `git-<sha>` tag on one image. Returns its digest."""
        commit = self.scratch.git("rev-parse", "HEAD")
        digest, tags = self._image(version)
        if f"git-{commit}" not in tags:
            self._problem(step, f"ECR's {version} is not tagged git-{commit[:12]} (its tags: {sorted(tags)})")
        self.say.ok(f"sandbox ECR: {version} and git-{commit[:12]} tag one image, {digest[:19]}…")
        step.checks.append(f"ECR holds {version} and git-{commit} on {digest}")
        return digest

    def _expect_running(self, step: Step, version: str) -> None:
        """The service's task definition pins `version`'s image by digest."""
        resources = self.sandbox.resources
        ecs = self.sandbox.clients().client("ecs")
        digest, _tags = self._image(version)
        service = ecs.describe_services(cluster=resources.ecs_cluster, services=[resources.ecs_service])
        arn = service["services"][0]["taskDefinition"]
        definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        images = [c["image"] for c in definition["containerDefinitions"]]
        if not any(image.endswith(f"@{digest}") for image in images):
            self._problem(step, f"the ECS service runs {images}, not {version} ({digest})")
        self.say.ok(f"sandbox ECS: the service runs {arn.rsplit('/', 1)[-1]}, pinned to {version}'s digest")
        step.checks.append(f"ECS service pinned to {version} ({digest})")

    def _image(self, version: str) -> tuple[str, set[str]]:
        found = (
            self.sandbox.clients()
            .client("ecr")
            .describe_images(
                repositoryName=self.sandbox.resources.ecr_repository, imageIds=[{"imageTag": version}]
            )["imageDetails"]
        )
        return str(found[0]["imageDigest"]), set(found[0].get("imageTags") or ())


_EXPORTED = re.compile(r"^RELEASE_VERSION=(\S+)$")


def _shown(answers: Sequence[Answer]) -> str:
    seen: dict[str, int] = {}
    for answer in answers:
        text = f"{answer.status} {answer.body or answer.target}".strip()
        seen[text] = seen.get(text, 0) + 1
    return "; ".join(f"{count} x {text!r}" for text, count in seen.items()) or "nothing"
