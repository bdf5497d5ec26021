"""The buildspec runner: CodeBuild 0.2 shell semantics and phase transitions, on tiny buildspecs."""

from __future__ import annotations

import json
import os
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from releasectl.core.clock import Clock, FakeClock, SystemClock
from releasectl.core.errors import EnvironmentProblem
from releasectl.localbuild.buildspec import parse_buildspec
from releasectl.localbuild.runner import FAILED, SUCCEEDED, TIMED_OUT, BuildRun, run_buildspec


@dataclass
class TickingClock:
    """Moves one second every time it is read: durations become exact counts of readings."""

    t: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def now(self) -> float:
        self.t += 1.0
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@dataclass
class Result:
    run: BuildRun
    lines: list[str]

    @property
    def output(self) -> list[str]:
        """What the commands printed, without the runner's [Container] lines."""
        return [line for line in self.lines if not line.startswith("[Container]")]

    def phase(self, name: str) -> str:
        return next(p.status for p in self.run.phases if p.name == name)


def build(
    tmp_path: Path,
    yaml_text: str,
    *,
    overrides: dict[str, str] | None = None,
    base_env: dict[str, str] | None = None,
    clock: Clock | None = None,
    timeout_s: float | None = 60,
    on_line: Callable[[str], None] | None = None,
) -> Result:
    """Run the buildspec in tmp_path/src; every line is kept, and also passed to `on_line` if given."""
    spec = parse_buildspec(textwrap.dedent(yaml_text))
    workdir = tmp_path / "src"
    workdir.mkdir(exist_ok=True)
    lines: list[str] = []

    def sink(line: str) -> None:
        lines.append(line)
        if on_line is not None:
            on_line(line)

    run = run_buildspec(
        spec,
        workdir=workdir,
        base_env=dict(os.environ) if base_env is None else base_env,
        overrides=overrides or {},
        on_line=sink,
        clock=clock or SystemClock(),
        timeout_s=timeout_s,
    )
    return Result(run, lines)


def build_phase(*commands: str) -> str:
    """A buildspec whose only phase is `build`, running `commands` (each quoted, so taken as is)."""
    return "version: 0.2\nphases:\n  build:\n    commands:\n" + "".join(
        f"      - {json.dumps(command)}\n" for command in commands
    )


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for its reaper."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z")


FOUR_PHASES = """\
    version: 0.2
    phases:
      install:
        commands: [echo install]
      pre_build:
        commands: [echo pre_build]
      build:
        commands: [echo build]
      post_build:
        commands: [echo post_build]
"""


def test_phases_run_in_codebuild_order(tmp_path: Path) -> None:
    result = build(tmp_path, FOUR_PHASES)
    assert result.output == ["install", "pre_build", "build", "post_build"]
    assert result.run.status == SUCCEEDED


def test_each_phase_is_announced_and_completed_like_codebuild_logs(tmp_path: Path) -> None:
    result = build(tmp_path, FOUR_PHASES)
    framing = [line for line in result.lines if line.startswith("[Container] ") and "phase" in line.lower()]
    assert framing[:2] == [
        "[Container] Entering phase INSTALL",
        "[Container] Phase complete: INSTALL State: SUCCEEDED",
    ]
    assert framing[-1] == "[Container] Phase complete: POST_BUILD State: SUCCEEDED"


def test_shell_variables_persist_across_commands_and_phases(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """\
        version: 0.2
        phases:
          install:
            commands:
              - NOT_EXPORTED="a b"
          build:
            commands:
              - echo "[$NOT_EXPORTED]"
        """,
    )
    assert result.output == ["[a b]"]


def test_exported_variables_reach_child_processes_of_later_commands(tmp_path: Path) -> None:
    result = build(tmp_path, build_phase('export FOR_CHILD="it\'s here"', """bash -c 'echo "$FOR_CHILD"'"""))
    assert result.output == ["it's here"]


def test_working_directory_persists_across_commands_and_phases(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """\
        version: 0.2
        phases:
          install:
            commands:
              - mkdir -p deeper/still && cd deeper
              - cd still
          build:
            commands:
              - pwd
        """,
    )
    assert result.output == [str(tmp_path / "src" / "deeper" / "still")]


def test_commands_start_in_the_working_directory(tmp_path: Path) -> None:
    result = build(tmp_path, build_phase("pwd"))
    assert result.output == [str(tmp_path / "src")]


def test_unset_variable_stays_unset_in_later_commands(tmp_path: Path) -> None:
    result = build(
        tmp_path, build_phase("unset FROM_ENV", 'echo "${FROM_ENV-gone}"'), overrides={"FROM_ENV": "present"}
    )
    assert result.output == ["gone"]


