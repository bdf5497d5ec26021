"""The demo's terminal: a story a viewer can follow, the full log beside it, the sandbox's ALB.

Three sources feed it, each line at the moment it happens: the sandbox's simulators (their
`sandbox:` announcements), the build logs of the sandbox's CodeBuild (handed over in-process as
each line is written, not when a log follower next polls CloudWatch), and the releasectl
commands the demo runs. The story shows what matters of each, fitted to the terminal's width
(COLUMNS, else the terminal's, else 80): one line per build phase with its duration, the
release's own verdicts, the deployments. Every line of every source goes to the full log, a
file the demo names, and to the terminal too with --verbose. A `releasectl build` child prints
again each build-log line it follows; those echoes are dropped, since the line was told when it
was written.

With --record the story lines are kept and, at the end, drawn by a recording rich console
(loaded only then) into an SVG as wide as the story.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TextIO

DEFAULT_WIDTH = 80  # when the narration does not go to a terminal and COLUMNS is not set
MIN_WIDTH = 40
_ANSI = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "magenta": "35", "cyan": "36"}


def narration_width(stream: TextIO, env: Mapping[str, str] | None = None) -> int:
    """COLUMNS if set, else the terminal's width, else 80; never below MIN_WIDTH."""
    columns = (os.environ if env is None else env).get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return max(MIN_WIDTH, int(columns))
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        with contextlib.suppress(OSError, ValueError):
            return max(MIN_WIDTH, os.get_terminal_size(stream.fileno()).columns)
    return DEFAULT_WIDTH


class Narrator:
    """Writes whole lines, one at a time, from any thread: story lines to the terminal, every line
    to the full log; keeps what the terminal showed for the SVG when recording."""

    def __init__(
        self,
        stream: TextIO,
        *,
        record: bool,
        verbose: bool = False,
        width: int | None = None,
        log: IO[str] | None = None,
    ) -> None:
        self.stream = stream
        self.verbose = verbose
        self.width = width or narration_width(stream)
        self.recorded: list[tuple[str, str]] | None = [] if record else None
        self.quiet_sandbox = False  # set while the sandbox shuts down: its lines go to the log only
        self.shown = 0  # terminal lines written, wrapped lines counted one by one
        self._log = log
        self._lock = threading.Lock()
        self._colour = _wants_colour(stream)
        self._closed = False

    # ------------------------------------------------------------------ the story

    def say(self, text: str = "", style: str = "", *, max_lines: int = 0, logged: bool = True) -> None:
        """A line of the story, wrapped to the width (continuation lines indented); with
        `max_lines`, what does not fit in that many lines is cut, and the cut marked with `…`."""
        indent = len(text) - len(text.lstrip(" "))
        lines = (
            textwrap.wrap(
                text,
                self.width,
                subsequent_indent=" " * (indent + 2),
                break_long_words=True,
                break_on_hyphens=False,
            )
            if len(text) > self.width
            else [text]
        )
        if max_lines == 1:
            lines = [fit(text, self.width)]
        elif max_lines and len(lines) > max_lines:
            lines = [*lines[: max_lines - 1], fit(lines[max_lines - 1] + " …", self.width)]
        with self._lock:
            for line in lines:
                self._show(line, style)
                if logged:
                    self._write_log(line)

    def act(self, number: int, title: str) -> None:
        self.say()
        self.say(f"── {number}. {title}", "bold")

    def command(self, text: str) -> None:
        self.say(f"$ {text}", "bold cyan")

    def ok(self, text: str) -> None:
        self.say(f"✓ {text}", "green")

    def fail(self, text: str) -> None:
        self.say(f"✗ {text}", "bold red")

    def note(self, text: str) -> None:
        self.say(text, "dim")

    # ------------------------------------------------------------------ the full log

    def detail(self, text: str, style: str = "") -> None:
        """A line of the full log: in the log file always, on the terminal with --verbose."""
        with self._lock:
            self._write_log(text)
            if self.verbose:
                self._show(text, style)

    def event(self, raw: str, story: Sequence[Told], style: str = "") -> None:
        """One line of a source as it happened: the raw line to the full log (and to the terminal
        with --verbose), and what the story makes of it: nothing, the line retold, or a summary
        (which the full log and --verbose get too, since no raw line says it)."""
        with self._lock:
            self._write_log(raw)
            if self.verbose:
                self._show(raw, style)
        for told in story:
            if self.verbose and not told.summary:
                continue  # the raw line is on the terminal already
            # A verdict's cause is worth a second line; anything else gets one.
            lines = 2 if _VERDICT.match(told.text.strip()) else 1
            self.say(told.text, told.style, max_lines=lines, logged=told.summary)

    # ------------------------------------------------------------------ output

    def _show(self, text: str, style: str) -> None:
        self.shown += 1
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

    def _write_log(self, text: str) -> None:
        if self._log is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self._log.write(f"{datetime.now():%H:%M:%S.%f}"[:-3] + f"  {text}\n")
            self._log.flush()

    def save_svg(self, path: Path) -> None:
        """The lines the terminal showed, as a terminal screenshot (rich, loaded only here)."""
        if self.recorded is None:
            return
        import io

        from rich.console import Console
        from rich.text import Text

        with self._lock:
            lines = list(self.recorded)
        console = Console(
            file=io.StringIO(), record=True, width=self.width, highlight=False, markup=False, emoji=False
        )
        for text, style in lines:
            console.print(Text(text, style=style))
        path.parent.mkdir(parents=True, exist_ok=True)
        console.save_svg(str(path), title="releasectl demo (local sandbox)")


