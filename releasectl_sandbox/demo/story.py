"""`releasectl demo`: the whole pipeline on this machine, against a sandbox of its own.

In a scratch copy of this project (releasectl_sandbox.demo.scratch) with an in-process sandbox (moto
plus the CodeBuild, ECS and ALB simulators of releasectl_sandbox), every step runs the real
`releasectl` CLI in a child process:

  1. `feat:` commit, `releasectl build`: the sandbox's CodeBuild runs buildspec.yml, which runs
     `releasectl release`: the version `releasectl version` reported, built, claimed in ECR and
     deployed to ECS;
  2. `fix:` commit, the same path: a patch;
  3. a commit that breaks /healthz: released and deployed, ECS's circuit breaker rolls it back,
     releasectl reports `rolled_back` and the build fails, while the ALB keeps answering;
  4. `releasectl rollback --to` the first version;
  5. `releasectl status` and `releasectl releases`;
  6. the promotion to the environment deployed after the first (prod after staging): the bad
     release is refused there with exit 4, since staging rolled it back; after the approval (on
     AWS the pipeline's manual approval action) prod gets what staging runs, by the same digest;
     then a table of the versions, environments and outcomes.

Acts 1 to 5 act on the default environment (staging), whose ECS service the first release
creates from service.toml; prod's is created by the promotion.

The terminal shows the story (releasectl_sandbox.demo.console): a line per build phase with its
duration, the release's verdicts, the deployments, each in the order it happened, fitted to the
terminal's width. Everything, every build log line and every sandbox line, goes to a log file the
demo names at the start and at the end; --verbose shows it on the terminal as well.

Each step's outcome is checked (exit codes, versions, what the ALB answers, what ECR holds);
the demo stops at the first surprise, says which, and exits 1. Ctrl-C stops the sandbox and
every process started, and exits 130.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from releasectl.commands.context import Context
from releasectl.commands.output import write_json
from releasectl.core.errors import ReleasectlError
from releasectl_sandbox.demo.acts import DemoFailed, Story
from releasectl_sandbox.demo.console import Feed, Narrator


def _require_test_tools() -> None:
    """The sandbox's CodeBuild runs the buildspec's unit tests with this environment's Python."""
    import importlib.util

    missing = [name for name in ("pytest", "hypothesis") if importlib.util.find_spec(name) is None]
    if missing:
        from releasectl.core.errors import EnvironmentProblem

        raise EnvironmentProblem(
            f"the demo's builds run the project's unit tests, and {', '.join(missing)} is not installed",
            hint="run `make demo`, or pip install -e '.[demo]'",
        )


def run_demo(ctx: Context, *, record: Path | None, verbose: bool = False) -> int:
    """Run the story; 0 if every step behaved as expected, 1 if one did not, 130 if interrupted."""
    import tempfile

    from releasectl_sandbox.demo.scratch import Scratch, clean_environment, find_project

    started = time.monotonic()
    # The full log outlives the scratch copy: it is what a viewer reads after the story.
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - open for the whole run, closed below
        "w", prefix="releasectl-demo-", suffix=".log", delete=False, encoding="utf-8"
    )
    narrator = Narrator(
        sys.stderr if ctx.json_output else sys.stdout,
        record=record is not None,
        verbose=verbose or ctx.verbose,
        log=log,
    )
    feed = Feed(narrator)
    story: Story | None = None
    scratch: Scratch | None = None
    sandbox: Any = None
    leftovers: list[int] = []
    code, message = 1, ""
    with _interrupt_on_sigterm():
        try:
            project = find_project(ctx.cwd)
            _require_test_tools()
            narrator.say(
                "releasectl demo: the whole pipeline, locally, against the releasectl sandbox", "bold"
            )
            narrator.note(
                "The sandbox: moto on 127.0.0.1 plus CodeBuild, ECS and ALB simulators; no AWS account, "
                "nothing leaves this machine; all it fakes says 'sandbox'."
            )
            # The hint first: where the line wraps, it wraps before the path, which stays whole to copy.
            narrator.note(f"Full log (--verbose shows it here): {log.name}")
            scratch = Scratch(clean_environment())
            copied = scratch.populate(project)
            narrator.note(f"Scratch copy of {project.name!r} ({copied} tracked files) -> {scratch.repo}")
            _deploy_role_in_a_second_account(scratch, narrator)
            sandbox = _sandbox(scratch, narrator, feed)
            story = Story(narrator, scratch, sandbox, feed)
            sandbox.start()
            story.run()
            code, message = 0, f"all {len(story.steps)} steps behaved as expected"
        except KeyboardInterrupt:
            code, message = 130, "interrupted: stopping the sandbox and every process it started"
            narrator.fail(message)
        except DemoFailed as exc:
            code, message = 1, str(exc)
            narrator.fail(f"unexpected: {message}")
        except ReleasectlError as exc:
            code, message = int(exc.exit_code), exc.one_line()
            narrator.fail(message)
        finally:
            with _ignoring_interrupts():
                leftovers = _shut_down(narrator, sandbox, scratch)
    if leftovers and code == 0:
        code, message = 1, f"processes left running after the sandbox stopped: {leftovers}"
        narrator.fail(message)
    seconds = time.monotonic() - started
    steps = story.steps if story is not None else []
    if code == 0:
        narrator.say(f"✓ demo succeeded in {seconds:.0f} s: {message}", "bold green")
    else:
        narrator.say(f"✗ demo {'interrupted' if code == 130 else 'failed'} after {seconds:.0f} s", "bold red")
    narrator.note(f"Full log: {log.name}")
    if record is not None:
        narrator.save_svg(record)
        narrator.note(f"recorded to {record}")
    log.close()
    if ctx.json_output:
        write_json(
            {
                "command": "demo",
                "outcome": "succeeded" if code == 0 else "interrupted" if code == 130 else "failed",
                "message": message,
                "duration_s": round(seconds, 3),
                "log": log.name,
                "sandbox": {
                    "id": getattr(sandbox, "marker", None),
                    "endpoint": getattr(sandbox, "endpoint", None) or None,
                    "alb_url": getattr(sandbox, "alb_url", None) or None,
                },
                "steps": [step.to_json() for step in steps],
                "leftover_processes": leftovers,
            }
        )
    return code