def test_commands_read_no_stdin(tmp_path: Path) -> None:
    result = build(tmp_path, build_phase("cat", "echo after"))
    assert result.output == ["after"]


def test_stderr_is_part_of_the_output(tmp_path: Path) -> None:
    result = build(tmp_path, build_phase("echo oops >&2"))
    assert result.output == ["oops"]


def test_multi_line_command_runs_as_one_script_whose_status_is_the_last_line(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """\
        version: 0.2
        phases:
          build:
            commands:
              - |
                false
                echo second line
        """,
    )
    assert result.run.status == SUCCEEDED
    assert "second line" in result.output


def test_failing_pre_build_command_fails_the_build_and_skips_later_phases(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """\
        version: 0.2
        phases:
          install:
            commands: [echo install]
          pre_build:
            on-failure: ABORT
            commands:
              - echo before
              - exit 7
              - echo not reached
          build:
            commands: [echo build]
          post_build:
            commands: [echo post_build]
        """,
    )
    assert result.run.status == FAILED
    assert result.output == ["install", "before"]
    assert [(p.name, p.status) for p in result.run.phases] == [("install", SUCCEEDED), ("pre_build", FAILED)]
    assert result.run.skipped == ["build", "post_build"]


def test_failed_phase_records_the_command_and_its_exit_status(tmp_path: Path) -> None:
    result = build(tmp_path, "version: 0.2\nphases:\n  pre_build:\n    commands: ['exit 7']\n")
    failed = result.run.failed_phase
    assert failed is not None
    assert (failed.name, failed.failed_command, failed.exit_status) == ("pre_build", "exit 7", 7)
    assert failed.context_code == "COMMAND_EXECUTION_ERROR"
    assert "[Container] Phase complete: PRE_BUILD State: FAILED" in result.lines


def test_failing_install_skips_every_later_phase_including_post_build(tmp_path: Path) -> None:
    result = build(tmp_path, FOUR_PHASES.replace("[echo install]", "[false]"))
    assert result.run.status == FAILED
    assert result.output == []
    assert result.run.skipped == ["pre_build", "build", "post_build"]


def test_post_build_still_runs_after_a_failed_build_phase(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """\
        version: 0.2
        phases:
          build:
            on-failure: ABORT
            commands: [false]
          post_build:
            commands: ['echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"']
        """,
    )
    assert result.run.status == FAILED
    assert result.output == ["succeeding=0"]
    assert [(p.name, p.status) for p in result.run.phases] == [("build", FAILED), ("post_build", SUCCEEDED)]


def test_build_succeeding_is_1_while_nothing_has_failed(tmp_path: Path) -> None:
    result = build(tmp_path, build_phase("echo $CODEBUILD_BUILD_SUCCEEDING"))
    assert result.output == ["1"]


def test_on_failure_continue_runs_the_next_phase_but_the_build_still_fails(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """\
        version: 0.2
        phases:
          pre_build:
            on-failure: CONTINUE
            commands: [false]
          build:
            commands: [echo build ran]
        """,
    )
    assert result.output == ["build ran"]
    assert result.run.status == FAILED
    assert result.phase("build") == SUCCEEDED


def test_finally_runs_after_a_failing_command(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """\
        version: 0.2
        phases:
          build:
            commands:
              - STATE=set-before-failure
              - false
              - echo skipped
            finally:
              - echo "finally sees $STATE"
        """,
    )
    assert result.output == ["finally sees set-before-failure"]
    assert result.phase("build") == FAILED


def test_failing_finally_command_fails_the_phase(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """\
        version: 0.2
        phases:
          build:
            commands: [echo ok]
            finally: ['exit 4', echo not reached]
        """,
    )
    assert result.phase("build") == FAILED
    assert result.output == ["ok"]


def test_exit_in_a_command_fails_it_but_keeps_the_state_for_later_phases(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """\
        version: 0.2
        phases:
          build:
            commands:
              - KEPT=yes; exit 3
          post_build:
            commands: ['echo "kept=$KEPT"']
        """,
    )
    assert result.phase("build") == FAILED
    assert result.output == ["kept=yes"]


def test_exported_variables_are_read_from_the_shell_at_the_end(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """\
        version: 0.2
        env:
          exported-variables: [RELEASE_VERSION, IMAGE_URI, NEVER_SET]
        phases:
          build:
            commands:
              - RELEASE_VERSION=1.2.3
              - export IMAGE_URI='repo@sha256:abc with "quotes" and spaces'
        """,
    )
    assert result.run.exported == {
        "RELEASE_VERSION": "1.2.3",
        "IMAGE_URI": 'repo@sha256:abc with "quotes" and spaces',
    }


