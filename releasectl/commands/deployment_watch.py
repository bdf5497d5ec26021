"""The live line while a deployment runs: its stage, the traffic split, the bake time left.

Three forms, chosen once per wait (open_watch):

- on a terminal, a rich progress line on stderr, redrawn every second, with the other progress
  lines printed above it;
- piped, one plain line per change of status, stage or split (the countdown alone is no change);
- with --json, one JSON object per change on stderr (stdout keeps its one result object).

rich is imported only for the terminal form.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Protocol

from releasectl.core.service_deployment import DeploymentView

if TYPE_CHECKING:
    from releasectl.commands.context import Context


class Watch(Protocol):
    def update(self, view: DeploymentView, bake_left: float | None, *, changed: bool) -> None: ...
    def close(self) -> None: ...


class LineWatch:
    """One line per change, through the reporter."""

    def __init__(self, ctx: Context) -> None:
        self.reporter = ctx.reporter

    def update(self, view: DeploymentView, bake_left: float | None, *, changed: bool) -> None:
        if changed:
            self.reporter.info(f"deployment {view.id}: {view.summary(bake_left)}")

    def close(self) -> None:
        return


class JsonWatch:
    """One JSON object per change, on the progress stream (stderr)."""

    def __init__(self, ctx: Context) -> None:
        self.reporter = ctx.reporter

    def update(self, view: DeploymentView, bake_left: float | None, *, changed: bool) -> None:
        if changed:
            event = {"event": "service_deployment", **view.to_json(bake_left)}
            self.reporter.log_line(json.dumps(event, sort_keys=False))

    def close(self) -> None:
        return


class RichWatch:
    """A rich live line on a terminal; the reporter's lines go above it while it shows."""

    def __init__(self, ctx: Context, stream: Any) -> None:
        from rich.console import Console
        from rich.live import Live

        self.reporter = ctx.reporter
        self.console = Console(file=stream, highlight=False)
        self.line = _Line()
        self.live = Live(self.line, console=self.console, refresh_per_second=2, transient=True)
        self.live.start()
        # The reporter writes to the same stream: route it through the live console, so its
        # lines print above the live line instead of through it.
        self._saved = getattr(self.reporter, "stream", None)
        if self._saved is not None:
            self.reporter.stream = _Above(self.console)  # type: ignore[attr-defined]

    def update(self, view: DeploymentView, bake_left: float | None, *, changed: bool) -> None:
        self.line.set(view, bake_left)
        if changed:
            # The changes stay on screen once the live line is gone.
            self.console.print(
                f"deployment {view.id}: {view.summary(bake_left)}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        self.live.refresh()

    def close(self) -> None:
        self.live.stop()
        if self._saved is not None:
            self.reporter.stream = self._saved  # type: ignore[attr-defined]


class _Line:
    """The live renderable: the last view, its bake time counting down between polls."""

    def __init__(self) -> None:
        self.view: DeploymentView | None = None
        self.bake_left: float | None = None
        self.at = time.monotonic()

    def set(self, view: DeploymentView, bake_left: float | None) -> None:
        self.view, self.bake_left, self.at = view, bake_left, time.monotonic()

    def __rich__(self) -> Any:
        from rich.text import Text

        if self.view is None:
            return Text("waiting for the deployment…")
        left = None if self.bake_left is None else max(0.0, self.bake_left - (time.monotonic() - self.at))
        text = Text("⠿ ", style="cyan")
        text.append(f"deployment {self.view.id} ", style="bold")
        text.append(self.view.summary(left))
        return text


class _Above:
    """A text stream whose lines the live console prints above its live line."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        return

    def isatty(self) -> bool:
        return True


def open_watch(ctx: Context) -> Watch:
    """The form of live output this run asks for."""
    if ctx.json_output:
        return JsonWatch(ctx)
    stream = getattr(ctx.reporter, "stream", None)
    if stream is not None and _is_terminal(stream):
        return RichWatch(ctx, stream)
    return LineWatch(ctx)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