def _wants_colour(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


# ----------------------------------------------------------------------------- fitting lines

_COMPACT = (
    # An ARN of a task definition says its family:revision last; the rest is the same every time.
    (re.compile(r"arn:aws:ecs:[\w-]+:\d{12}:task-definition/"), ""),
    (re.compile(r"\d{12}\.dkr\.ecr\.[\w-]+\.amazonaws\.com/"), ""),
    (re.compile(r"\bsha256:([0-9a-f]{12})[0-9a-f]{52}\b"), r"sha256:\1"),
    (re.compile(r"\b([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), r"\1"),
    (re.compile(r"\b([0-9a-f]{12})[0-9a-f]{28}\b"), r"\1"),  # commit shas
    (re.compile(r"\b([0-9a-f]{8})[0-9a-f]{24}\b"), r"\1"),  # task ids
    (re.compile(r"\becs-svc/(\d{8})\d{6,}\b"), r"ecs-svc/\1"),  # deployment ids
)


def compact(text: str) -> str:
    """Ids shortened to what tells them apart: digests and commits to 12 hex, build, task and
    deployment ids to 8, task-definition ARNs and image URIs to the part after the account."""
    for pattern, replacement in _COMPACT:
        text = pattern.sub(replacement, text)
    return text


def fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


# ----------------------------------------------------------------------------- what the story tells

_STAMP = r"\[Container\] (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d+) "
_ENTERING = re.compile(_STAMP + r"Entering phase (\w+)$")
_COMPLETE = re.compile(_STAMP + r"Phase complete: (\w+) State: (\w+)$")
_TESTS = re.compile(r"^=+ (.*\b(?:passed|failed|error|errors)\b.* in [\d.]+s.*?) =+$")
# What `releasectl release` says inside a build that the story keeps.
_RELEASE_LINES = ("releasing ", "claimed: ", "release: ", "warning: ", "error: ")
# The sandbox's routine chatter (the full log keeps it): task processes coming and going as
# expected, builds starting and ending (the command that started them says so), resources made.
_SANDBOX_ROUTINE = re.compile(
    r"runs on 127\.0\.0\.1|CodeBuild build |stopped \(exit \d+: (Scaling activity|Service deleted)"
    r"|^sandbox: created |reached a steady state|^sandbox: (stopping|running|Ctrl-C)"
    # A blue/green, canary or linear deployment's stages: the story keeps those that move traffic.
    r"|: (RECONCILE_SERVICE|PRE_SCALE_UP|SCALE_UP|POST_\w+|BAKE_TIME|CLEAN_UP), production"
    r"|CloudWatch alarm \S+ is OK"
)
# The sandbox's words, shortened for the story: it has one service, and a task that failed its
# health checks says so in a reason three levels deep.
_SANDBOX_SHORT = (
    (re.compile(r" of [\w-]+ (started|FAILED|stopped|failed|rolls)\b"), r" \1"),
    # A stage that moves traffic: what it moved, without the deployment's id.
    (re.compile(r"ECS deployment \S+ of [\w-]+: ([A-Z_]+), (production .*)$"), r"ECS: \1, \2"),
    (
        re.compile(
            r"CloudWatch alarm (\S+) is ALARM: sandbox: .* above (\S+) in (\d+) of the last (\d+) periods.*"
        ),
        r"alarm \1 ALARM: 5xx over \2 in \3 of \4 min",
    ),
    (re.compile(r" FAILED \(alarm [^)]*\)"), " FAILED (alarm)"),
    (
        re.compile(r"stopped \(exit \S+: Task failed container health checks \(sandbox: (.*)\)\)$"),
        r"failed its health checks: \1",
    ),
)


@dataclass(frozen=True)
class Told:
    """What the story makes of a line: the line retold (shortened), or a summary of several."""

    text: str
    style: str = ""
    summary: bool = False


Story = list[Told]


def _verdict_style(text: str) -> str:
    if re.search(r"\b(failed|rolled_back|timed_out)\b", text.split("—", 1)[0]):
        return "bold red"
    return "bold green"


class Feed:
    """Routes the lines of the sandbox and of the demo's commands to the narrator as they happen."""

    def __init__(self, narrator: Narrator) -> None:
        self.narrator = narrator
        self._lock = threading.Lock()
        self._echoes: Counter[str] = Counter()  # build-log lines a `releasectl build` will print again
        self._phases: dict[str, tuple[str, datetime]] = {}  # build id -> phase running, since when
        self._tests: dict[str, str] = {}  # build id -> the test run's summary line, in its phase

    # ------------------------------------------------------------------ the sandbox

    def sandbox(self, line: str) -> None:
        """Sandbox(announce=...): what the simulators do."""
        if self.narrator.quiet_sandbox:
            self.narrator.detail(line, "magenta")
            return
        text = compact(line)
        for pattern, replacement in _SANDBOX_SHORT:
            text = pattern.sub(replacement, text)
        story = [] if _SANDBOX_ROUTINE.search(line) else [Told(f"  {text}", "magenta")]
        self.narrator.event(line, story, "magenta")

    def build_log(self, build_id: str, line: str) -> None:
        """Sandbox(on_build_log=...): a build's log line, as the sandbox's CodeBuild writes it."""
        with self._lock:
            self._echoes[line.rstrip()] += 1
            story = self._build_story(build_id, line)
        self.narrator.event(line, story, "dim" if line.startswith("[Container]") else "")

    def _build_story(self, build_id: str, line: str) -> Story:
        if (entering := _ENTERING.match(line)) is not None:
            self._phases[build_id] = (entering.group(2), _when(entering.group(1)))
            return []
        if (complete := _COMPLETE.match(line)) is not None:
            phase, status = complete.group(2), complete.group(3)
            running = self._phases.pop(build_id, None)
            if running is None or running[0] != phase:
                return []  # FINALIZING and the like: no phase of the buildspec's
            seconds = (_when(complete.group(1)) - running[1]).total_seconds()
            tests = self._tests.pop(build_id, "")
            text = f"  {phase:<10} {status:<9} {seconds:5.1f} s" + (f"   {tests}" if tests else "")
            return [Told(text, "green" if status == "SUCCEEDED" else "bold red", summary=True)]
        text = line.strip()
        if (summary := _TESTS.match(text)) is not None:
            self._tests[build_id] = summary.group(1)
            return []
        if text.startswith(_RELEASE_LINES):
            style = _verdict_style(text) if text.startswith("release: ") else ""
            if text.startswith(("warning: ", "error: ")):
                style = "yellow" if text.startswith("warning: ") else "bold red"
            return [Told(f"    {compact(text)}", style)]
        return []

    # ------------------------------------------------------------------ the demo's commands

    def command(self, show: Callable[[str], bool]) -> Callable[[str], None]:
        """The line handler of one command: every line to the full log; those `show` accepts to
        the story; a build-log line the command prints again is dropped."""

        def on_line(line: str) -> None:
            key = line.rstrip()
            with self._lock:
                if self._echoes[key] > 0:
                    self._echoes[key] -= 1
                    return
            text = line.strip()
            story: Story = []
            if show(line):
                style = _verdict_style(text) if _VERDICT.match(text) else ""
                if text.startswith("warning:"):
                    style = "yellow"
                elif text.startswith("error:"):
                    style = "bold red"
                story = [Told(f"  {compact(line.rstrip())}", style)]
            self.narrator.event(line, story)

        return on_line


_VERDICT = re.compile(r"^(build|release|rollback|deploy): \w+")


def verdicts_and_problems(line: str) -> bool:
    """What the story shows of a command: its verdict line, warnings and errors."""
    return bool(_VERDICT.match(line.strip())) or line.startswith(("warning:", "error:"))


def _when(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y/%m/%d %H:%M:%S.%f")


# ----------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Ran:
    args: tuple[str, ...]
    code: int
    lines: tuple[str, ...]
    seconds: float
    timed_out: bool


def run_releasectl(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_line: Callable[[str], None],
    timeout: float,
) -> Ran:
    """`releasectl ARGS` in a child process, each line of its stdout and stderr handed to
    `on_line` as it comes.

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
            on_line(line)
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