def test_exported_variables_are_captured_even_when_the_build_fails(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """\
        version: 0.2
        env:
          exported-variables: [RELEASE_VERSION]
        phases:
          build:
            commands: [RELEASE_VERSION=2.0.0, false]
        """,
    )
    assert (result.run.status, result.run.exported) == (FAILED, {"RELEASE_VERSION": "2.0.0"})


LAYERED = """\
    version: 0.2
    env:
      variables:
        LAYERED: from-buildspec
    phases:
      build:
        commands: ['echo $LAYERED']
"""


def test_buildspec_variables_override_the_base_environment(tmp_path: Path) -> None:
    result = build(tmp_path, LAYERED, base_env={**os.environ, "LAYERED": "from-image"})
    assert result.output == ["from-buildspec"]


def test_project_and_start_build_variables_override_the_buildspec(tmp_path: Path) -> None:
    result = build(tmp_path, LAYERED, overrides={"LAYERED": "from-project"})
    assert result.output == ["from-project"]


def test_buildspec_variable_values_are_literal_not_expanded(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """\
        version: 0.2
        env:
          variables:
            LITERAL: $HOME/x
        phases:
          build:
            commands: ['echo "$LITERAL"']
        """,
    )
    assert result.output == ["$HOME/x"]


def test_output_is_streamed_line_by_line_while_the_command_runs(tmp_path: Path) -> None:
    # The command waits for a file the sink creates on seeing its first line: if
    # output were delivered only when the command ended, this would time out.
    workdir = tmp_path / "src"

    def sink(line: str) -> None:
        if line == "first":
            (workdir / "go").touch()

    result = build(
        tmp_path,
        build_phase("echo first; for i in $(seq 500); do [ -f go ] && break; sleep 0.01; done; echo second"),
        timeout_s=None,
        on_line=sink,
    )
    assert result.run.status == SUCCEEDED
    assert result.output == ["first", "second"]
    assert (workdir / "go").exists()


def test_output_lines_keep_their_order(tmp_path: Path) -> None:
    result = build(tmp_path, build_phase("seq 1 200"))
    assert result.output == [str(n) for n in range(1, 201)]


def test_phase_durations_come_from_the_injected_clock(tmp_path: Path) -> None:
    result = build(tmp_path, FOUR_PHASES, clock=TickingClock(), timeout_s=None)
    assert [p.duration_s for p in result.run.phases] == [1.0, 1.0, 1.0, 1.0]
    assert result.run.duration_s == 9.0


def test_timeout_kills_the_running_command_and_ends_timed_out(tmp_path: Path) -> None:
    started = SystemClock().now()
    result = build(
        tmp_path,
        """\
        version: 0.2
        phases:
          build:
            commands: [sleep 30]
          post_build:
            commands: [echo post_build]
        """,
        clock=TickingClock(),
        timeout_s=5,
    )
    assert result.run.status == TIMED_OUT
    assert result.phase("build") == TIMED_OUT
    assert result.run.skipped == ["post_build"]
    assert SystemClock().now() - started < 10


def test_no_command_starts_once_the_deadline_has_passed(tmp_path: Path) -> None:
    result = build(
        tmp_path, build_phase(*(f"echo {n}" for n in range(10))), clock=TickingClock(), timeout_s=3
    )
    assert result.run.status == TIMED_OUT
    assert len(result.output) < 10


def test_background_processes_are_stopped_when_the_build_ends(tmp_path: Path) -> None:
    result = build(tmp_path, build_phase("sleep 300 > /dev/null 2>&1 & echo $! > bg.pid"), clock=FakeClock())
    assert result.run.status == SUCCEEDED
    pid = int((tmp_path / "src" / "bg.pid").read_text())
    assert not running(pid)


def test_a_failing_line_sink_does_not_hang_the_build(tmp_path: Path) -> None:
    def broken(line: str) -> None:
        if line.isdigit():
            raise RuntimeError("log sink down")

    finished = threading.Event()

    def go() -> None:
        with pytest.raises(RuntimeError, match="log sink down"):
            build(tmp_path, build_phase("seq 1 100000"), timeout_s=None, on_line=broken)
        finished.set()

    worker = threading.Thread(target=go)
    worker.start()
    worker.join(timeout=30)
    assert finished.is_set()


def test_parameter_store_variables_cannot_run_outside_codebuild(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="parameter-store"):
        build(
            tmp_path,
            """\
            version: 0.2
            env:
              parameter-store:
                DB_PASSWORD: /prod/db
            phases:
              build:
                commands: [true]
            """,
        )


def test_sh_shell_runs_commands_in_posix_mode(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        """\
        version: 0.2
        env:
          shell: /bin/sh
        phases:
          build:
            commands:
              - case ":$SHELLOPTS:" in *:posix:*) echo posix ;; esac
        """,
    )
    assert result.output == ["posix"]
