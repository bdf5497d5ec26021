"""The demo's story, act by act: what each step does, shows and expects.

Every command is the real CLI in a child process with the sandbox's environment; every
expectation is checked against what the command printed, its exit code, what the sandbox ALB
answers and, independently, what the sandbox's ECR and ECS hold (read through boto3). Each
release act is headed by the version and rule `releasectl version` reports for the commit, and
the release inside the build must agree with it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from releasectl_sandbox.demo.console import (
    AlbPoller,
    Answer,
    Feed,
    Narrator,
    compact,
    http_get,
    run_releasectl,
    verdicts_and_problems,
)
from releasectl_sandbox.demo.scratch import Scratch
from releasectl_sandbox.state import ID_ENV

# A quick, real subset of the project's tests for buildspec.yml's pre_build (UNIT_TESTS): the
# demo shows the gate working, not the whole suite's minutes. It leaves out tests/project/test_service.py
# on purpose: act 3's broken /healthz must get past unit tests to show the circuit breaker.
UNIT_TESTS = "tests/core/test_outcome.py"
# What the versioning rules must give; the headings say what `releasectl version` gave.
FIRST, SECOND, BROKEN, CANARY = "0.1.0", "0.1.1", "0.1.2", "0.1.3"
# The account the demo's prod lives in (moto serves an assumed role's requests from its account).
SECOND_ACCOUNT = "210987654321"
GREETING = "Hello from CI/CD!"
SERVICE = "service/hello_world.py"
HEALTHZ = 'if path == "/healthz":\n        return 200'
PING = '    if path == "/ping":\n        return 200, "text/plain; charset=utf-8", {body}\n'
COMMAND_TIMEOUT = 120.0  # seconds per command; far above what a step takes
ALB_SAMPLES = 4  # requests per check: round robin reaches both tasks twice
# Act 7: `/` answers 500 (its /healthz stays 200, so the tasks are healthy and get their share).
ROOT_OK = 'return 200, "text/plain; charset=utf-8", f"{GREETING}'
# service.toml's commented settings a canary needs (the platform stack has their outputs), and the
# canary's share and bake time: 10 sandbox minutes is far longer than the 5xx alarm takes.
CANARY_SETTINGS = (
    ("# alternate_target_group_arn", "alternate_target_group_arn"),
    ("# production_listener_rule_arn", "production_listener_rule_arn"),
    ("# test_listener_rule_arn", "test_listener_rule_arn"),
    ("# infrastructure_role_arn", "infrastructure_role_arn"),
    ("# canary_percent = 10", "canary_percent = 10"),
    ("# canary_bake_time = 3", "canary_bake_time = 10"),
)
CANARY_PERCENT = 10
MOST_NEVER_SAW_IT = 0.85  # the share of requests during the canary the bad version must not answer
CANARY_POLL_S = 0.01  # the demo's traffic during the canary: about a hundred requests a second


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
    rule: str | None = None  # as `releasectl version` reported it before the build
    outcome: str | None = None  # the command's verdict: succeeded, rolled_back, ...
    env: str | None = None  # the environment it acted on (None: the default one)
    alb: str | None = None  # the version the environment's ALB answered with afterwards
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
            "rule": self.rule,
            "outcome": self.outcome,
            "env": self.env,
            "alb": self.alb,
            "seconds": round(self.seconds, 3),
            "checks": self.checks,
            "problems": self.problems,
        }


@dataclass(frozen=True)
class VersionReport:
    next: str
    rule: str


class Story:
    def __init__(self, narrator: Narrator, scratch: Scratch, sandbox: Any, feed: Feed) -> None:
        self.say = narrator
        self.scratch = scratch
        self.sandbox = sandbox
        self.feed = feed
        self.steps: list[Step] = []
        self.ledger: dict[str, str] = {}  # version -> outcome, as `releasectl releases` lists it

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
        self.promotion()
        self.canary()
        self.summary()

    # ------------------------------------------------------------------ acts

    def prologue(self) -> None:
        self.say.ok(f"sandbox {self.sandbox.marker} is up")
        named = [e for e in self.sandbox.environments if e.name]
        if len(named) < 2 or self._promoted_to() is None:
            raise DemoFailed(
                "the project's config names no environment deployed `after` another "
                "([tool.releasectl.environments]); the demo promotes a release from one to the next"
            )
        first, *others = named
        where = [f"{first.name} in account {first.resources.account}"]
        where += [
            f"{e.name} in {e.resources.account}" + (" (role_arn)" if e.resources.role_arn else "")
            for e in others
        ]
        self.say.note(f"Environments: {'; '.join(where)}")
        answers = self._alb("/")
        if not all(a.status == 503 for a in answers):
            raise DemoFailed(f"before any release {first.name}'s ALB answered {_shown(answers)}")
        self.say.say(
            f"  GET / via {first.name}'s sandbox ALB -> 503: no service until a deploy makes it", "cyan"
        )

    def feature(self) -> None:
        self.scratch.edit(
            SERVICE,
            '    if path == "/healthz":\n',
            PING.format(body='b"pong\\n"') + '    if path == "/healthz":\n',
        )
        step = self._release(1, "A feature", "feat: add a /ping endpoint", FIRST, expected_exit=0)
        self._expect_alb(step, FIRST, ping="pong")
        self._expect_release(step, FIRST)

    def fix(self) -> None:
        self.scratch.edit(SERVICE, 'b"pong\\n"', 'f"pong from {VERSION}\\n".encode()')
        step = self._release(2, "A fix", "fix: say which version answers /ping", SECOND, expected_exit=0)
        self._expect_alb(step, SECOND, ping=f"pong from {SECOND}")
        self._expect_release(step, SECOND)

    def broken_release(self) -> None:
        self.scratch.edit(SERVICE, HEALTHZ, HEALTHZ.replace("return 200", "return 500"))
        with AlbPoller(self.sandbox.alb_url + "/") as poller:
            step = self._release(
                3,
                "A bad release",
                "refactor: simplify the /healthz handler",
                BROKEN,
                expected_exit=1,
                aside="(this commit makes /healthz answer 500; the ALB is polled all along from here)",
            )
            if step.outcome != "rolled_back":
                self._problem(step, "no `release: rolled_back` line in the build's output")
            step.checks.append("release reported rolled_back")
            if not self.sandbox.wait_until_steady(30):
                self._problem(step, "the service did not return to a steady state within 30 s")
        expected = f"{GREETING} (version {SECOND})"
        wrong = [a for a in poller.answers if (a.status, a.body) != (200, expected)]
        if not poller.answers or wrong:
            self._problem(step, f"during the bad rollout the ALB answered {_shown(wrong or poller.answers)}")
        self.say.ok(f"all {len(poller.answers)} requests during the bad rollout got {SECOND} from the ALB")
        step.checks.append(f"ALB answered {SECOND} throughout ({len(poller.answers)} requests)")
        self._expect_alb(step, SECOND)
        self._expect_release(step, BROKEN, running=SECOND)

    def rollback(self) -> None:
        self.say.act(4, f"An operator's rollback to the first version, {FIRST}")
        step = self._releasectl(4, "rollback --to the first version", ("rollback", "--to", FIRST), 0)
        step.version, step.rule = FIRST, f"rollback --to {FIRST}"
        self._expect_alb(step, FIRST)
        self._expect_running(step, FIRST)

    def tables(self) -> None:
        self.say.act(5, "What runs now, and the release ledger")
        status = self._releasectl(5, "status", ("--json", "status"), 0, show=_problems_only, quiet=True)
        found = _json_answer(status.lines)
        running, rollout = found.get("version"), found.get("rollout_state")
        if (running, rollout) != (FIRST, "COMPLETED"):
            self._problem(status, f"`releasectl status` says version {running}, rollout {rollout}")
        tasks = f"{found.get('running')}/{found.get('desired')} tasks"
        self.say.ok(f"`releasectl status`: version {running}, rollout {rollout}, {tasks} running")
        ledger = self._releasectl(5, "releases", ("--json", "releases"), 0, show=_problems_only, quiet=True)
        for release in _json_answer(ledger.lines).get("releases") or ():
            self.ledger[str(release.get("version"))] = str(release.get("outcome"))
        expected = {FIRST: "succeeded", SECOND: "succeeded", BROKEN: "rolled_back"}
        wrong = [f"{v} ({o})" for v, o in expected.items() if self.ledger.get(v) != o]
        if wrong:
            self._problem(ledger, f"`releasectl releases` does not list {', '.join(wrong)}")
        listed = ", ".join(f"{v} {o}" for v, o in expected.items())
        self.say.ok(f"`releasectl releases`: {listed}")

    def promotion(self) -> None:
        """A version staging did not succeed with is refused in prod, before anything changes there;
        after the approval, prod gets what staging runs, by the same digest."""
        staging, prod = self.sandbox.environment(), self._promoted_to()
        assert staging.name and prod is not None and prod.name
        self.say.act(6, f"Promotion: {staging.name} → {prod.name}")
        args = ("deploy", BROKEN, "--env", prod.name)
        refused = self._releasectl(6, f"deploy {BROKEN} to {prod.name}", args, 4, quiet=True)
        refused.version, refused.rule, refused.env = BROKEN, f"deploy --env {prod.name}", prod.name
        refused.outcome = "refused"
        said = [line for line in refused.lines if line.startswith("error:") and BROKEN in line]
        if not any(staging.name in line for line in said):
            self._problem(refused, f"no error line says {BROKEN} has not succeeded in {staging.name}")
        if self._service(prod) is not None:
            self._problem(refused, f"the refused deploy changed {prod.name}: its ECS service exists")
        refused.checks.append(f"refused before {prod.name} changed: it has no ECS service")
        self.say.ok(
            f"refused with exit 4: {staging.name} rolled {BROKEN} back; {prod.name} is untouched (no service)"
        )
        self.say.note(
            "Approval: on AWS the pipeline's manual approval action waits here for a person "
            "(CodePipeline); the sandbox has no pipeline, so the demo approves."
        )
        version = self._version_running(refused, staging)
        args = ("deploy", version, "--env", prod.name)
        step = self._releasectl(6, f"deploy {version} to {prod.name}", args, 0, show=_gate_and_verdicts)
        step.version, step.rule, step.env = version, f"deploy --env {prod.name}", prod.name
        self._expect_alb(step, version, env=prod)
        ours, theirs = self._image_running(step, staging), self._image_running(step, prod)
        if ours[1] != theirs[1]:
            self._problem(step, f"{prod.name} runs {theirs[1]}, {staging.name} runs {ours[1]}")
        step.checks.append(f"{prod.name} and {staging.name} run one digest: {ours[1]}")
        self.say.ok(f"{staging.name} and {prod.name} run one image: {compact(ours[1])} ({theirs[0]})")

    def canary(self) -> None:
        """A release whose `/` answers 500 (its /healthz is fine, so its tasks turn healthy) goes
        out as a canary: ECS gives it 10 % of production traffic, the 5xx alarm fires on what
        the load balancer sees, and ECS rolls it back. The demo sends requests all along and
        counts, by the version that answered, how many ever reached it."""
        staging = self.sandbox.environment()
        # Act 3's /healthz is fixed first: this release's tasks must turn healthy to get traffic.
        self.scratch.edit(SERVICE, HEALTHZ.replace("return 200", "return 500"), HEALTHZ)
        fixed = "fix: /healthz answers 200 again"
        self._commit(fixed)
        for old, new in CANARY_SETTINGS:
            self.scratch.edit("service.toml", old, new)
        self._commit("chore: staging can take canaries")
        self.scratch.edit(SERVICE, ROOT_OK, ROOT_OK.replace("200", "500", 1))
        broken = "perf: build the greeting once"
        self._commit(broken)
        self.scratch.push()
        report = self._version_report(7)
        self.say.act(7, f"A canary → {report.next} (`releasectl version`: {report.rule})")
        self.say.command(f"git commit -am {fixed!r} && git commit -am {broken!r} && git push")
        self.say.note(
            f"(the second commit makes / answer 500; service.toml gains the load balancer settings a "
            f"canary needs, {CANARY_PERCENT} % first)"
        )
        # The build and release of the other acts happened in CodeBuild's clone: its git tags are
        # not here, which `release` warns about; the full log keeps the warning.
        released = self._releasectl(
            7, "release --no-deploy", ("release", "--no-deploy"), 0, show=_verdicts_and_errors, quiet=True
        )
        version = next(
            (
                m.group(1)
                for line in released.lines
                if (m := re.match(r"^releasing \S+ as (\S+) ", line.strip()))
            ),
            None,
        )
        if (report.next, version) != (CANARY, CANARY):
            self._problem(
                released,
                f"`releasectl version` said {report.next} and the release claimed {version or 'nothing'}; "
                f"the rules give {CANARY}",
            )
        self.say.ok(f"{CANARY} built and claimed in {released.seconds:.1f} s, not deployed yet")
        running = self._version_running(released, staging)
        args = ("deploy", CANARY, "--strategy", "canary")
        with AlbPoller(staging.alb_url + "/", interval=CANARY_POLL_S) as poller:
            step = self._releasectl(7, "deploy --strategy canary", args, 1)
        step.version, step.rule = CANARY, "deploy --strategy canary"
        if step.outcome != "rolled_back":
            self._problem(step, "no `deploy: rolled_back` line in its output")
        alarm = staging.outputs.get("Target5xxAlarm", "")
        if not any(alarm and alarm in line for line in step.lines):
            self._problem(step, f"the deploy did not say the alarm {alarm} rolled it back")
        step.checks.append(f"rolled back by the alarm {alarm}")
        self._canary_split(step, poller.answers, running)
        self._expect_alb(step, running)

    def _canary_split(self, step: Step, answers: Sequence[Answer], running: str) -> None:
        """Count the answers the load balancer gave during the canary by the version that gave
        them; at most 15 % may come from the bad one."""
        by_version: dict[str, list[Answer]] = {}
        for answer in answers:
            found = re.search(r"\(version ([^)]+)\)", answer.body)
            by_version.setdefault(found.group(1) if found else f"no version ({answer.status})", []).append(
                answer
            )
        total = len(answers)
        bad = len(by_version.get(CANARY, []))
        good = len(by_version.get(running, []))
        parts = [
            f"{version} {len(got)} ({100 * len(got) / total:.1f} %"
            + (f", all {got[0].status}" if {a.status for a in got} == {got[0].status} else "")
            + ")"
            for version, got in sorted(by_version.items(), key=lambda item: -len(item[1]))
        ]
        self.say.say(f"  {total} requests via the sandbox ALB during the canary: {', '.join(parts)}", "cyan")
        if not total or bad == 0 or good + bad != total:
            self._problem(step, f"during the canary the ALB answered {', '.join(parts) or 'nothing'}")
        if good < MOST_NEVER_SAW_IT * total:
            self._problem(
                step, f"{bad} of {total} requests reached {CANARY}: the canary let through too many"
            )
        step.checks.append(f"{good} of {total} requests never reached {CANARY}")
        share = f"{100 * good / total:.0f} %"
        self.say.ok(
            f"caught at {CANARY_PERCENT} %: {share} of the requests sent during it never saw {CANARY}"
        )

    def _commit(self, message: str) -> None:
        for line in self.scratch.commit(message).splitlines():
            self.say.detail(f"git: {line}")

    def _version_running(self, step: Step, env: Any) -> str:
        """The release of the story the environment's service runs, found by its digest."""
        _revision, digest = self._image_running(step, env)
        found = [v for v in (FIRST, SECOND, BROKEN) if self._image(v)[0] == digest]
        if not found:
            self._problem(step, f"{env.name} runs {digest}, which is no release of the story")
        return found[0]

    def summary(self) -> None:
        """The closing table: each version shipped, where, by which rule, and how it ended."""
        default = str(self.sandbox.environment().name or "")
        rows = [("act", "env", "version", "how", "exit", "outcome", "ALB then")]
        for step in self.steps:
            if step.version is None:
                continue
            outcome = self.ledger.get(step.version, step.outcome or "") if step.act <= 3 else step.outcome
            rows.append(
                (
                    str(step.act),
                    step.env or default,
                    step.version,
                    step.rule or "",
                    str(step.exit_code),
                    outcome or "",
                    step.alb or "",
                )
            )
        self.say.say()
        self.say.say("── Summary: versions and outcomes", "bold")
        for line in _table(rows, self.say.width - 2):
            self.say.say(f"  {line}", "bold" if line.startswith("act") else "")

    # ------------------------------------------------------------------ steps

    def _release(
        self,
        act: int,
        title: str,
        message: str,
        expected: str,
        *,
        expected_exit: int,
        aside: str | None = None,
    ) -> Step:
        """Commit, ask `releasectl version` what this commit becomes, then `releasectl build`."""
        for line in self.scratch.commit(message).splitlines():
            self.say.detail(f"git: {line}")
        self.scratch.push()
        report = self._version_report(act)
        self.say.act(act, f"{title} → {report.next} (`releasectl version`: {report.rule})")
        self.say.command(f"git commit -am {message!r} && git push")
        if aside:
            self.say.note(aside)
        step = self._releasectl(act, f"{title.lower()}, {message!r}", ("build",), expected_exit, quiet=True)
        step.rule = report.rule
        released = [m.group(1) for line in step.lines if (m := _EXPORTED.match(line.strip()))]
        step.version = released[-1] if released else None
        step.outcome = next(
            (m.group(1) for line in step.lines if (m := re.match(r"^release: (\w+)", line.strip()))), None
        )
        if (report.next, step.version) != (expected, expected):
            self._problem(
                step,
                f"`releasectl version` said {report.next} and the build released "
                f"{step.version or 'nothing'}; the rules give {expected}",
            )
        releasing = [m.groups() for line in step.lines if (m := _RELEASING.match(line.strip()))]
        if releasing and releasing[-1] != (report.next, report.rule):
            self._problem(step, f"the release said {releasing[-1]}, `releasectl version` said {report}")
        self.say.ok(
            f"`releasectl build` exited {step.exit_code} after {step.seconds:.1f} s, as expected: "
            f"{step.version} {step.outcome}"
        )
        return step

    def _version_report(self, act: int) -> VersionReport:
        """`releasectl --json version` in the copy: the version this commit becomes, and why."""
        argv = [sys.executable, "-m", "releasectl", "--json", "version"]
        proc = subprocess.run(
            argv, cwd=self.scratch.repo, env=self.env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
        )
        for line in proc.stderr.splitlines():
            self.say.detail(f"releasectl version: {line}")
        self.say.detail(f"releasectl version: {proc.stdout.strip()}")
        try:
            found = json.loads(proc.stdout)
            return VersionReport(str(found["next"]), str(found["rule"]))
        except (ValueError, KeyError, TypeError):
            raise DemoFailed(
                f"act {act}: `releasectl version` exited {proc.returncode} without a version report: "
                f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}"
            ) from None

    def _releasectl(
        self,
        act: int,
        title: str,
        args: Sequence[str],
        expected_exit: int,
        *,
        show: Callable[[str], bool] = verdicts_and_problems,
        quiet: bool = False,
    ) -> Step:
        step = Step(act, title, tuple(args), expected_exit)
        self.steps.append(step)
        self.say.command("releasectl " + " ".join(args))
        on_line = self.feed.command(show)
        ran = run_releasectl(
            args, cwd=self.scratch.repo, env=self.env, on_line=on_line, timeout=COMMAND_TIMEOUT
        )
        step.exit_code, step.seconds, step.lines = ran.code, ran.seconds, ran.lines
        verdict = next((m for line in ran.lines if (m := _COMMAND_VERDICT.match(line.strip()))), None)
        if verdict is not None and step.outcome is None:
            step.outcome = verdict.group(1)
        if ran.timed_out:
            self._problem(
                step, f"`releasectl {' '.join(args)}` was still running after {COMMAND_TIMEOUT:g} s"
            )
        elif ran.code != expected_exit:
            self._problem(step, f"`releasectl {' '.join(args)}` exited {ran.code}, expected {expected_exit}")
        elif not quiet:
            said = f"`releasectl {' '.join(args)}` exited {ran.code} after {ran.seconds:.1f} s, as expected"
            self.say.ok(said)
        return step

    def _problem(self, step: Step, text: str) -> None:
        """Record what went wrong and end the story: later acts build on this one."""
        step.problems.append(text)
        raise DemoFailed(f"act {step.act} ({step.title}): {text}")

    # ------------------------------------------------------------------ checks

    def _alb(self, path: str, *, show: int = 0, env: Any = None) -> list[Answer]:
        url = (env.alb_url if env is not None else self.sandbox.alb_url) + path
        answers = [http_get(url) for _ in range(ALB_SAMPLES)]
        for answer in answers[:show]:
            self.say.say(f"  GET {path} via the sandbox ALB -> {answer.status} {answer.body}", "cyan")
        for answer in answers[show:]:
            self.say.detail(f"GET {url} via the sandbox ALB -> {answer.status} {answer.body} {answer.target}")
        return answers

    def _expect_alb(self, step: Step, version: str, *, ping: str | None = None, env: Any = None) -> None:
        expected = f"{GREETING} (version {version})"
        answers = self._alb("/", env=env)
        alb = f"{env.name}'s ALB" if env is not None else "the sandbox ALB"
        if any((a.status, a.body) != (200, expected) for a in answers):
            self._problem(step, f"{alb} answered {_shown(answers)}, expected {expected!r}")
        step.checks.append(f"{alb} answers {version}")
        step.alb = version
        said = f"{alb} answered {version} to all {len(answers)} requests"
        if ping is not None:
            pinged = self._alb("/ping")
            if any((a.status, a.body) != (200, ping) for a in pinged):
                self._problem(step, f"/ping answered {_shown(pinged)}, expected {ping!r}")
            step.checks.append(f"/ping answers {ping!r}")
            said += f"; /ping: {ping!r}"
        self.say.ok(said)

    def _expect_release(self, step: Step, version: str, *, running: str | None = None) -> None:
        """Read back through the sandbox endpoint what the build claimed (the version tag and the
        commit's `git-<sha>` tag on one image) and what the service runs (by digest)."""
        commit = self.scratch.git("rev-parse", "HEAD")
        digest, tags = self._image(version)
        if f"git-{commit}" not in tags:
            self._problem(step, f"ECR's {version} is not tagged git-{commit[:12]} (its tags: {sorted(tags)})")
        step.checks.append(f"ECR holds {version} and git-{commit} on {digest}")
        revision = self._running(step, running or version)
        runs = f", run by {revision}" if running is None else f"; ECS still runs {running}"
        self.say.ok(f"ECR tags {version} and git-{commit[:12]} one image{runs}")

    def _expect_running(self, step: Step, version: str) -> None:
        revision = self._running(step, version)
        self.say.ok(f"ECS: the service runs {revision}, pinned to {version}'s digest")

    def _running(self, step: Step, version: str) -> str:
        """The default environment's service pins `version`'s image by digest; its family:revision."""
        digest, _tags = self._image(version)
        revision, running = self._image_running(step, self.sandbox.environment())
        if running != digest:
            self._problem(step, f"the ECS service runs {running}, not {version} ({digest})")
        step.checks.append(f"ECS service pinned to {version} ({digest})")
        return revision

    def _service(self, env: Any) -> dict[str, Any] | None:
        """The environment's ECS service as ECS describes it (in its account), or None."""
        ecs = env.clients().client("ecs")
        found = ecs.describe_services(cluster=env.resources.cluster, services=[env.resources.service])
        services = [s for s in found["services"] if s.get("status") == "ACTIVE"]
        return dict(services[0]) if services else None

    def _image_running(self, step: Step, env: Any) -> tuple[str, str]:
        """(family:revision, image digest) of the container the environment's service runs."""
        service = self._service(env)
        if service is None:
            self._problem(step, f"{env.name or 'the sandbox'} has no ECS service")
        assert service is not None
        arn = str(service["taskDefinition"])
        ecs = env.clients().client("ecs")
        definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        name = self.sandbox.resources.container_name
        images = [str(c["image"]) for c in definition["containerDefinitions"] if c["name"] == name]
        if not images or "@" not in images[0]:
            self._problem(step, f"{arn} runs {images}, not an image pinned by digest")
        return arn.rsplit("/", 1)[-1], images[0].rsplit("@", 1)[1]

    def _promoted_to(self) -> Any:
        """The environment deployed after the default one (prod after staging), or None."""
        first = self.sandbox.environment().name
        environments = self.sandbox.config.environments
        return next(
            (self.sandbox.environment(n) for n, e in environments.items() if first and e.after == first), None
        )

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
_RELEASING = re.compile(r"^releasing \S+ as (\S+) \((.*)\), attempt \d+$")
_COMMAND_VERDICT = re.compile(r"^(?:build|rollback|deploy): (\w+)")


