"""stdout for commands that stream their answer (`logs`) rather than return one.

Everything else a command says on stdout goes through releasectl.cli.render, which uses these
two writers too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TextIO


def write_json(obj: Any, stream: TextIO | None = None) -> None:
    import json  # only for --json: a human answer need not load it

    out = stream or sys.stdout
    out.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    out.flush()


def write_lines(lines: Iterable[str], stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    for line in lines:
        out.write(line + "\n")
    out.flush()
