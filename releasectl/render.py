"""Output: one JSON object on stdout under --json; text or rich tables otherwise.

rich is imported only when a table is drawn, so plain commands start fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from releasectl.result import CommandResult


def write_json(obj: Any, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    out.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    out.flush()


def write_lines(lines: Iterable[str], stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    for line in lines:
        out.write(line + "\n")
    out.flush()


def write_result(result: CommandResult, *, json_output: bool) -> None:
    if json_output:
        write_json(result.to_json())
        return
    lines = [f"{result.command}: {result.outcome.value} — {result.message}"]
    if result.version:
        lines.append(f"  version  {result.version}")
    if result.image and result.image.uri:
        lines.append(f"  image    {result.image.uri}")
    for key in ("service", "task_definition", "deployment_id"):
        if result.extra.get(key):
            lines.append(f"  {key.replace('_', ' '):<8} {result.extra[key]}")
    write_lines(lines)


def write_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    # Piped output has no terminal width; rich would assume 80 columns and cut cells short.
    width = None if sys.stdout.isatty() else 200
    Console(soft_wrap=True, width=width).print(table)


def write_error(message: str, *, stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    out.write(f"error: {message}\n")
    out.flush()


class View:
    """A read-only answer (status, releases, doctor): JSON for machines, text for people."""

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def human(self) -> None:
        write_json(self.to_json())


def write_view(view: View, *, json_output: bool) -> None:
    if json_output:
        write_json(view.to_json())
    else:
        view.human()
