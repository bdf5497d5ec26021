"""Running `releasectl` the way a test needs it: in this process (the default), or as a real
process for what only a process shows (signals, start-up imports, closed pipes, races between
interpreters, the `python -m releasectl` fast path)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releasectl_sandbox.botocore_sharing import share_botocore_work
from tests.support.paths import ROOT


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str | None] | None = None,
    process: bool = False,
    timeout: float = 120,
) -> CliResult:
    """`releasectl ARGS` in cwd (the repository root by default) with env on top of this
    process's environment (`None` unsets a variable).

    In this process it is releasectl.cli.app.run, the code `python -m releasectl` runs after
    its fast path, without a new interpreter and a fresh boto3 import (~0.4 s a run).
    `process=True` runs `python -m releasectl` as a user does.
    """
    if process:
        return _in_a_process(args, cwd or ROOT, env or {}, timeout)
    from releasectl.cli.app import run

    share_botocore_work()
    out, err = _Stream(), _Stream()
    previous = Path.cwd()
    try:
        os.chdir(cwd or ROOT)
        with _environment(env or {}), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(list(args))
    finally:
        os.chdir(previous)
    return CliResult(code, out.getvalue(), err.getvalue())


class _Stream(io.StringIO):
    """Captured output that says it is UTF-8, as a process's pipe does here (else `…` becomes `...`)."""

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


def one_line_error(ran: CliResult) -> bool:
    """The error contract: exactly one `error:` line on stderr and no traceback."""
    return len(ran.error_lines) == 1 and "Traceback" not in ran.stderr


def _in_a_process(args: Sequence[str], cwd: Path, env: Mapping[str, str | None], timeout: float) -> CliResult:
    full_env = {**os.environ, **env}
    proc = subprocess.run(
        [sys.executable, "-m", "releasectl", *args],
        cwd=cwd,
        env={name: value for name, value in full_env.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@contextlib.contextmanager
def _environment(env: Mapping[str, str | None]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in env}
    try:
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ----------------------------------------------------------------------------- processes left running


def start_cli(args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """`python -m releasectl --json ARGS` in its own interpreter, as an operator or a pipeline runs it."""
    return subprocess.Popen(
        [sys.executable, "-m", "releasectl", "--json", *args],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def default_signal_dispositions() -> None:
    """preexec_fn for a child a test will interrupt: SIGINT and SIGTERM as a terminal gives them.

    A child inherits ignored signals through exec. A suite started in the background
    (`nohup make test &`, or any `cmd &` of a shell without job control) runs with SIGINT
    ignored, and so would every child, which then never sees the Ctrl-C the test sends.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start_to_interrupt(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
    """subprocess.Popen(argv, text=True, **kwargs) for a child the test will send signals to."""
    return subprocess.Popen(list(argv), text=True, preexec_fn=default_signal_dispositions, **kwargs)
