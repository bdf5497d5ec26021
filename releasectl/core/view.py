"""What a read-only command answers: data for --json, and blocks of text for people.

Pure. A command builds a View; the CLI layer decides where it goes and how wide it may be
(releasectl.cli.render), so no command writes to the terminal itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

# What a line wider than the output does: cut with an ellipsis (one line per item, as
# `git log --oneline` in a narrow terminal), fold onto indented lines (text that must be read
# whole, such as a fix to apply), or stay as it is (output a program may read).
Overflow = Literal["cut", "fold", "keep"]


# NamedTuples, not dataclasses: see releasectl.commands.context.Context.
class Lines(NamedTuple):
    """Lines of text, kept, folded or cut at the terminal's width."""

    lines: tuple[str, ...]
    overflow: Overflow = "keep"
    indent: int = 0  # the hanging indent of folded lines

    @classmethod
    def of(cls, lines: Sequence[str], overflow: Overflow = "keep", indent: int = 0) -> Lines:
        return cls(tuple(lines), overflow, indent)


class Table(NamedTuple):
    """One line per row at any width: cells that do not fit end in an ellipsis."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    @classmethod
    def of(cls, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
        return cls(title, tuple(columns), tuple(tuple(row) for row in rows))


Block = Lines | Table


class View:
    """A read-only answer (status, releases, doctor, version, infra diff)."""

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def text(self, *, width: int, unicode: bool) -> list[Block]:
        """The answer for people, at most `width` columns wide where it can be; `unicode` says
        whether the output can show marks such as ✔ and →."""
        raise NotImplementedError