def _json_answer(lines: Sequence[str]) -> dict[str, Any]:
    """The one JSON object a `--json` command printed (its stderr lines are around it)."""
    text = "\n".join(lines)
    start = text.find("{")
    try:
        found, _end = json.JSONDecoder().raw_decode(text[start:]) if start >= 0 else ({}, 0)
    except ValueError:
        return {}
    return dict(found) if isinstance(found, dict) else {}


def _verdicts_and_errors(line: str) -> bool:
    return line.startswith("error:") or (verdicts_and_problems(line) and not line.startswith("warning:"))


def _problems_only(line: str) -> bool:
    return line.startswith(("warning:", "error:"))


def _gate_and_verdicts(line: str) -> bool:
    """A deploy to a gated environment: what the gate found, then the verdict."""
    return line.startswith("gate:") or verdicts_and_problems(line)


def _table(rows: Sequence[Sequence[str]], width: int) -> list[str]:
    """Rows as aligned columns; the widest column is cut to fit `width` if it must."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    over = sum(widths) + 2 * (len(widths) - 1) - width
    if over > 0:
        widest = widths.index(max(widths))
        widths[widest] = max(4, widths[widest] - over)
    lines = []
    for row in rows:
        cells = [cell if len(cell) <= w else cell[: w - 1] + "…" for cell, w in zip(row, widths, strict=True)]
        lines.append("  ".join(f"{cell:<{w}}" for cell, w in zip(cells, widths, strict=True)).rstrip())
    return lines


def _shown(answers: Sequence[Answer]) -> str:
    seen: dict[str, int] = {}
    for answer in answers:
        text = f"{answer.status} {answer.body or answer.target}".strip()
        seen[text] = seen.get(text, 0) + 1
    return "; ".join(f"{count} x {text!r}" for text, count in seen.items()) or "nothing"
