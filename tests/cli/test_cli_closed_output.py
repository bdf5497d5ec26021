"""A reader that stops early ends no command badly: `releasectl status | head -1` exits with status's
own code and says nothing, and a failing command keeps its code.

Each run is a real interpreter whose stdout is a pipe with its reader already gone, which is what
`| head -1` becomes as soon as head has its line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_cli
from tests.support.git import GitRepo
from tests.support.service_world import ServiceWorld


def closed_reader(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, also_stderr: bool = False
) -> Any:
    """Run `python -m releasectl ARGS` with stdout a pipe whose reader has already gone, which is
    what `| head -1` becomes as soon as head has its line; stderr is captured unless also_stderr."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(
            [sys.executable, "-m", "releasectl", *args],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=writer,
            stderr=writer if also_stderr else subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(writer)


def test_status_with_its_reader_gone_exits_0_and_says_nothing(service_world: ServiceWorld) -> None:
    proc = closed_reader("status", cwd=service_world.cwd, env=service_world.env)
    assert proc.returncode == 0
    assert proc.stderr == ""


@pytest.mark.parametrize(
    "args",
    [
        ("--version",),
        ("--help",),
        ("deploy", "--help"),
        ("version", "--offline"),
        ("version", "--offline", "--region", "x"),
    ],
    ids=" ".join,
)
def test_a_closed_stdout_ends_a_command_quietly_with_exit_0(git_repo: GitRepo, args: tuple[str, ...]) -> None:
    git_repo.commit("feat: first")
    proc = closed_reader(*args, cwd=git_repo.path)
    assert proc.returncode == 0
    assert proc.stderr == ""


def test_a_failing_command_keeps_its_exit_code_when_its_reader_is_gone(git_repo: GitRepo) -> None:
    git_repo.commit("feat: first")
    assert run_cli("doctor", cwd=git_repo.path).code == 4
    proc = closed_reader("doctor", cwd=git_repo.path)
    assert proc.returncode == 4
    assert proc.stderr == ""


@pytest.mark.parametrize("args", [("bogus",), ("status",), ("--json", "status")], ids=" ".join)
def test_errors_keep_their_exit_code_when_stdout_and_stderr_are_gone(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    # `releasectl status 2>&1 | head -1` in a project without a config: the usage error is exit 2.
    proc = closed_reader(*args, cwd=tmp_path, also_stderr=True)
    assert proc.returncode == 2


def test_a_reader_that_stops_after_one_line_gets_that_line(service_world: ServiceWorld) -> None:
    # The real `| head -1`: head reads a line and exits while status may still be writing.
    proc = subprocess.Popen(
        [sys.executable, "-m", "releasectl", "status"],
        cwd=service_world.cwd,
        env={**os.environ, **service_world.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=120) == 0
    assert first.startswith("service   hello-world")
    assert proc.stderr.read() == ""