def _deploy_role_in_a_second_account(scratch: Any, narrator: Narrator) -> None:
    """Give the copy's promoted environment (prod) a deploy role in an account of its own, as prod
    runs on AWS (infra/releasectl.yaml's prod stack and its DeployRole); the sandbox then makes prod
    in that account, and `releasectl deploy --env prod` assumes the role to reach it. The
    repository itself names no account."""
    import tomlkit

    from releasectl_sandbox.demo.acts import SECOND_ACCOUNT

    path = scratch.repo / "pyproject.toml"
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    environments = document.get("tool", {}).get("releasectl", {}).get("environments", {})
    promoted = [name for name, env in environments.items() if env.get("after")]
    if not promoted or environments[promoted[0]].get("role_arn"):
        return  # nothing to promote to (the story says so), or the project chose its own account
    name = promoted[0]
    service = environments[name].get("service", "app")
    role = f"arn:aws:iam::{SECOND_ACCOUNT}:role/{service}-{name}-deploy"
    environments[name]["role_arn"] = role
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    scratch.git("commit", "--quiet", "-am", f"chore: {name} deploys through a role of its own account")
    scratch.push()
    narrator.detail(f"The copy's {name} deploys in account {SECOND_ACCOUNT} through role_arn {role}.")


def _sandbox(scratch: Any, narrator: Narrator, feed: Feed) -> Any:
    from releasectl.core.config import load_config
    from releasectl_sandbox.demo.acts import UNIT_TESTS
    from releasectl_sandbox.sandbox import Sandbox

    # The real pipeline runs the whole suite; the demo's builds a quick subset.
    narrator.note(f"Build tests: UNIT_TESTS={UNIT_TESTS!r} (a subset)")
    return Sandbox(
        scratch.repo,
        config=load_config(env={}, cwd=scratch.repo),  # the copy's own names, not the caller's
        state_dir=scratch.state,
        env_file=None,
        # Unbuffered: a build's `releasectl release` writes each line when it happens, so the story
        # tells it before the deployment it leads to.
        # Two test files need no worker processes: starting them would cost each build seconds.
        build_env={"UNIT_TESTS": UNIT_TESTS, "TEST_WORKERS": "0", "PYTHONUNBUFFERED": "1"},
        announce=feed.sandbox,
        on_build_log=feed.build_log,
    )


def _shut_down(narrator: Narrator, sandbox: Any, scratch: Any) -> list[int]:
    """Stop the sandbox (every build, task and server), then say whether anything survived."""
    from releasectl_sandbox.state import processes_with_marker

    leftovers: list[int] = []
    narrator.say()
    if sandbox is not None:
        narrator.detail("Stopping the sandbox: its builds, task processes, ALB and moto server.")
        narrator.quiet_sandbox = True
        sandbox.stop()
        leftovers = processes_with_marker(sandbox.marker)
        if not leftovers:
            narrator.ok(f"sandbox {sandbox.marker[:8]} stopped: no process it started is left")
    if scratch is not None:
        scratch.remove()
    return leftovers


@contextlib.contextmanager
def _interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM ends the demo the way Ctrl-C does: orderly, with everything stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    """A second Ctrl-C while shutting down would leave processes behind: finish the job first."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
