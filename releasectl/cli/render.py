"""Output: one JSON object on stdout under --json; text or rich tables otherwise.

rich is imported only when a table is drawn, so plain commands start fast. Text for people
fits the width output_width() decides; --json is never shortened.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from releasectl.commands.output import write_json, write_lines
from releasectl.core.result import CommandResult
from releasectl.core.view import Block, Table, View


def write_result(result: CommandResult, *, json_output: bool) -> None:
    if json_output:
        write_json(result.to_json())
        return
    lines = [f"{result.command}: {result.outcome.value} — {result.message}"]
    if result.version:
        lines.append(f"  version  {result.version}")
    if result.image and result.image.uri:
        lines.append(f"  image    {result.image.uri}")
    for key in ("service", "task_definition", "deployment_id", "service_deployment"):
        if result.extra.get(key):
            lines.append(f"  {key.replace('_', ' '):<8} {result.extra[key]}")
    if result.extra.get("evidence"):
        from releasectl.core.evidence import panel_lines

        lines.extend(panel_lines(result.extra["evidence"]))
    write_lines(lines)


def output_width(stream: TextIO | None = None) -> int:
    """How wide text for people may be: COLUMNS if set, else the terminal's width, else 80.

    The one place that decides it, for tables and for the lines fitted to them. Output that is not
    a terminal (a file, a pipe, `make demo`'s log) gets 80 because it is read in a terminal later;
    COLUMNS=200 widens it.
    """
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    out = stream or sys.stdout
    try:
        if out.isatty():
            return os.get_terminal_size(out.fileno()).columns or 80
    except (AttributeError, OSError, ValueError):
        pass
    return 80


def ellipsis(stream: TextIO | None = None) -> str:
    encoding = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        "…".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "..."
    return "…"


def fit(text: str, width: int, *, mark: str = "…") -> str:
    """`text` cut to `width` characters, ending in `mark` when it had to be cut."""
    if len(text) <= width:
        return text
    return text[: max(width - len(mark), 0)] + mark[:width]


def fit_lines(lines: Iterable[str]) -> list[str]:
    """Lines for people, each cut to output_width() with an ellipsis: one line per item, as
    `git log --oneline` prints in a narrow terminal. Not for output a program reads."""
    width, mark = output_width(), ellipsis()
    return [fit(line, width, mark=mark) for line in lines]


def fold_lines(lines: Iterable[str], *, indent: int) -> list[str]:
    """Lines for people, each folded at output_width() onto continuation lines indented by
    `indent`, for text that must be read whole (a fix to apply): the terminal never wraps it."""
    import textwrap

    width = output_width()
    folded: list[str] = []
    for line in lines:
        if len(line) <= width:
            folded.append(line)
            continue
        hanging = " " * min(indent, width // 2)
        folded.extend(textwrap.wrap(line, width=width, subsequent_indent=hanging, break_on_hyphens=False))
    return folded


def write_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table as wide as output_width() at most, one line per row: the widest columns give way
    first, and a cell that does not fit ends in an ellipsis (--json carries every value whole)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    def cell(value: Any) -> Text:
        # Text, not str: rich would read brackets in a commit subject or an event as markup.
        return Text("" if value is None else str(value), no_wrap=True, overflow="ellipsis")

    table = Table(title=cell(title), title_justify="left")
    for index, column in enumerate(columns):
        # The first column names the row (version, deployment, time): rich shrinks it only
        # when shrinking every other column was not enough.
        table.add_column(cell(column), overflow="ellipsis", no_wrap=index == 0)
    for row in rows:
        table.add_row(*(cell(value) for value in row))
    Console(width=output_width(), highlight=False).print(table)


def write_error(message: str, *, stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    out.write(f"error: {message}\n")
    out.flush()


def unicode_output(stream: TextIO | None = None) -> bool:
    """Whether the output can show marks such as ✔, ✘, · and → (a C locale cannot)."""
    encoding = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        "✔✘·→…".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def write_view(view: View, *, json_output: bool) -> None:
    if json_output:
        write_json(view.to_json())
        return
    width = output_width()
    for block in view.text(width=width, unicode=unicode_output()):
        write_block(block, width)


def write_block(block: Block, width: int) -> None:
    if isinstance(block, Table):
        write_table(block.title, block.columns, block.rows)
    elif block.overflow == "cut":
        mark = ellipsis()
        write_lines(fit(line, width, mark=mark) for line in block.lines)
    elif block.overflow == "fold":
        write_lines(fold_lines(block.lines, indent=block.indent))
    else:
        write_lines(block.lines)
