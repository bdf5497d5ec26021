"""The demo's terminal: narration, commands run with their output shown live, the sandbox's ALB.

Plain text (ANSI colours on a terminal); with --record the lines are also kept and, at the end,
drawn by a recording rich console (loaded only then) into an SVG as wide as the widest line.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

# The SVG is at least this many columns wide, wider when a table needs it (a wrapped table is
# unreadable; long plain lines wrap well), and never wider than the tables' own limit.
RECORD_WIDTH = (120, 200)
_TABLE = re.compile("[┃│┏┗┡└]")
_ANSI = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "magenta": "35", "cyan": "36"}
# Routine task churn the release's own output already tells through ECS's service events.
_ROUTINE_SANDBOX = re.compile(r"stopped \(exit \d+: (Scaling activity|Service deleted)")


class Narrator:
    """Writes whole lines, one at a time, from any thread; keeps them for the SVG when recording."""

    def __init__(self, stream: TextIO, *, record: bool) -> None:
        self.stream = stream
        self.recorded: list[tuple[str, str]] | None = [] if record else None
        self.quiet_sandbox = False  # set while the sandbox shuts down: its task lines are noise
        self._lock = threading.Lock()
        self._colour = _wants_colour(stream)
        self._closed = False

    def say(self, text: str = "", style: str = "") -> None:
        with self._lock:
            if self.recorded is not None:
                self.recorded.append((text, style))
            if self._closed:
                return
            if self._colour and style and text:
                codes = ";".join(_ANSI[word] for word in style.split() if word in _ANSI)
                text = f"\033[{codes}m{text}\033[0m"
            try:
                self.stream.write(text + "\n")
                self.stream.flush()
            except (BrokenPipeError, ValueError):
                # Whoever read the output has gone (`releasectl demo | head`): carry on quietly, so
                # the sandbox is still stopped and the exit code still tells the truth.
                self._closed = True

    def act(self, number: int, title: str) -> None:
        self.say()
        self.say(f"── {number}. {title}", "bold")

    def command(self, text: str) -> None:
        self.say(f"$ {text}", "bold cyan")

    def output(self, line: str) -> None:
        self.say(f"  {line}", _output_style(line))

    def sandbox(self, line: str) -> None:
        if not self.quiet_sandbox and not _ROUTINE_SANDBOX.search(line):
            self.say(f"  {line}", "magenta")

    def ok(self, text: str) -> None:
        self.say(f"✓ {text}", "green")

    def fail(self, text: str) -> None:
        self.say(f"✗ {text}", "bold red")

    def note(self, text: str) -> None:
        self.say(text, "dim")

    def save_svg(self, path: Path) -> None:
        """The recorded lines as a terminal screenshot (rich, loaded only here)."""
        if self.recorded is None:
            return
        import io

        from rich.console import Console
        from rich.text import Text

        with self._lock:
            lines = list(self.recorded)
        low, high = RECORD_WIDTH
        widest_table = max((len(text) for text, _ in lines if _TABLE.search(text)), default=0)
        width = max(low, min(high, widest_table))
        console = Console(
            file=io.StringIO(), record=True, width=width, highlight=False, markup=False, emoji=False
        )
        for text, style in lines:
            console.print(Text(text, style=style))
        path.parent.mkdir(parents=True, exist_ok=True)
        console.save_svg(str(path), title="releasectl demo (local sandbox)")


def _wants_colour(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _output_style(line: str) -> str:
    text = line.strip()
    if "rolled_back" in text or text.startswith(("error:", "build: failed", "release: failed")):
        return "bold red"
    if text.startswith(("build: succeeded", "release: succeeded", "rollback: succeeded")):
        return "bold green"
    if text.startswith("warning:"):
        return "yellow"
    if text.startswith(("[sandbox]", "sandbox:")):
        return "magenta"
    if text.startswith("[Container]"):
        return "dim"
    return ""


# ----------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Ran:
    args: tuple[str, ...]
    code: int
    lines: tuple[str, ...]
    seconds: float
    timed_out: bool


def run_releasectl(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], narrator: Narrator, timeout: float
) -> Ran:
    """`releasectl ARGS` in a child process, its stdout and stderr shown line by line as they come.

    The child has a session of its own, so a Ctrl-C reaches the demo alone, which then ends the
    child's whole process group (and the sandbox everything else)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "releasectl", *args],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        end_group(proc)

    watchdog = threading.Timer(timeout, expire)
    watchdog.daemon = True
    watchdog.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            lines.append(line)
            narrator.output(line)
        proc.wait()
    except BaseException:
        end_group(proc)
        raise
    finally:
        watchdog.cancel()
        if proc.stdout is not None:
            proc.stdout.close()
    return Ran(tuple(args), proc.returncode, tuple(lines), time.monotonic() - started, expired.is_set())


def end_group(proc: subprocess.Popen[str], grace: float = 3.0) -> None:
    """SIGTERM to the child's process group, SIGKILL if it is still there after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


# ----------------------------------------------------------------------------- the sandbox ALB


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    target: str  # the sandbox task that answered (X-Sandbox-Target), or the error


def http_get(url: str, timeout: float = 5.0) -> Answer:
    try:
        # the sandbox ALB on 127.0.0.1
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310  # nosec B310
            return Answer(
                response.status,
                response.read().decode().strip(),
                response.headers.get("X-Sandbox-Target", ""),
            )
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read().decode(errors="replace").strip(), "")
    except OSError as exc:
        return Answer(0, "", f"{exc.__class__.__name__}: {exc}")


class AlbPoller:
    """Asks the ALB for `/` every `interval` seconds from a thread and keeps every answer."""

    def __init__(self, url: str, interval: float = 0.1) -> None:
        self.url = url
        self.interval = interval
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-alb-poller", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.answers.append(http_get(self.url, timeout=5))
            self._stop.wait(self.interval)

    def __enter__(self) -> AlbPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
