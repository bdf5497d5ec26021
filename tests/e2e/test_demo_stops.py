"""`releasectl demo` stopped part way: by a step that misbehaves, and by Ctrl-C. Each run starts a
sandbox of its own and must leave nothing running."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from releasectl_sandbox.state import processes_with_marker
from tests.support.cli import start_to_interrupt
from tests.support.demo import demo_argv, run_demo_process, scratch_dir, user_env

pytestmark = pytest.mark.e2e


def test_a_step_that_misbehaves_fails_the_demo_naming_it_and_leaves_nothing_running(checkout: Path) -> None:
    # The unit tests the builds run fail, so the first build fails where the demo expects success.
    with (checkout / "tests" / "core" / "test_outcome.py").open("a") as handle:
        handle.write("\n\ndef test_broken_on_purpose() -> None:\n    assert False\n")
    proc = run_demo_process(demo_argv("--json", "demo"), checkout, timeout=180)
    assert proc.returncode == 1, proc.stderr[-4000:]
    payload = json.loads(proc.stdout)
    assert payload["outcome"] == "failed"
    assert payload["message"].startswith("act 1 (")
    assert "`releasectl build` exited 1, expected 0" in payload["message"]
    assert "✗ unexpected: act 1" in proc.stderr
    assert processes_with_marker(payload["sandbox"]["id"]) == []
    assert payload["leftover_processes"] == []
    assert not scratch_dir(proc.stderr).exists()
    Path(payload["log"]).unlink()


def _read_until(stream: Any, pattern: str, lines: list[str], timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if found := re.search(pattern, line):
            return found
    raise AssertionError(f"no line matching {pattern!r}; output so far:\n{''.join(lines)[-4000:]}")


@pytest.fixture
def interrupted_demo(checkout: Path) -> Iterator[subprocess.Popen[str]]:
    proc = start_to_interrupt(
        demo_argv("--json", "demo"),
        cwd=checkout,
        env=user_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)


def test_ctrl_c_stops_the_sandbox_and_every_process_the_demo_started_and_exits_130(
    interrupted_demo: subprocess.Popen[str],
) -> None:
    proc = interrupted_demo
    assert proc.stderr is not None and proc.stdout is not None
    lines: list[str] = []
    marker = _read_until(proc.stderr, r"✓ sandbox ([0-9a-f]{32}) is up", lines, 60).group(1)
    _read_until(proc.stderr, r"^  INSTALL +SUCCEEDED", lines, 60)  # a build is running now
    running = processes_with_marker(marker)
    assert len(running) >= 1  # the build, at least (no service runs before the first release)

    proc.send_signal(signal.SIGINT)
    stdout, rest = proc.communicate(timeout=60)

    assert proc.returncode == 130, "".join(lines) + rest
    payload = json.loads(stdout)
    Path(payload["log"]).unlink()
    assert payload["outcome"] == "interrupted"
    assert "✗ interrupted" in rest
    assert processes_with_marker(marker) == []
    assert not scratch_dir("".join(lines)).exists()
