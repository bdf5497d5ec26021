"""Run a buildspec's phases on this machine with CodeBuild's phase transitions.

Commands run in releasectl.localbuild.shell's session (CodeBuild 0.2 state rules);
this module decides which commands and phases run, and what the build's outcome is.

Phase transitions (CodeBuild "Build phase transitions"): phases run in the order
install, pre_build, build, post_build. Within a phase the first failing command
skips the rest of `commands`; `finally` commands run anyway, and any failure fails
the phase. After a failed phase with on-failure ABORT (CodeBuild's default) the
build stops, except that post_build still runs after a failed build phase, with
CODEBUILD_BUILD_SUCCEEDING=0. With CONTINUE the next phase runs and the build still
ends FAILED. A timeout stops everything and the build ends TIMED_OUT. Exported
variables are read from the shell when the last phase has ended, whatever the outcome.

Output goes line by line to a callback as it happens, framed by the same
`[Container] ...` lines CodeBuild writes to its log.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from releasectl.core.clock import Clock
from releasectl.core.errors import EnvironmentProblem
from releasectl.localbuild.buildspec import Buildspec, BuildspecPhase
from releasectl.localbuild.shell import LineSink, ShellSession

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
TIMED_OUT = "TIMED_OUT"

__all__ = ["FAILED", "SUCCEEDED", "TIMED_OUT", "BuildRun", "LineSink", "PhaseRun", "run_buildspec"]


@dataclass
class PhaseRun:
    name: str
    status: str
    started_at: float
    ended_at: float
    failed_command: str | None = None
    exit_status: int | None = None
    # CodeBuild's phase context (batch_get_builds phases[].contexts[]): why the phase failed.
    context_code: str | None = None
    message: str | None = None

    @property
    def phase_type(self) -> str:
        return self.name.upper()

    @property
    def duration_s(self) -> float:
        return max(0.0, self.ended_at - self.started_at)


@dataclass
class BuildRun:
    status: str  # SUCCEEDED, FAILED or TIMED_OUT
    phases: list[PhaseRun]  # the phases that ran, in order
    skipped: list[str]  # the buildspec's phases that did not run
    exported: dict[str, str]  # env.exported-variables that were set at the end
    started_at: float
    ended_at: float

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    @property
    def failed_phase(self) -> PhaseRun | None:
        return next((p for p in self.phases if p.status != SUCCEEDED), None)

    @property
    def duration_s(self) -> float:
        return max(0.0, self.ended_at - self.started_at)


@dataclass
class _Failure:
    command: str
    status: int | None  # None: killed at the deadline
    timed_out: bool = False


def layered_env(spec: Buildspec, base_env: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """CodeBuild's precedence: the image's env < buildspec variables < project and start-build ones."""
    return {**base_env, **spec.variables, **overrides}


class _Runner:
    def __init__(self, spec: Buildspec, shell: ShellSession, clock: Clock, timeout_s: float | None) -> None:
        self.spec = spec
        self.shell = shell
        self.clock = clock
        self.timeout_s = timeout_s

    def run(self) -> BuildRun:
        started = self.clock.now()
        deadline = started + self.timeout_s if self.timeout_s else None
        phases: list[PhaseRun] = []
        skipped: list[str] = []
        stop = False
        for phase in self.spec.phases:
            if stop:
                skipped.append(phase.name)
                continue
            record = self._run_phase(phase, deadline)
            phases.append(record)
            if record.status == SUCCEEDED:
                continue
            self.shell.set_variable("CODEBUILD_BUILD_SUCCEEDING", "0")
            # post_build is the one phase CodeBuild still runs after a failed build phase.
            stop = record.status == TIMED_OUT or (phase.aborts and phase.name != "build")
        exported = self.shell.read_variables(self.spec.exported_variables)
        if any(p.status == TIMED_OUT for p in phases):
            status = TIMED_OUT
        elif any(p.status != SUCCEEDED for p in phases):
            status = FAILED
        else:
            status = SUCCEEDED
        return BuildRun(status, phases, skipped, exported, started, self.clock.now())

    def _run_phase(self, phase: BuildspecPhase, deadline: float | None) -> PhaseRun:
        say = self.shell.say
        record = PhaseRun(phase.name, SUCCEEDED, self.clock.now(), 0.0)
        say(f"[Container] Entering phase {phase.phase_type}")
        if phase.runtime_versions:
            wanted = ", ".join(f"{k}: {v}" for k, v in phase.runtime_versions.items())
            say(f"[Container] Skipping runtime-versions ({wanted}): a local build uses this machine's tools")
        if phase.run_as:
            say(f"[Container] Ignoring run-as {phase.run_as}: a local build runs as the current user")
        failure = self._run_block(phase.commands, deadline)
        if failure is None or not failure.timed_out:
            # finally runs whether or not commands failed; the first failure names the phase's cause.
            late = self._run_block(phase.finally_commands, deadline)
            if late is not None and (failure is None or late.timed_out):
                failure = late
        if failure is not None:
            record.failed_command, record.exit_status = failure.command, failure.status
            if failure.timed_out:
                record.status, record.context_code = TIMED_OUT, "BUILD_TIMED_OUT"
                record.message = f"Build timed out while running command: {failure.command}"
            else:
                record.status, record.context_code = FAILED, "COMMAND_EXECUTION_ERROR"
                record.message = (
                    f"Error while executing command: {failure.command}. Reason: exit status {failure.status}"
                )
        record.ended_at = self.clock.now()
        say(f"[Container] Phase complete: {phase.phase_type} State: {record.status}")
        if record.context_code:
            say(f"[Container] Phase context status code: {record.context_code} Message: {record.message}")
        return record

    def _run_block(self, commands: tuple[str, ...], deadline: float | None) -> _Failure | None:
        """Run commands in order until one fails; that one is returned."""
        say = self.shell.say
        for command in commands:
            status: int | None = None
            if deadline is None or self.clock.now() < deadline:
                first, *rest = command.splitlines() or [command]
                say(f"[Container] Running command {first}")
                for line in rest:
                    say(line)
                status = self.shell.run(command, deadline=deadline)
            if status is None:
                say(f"[Container] Build timed out after {self.timeout_s:g} seconds")
                return _Failure(command, None, timed_out=True)
            if status != 0:
                say(f"[Container] Command did not exit successfully {command} exit status {status}")
                return _Failure(command, status)
        return None


def run_buildspec(
    spec: Buildspec,
    *,
    workdir: Path,
    base_env: Mapping[str, str],
    overrides: Mapping[str, str],
    on_line: LineSink,
    clock: Clock,
    timeout_s: float | None = None,
) -> BuildRun:
    """Run every phase of `spec` in `workdir`; output goes line by line to `on_line` as it happens.

    base_env is the machine's environment (the build image's), overrides the
    project's and start_build's variables; the buildspec's own sit in between.
    """
    if spec.parameter_store or spec.secrets_manager:
        raise EnvironmentProblem(
            "buildspec env.parameter-store / env.secrets-manager cannot be resolved outside CodeBuild",
            hint="set those variables in the environment of the local build instead",
        )
    env = {"CODEBUILD_BUILD_SUCCEEDING": "1", **layered_env(spec, base_env, overrides)}
    bash = shutil.which("bash", path=env.get("PATH") or os.environ.get("PATH"))
    if bash is None:
        raise EnvironmentProblem(
            "bash was not found on PATH", hint="install bash; buildspec commands need it"
        )
    shell = ShellSession(
        bash=bash, workdir=workdir, env=env, on_line=on_line, clock=clock, posix=spec.shell == "/bin/sh"
    )
    with shell:
        run = _Runner(spec, shell, clock, timeout_s).run()
    if shell.sink_error is not None:
        raise shell.sink_error
    return run
