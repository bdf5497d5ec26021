"""How a run ends when something goes wrong: one line on stderr, one JSON object under --json.

Shared by the CLI and by the fast path in __main__, so both fail the same way.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from releasectl.core.errors import ExitCode, ReleasectlError


class RunState:
    """How the running command reports: as JSON or text, how much, and under which name."""

    def __init__(self, json_output: bool = False, verbose: bool = False, command: str | None = None) -> None:
        self.json_output = json_output
        self.verbose = verbose
        self.command = command

    def __repr__(self) -> str:
        return f"RunState(json_output={self.json_output}, verbose={self.verbose}, command={self.command!r})"


def report(
    state: RunState,
    message: str,
    code: ExitCode,
    *,
    hint: str | None = None,
    exc: BaseException | None = None,
) -> int:
    from releasectl.cli.render import write_error
    from releasectl.commands.output import write_json

    if state.verbose and exc is not None:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    line = f"{message} ({hint})" if hint else message
    write_error(line)
    if state.json_output:
        write_json({"command": state.command, "outcome": "error", "exit_code": int(code), "message": line})
    return int(code)


def guarded(state: RunState, body: Callable[[], int]) -> int:
    """Run body; map every way it can fail to its exit code (docs/design.md §3).

    A reader that closes stdout early is no failure, yet needs no case here: the entry point
    (releasectl/__main__.py) makes writes to it vanish, so the command keeps its own status. A
    BrokenPipeError that still arrives is a pipe to a child process: a real failure."""
    try:
        return body()
    except ReleasectlError as exc:
        return report(state, exc.one_line(), exc.exit_code, exc=exc)
    except KeyboardInterrupt:
        return report(state, "interrupted", ExitCode.INTERRUPTED)
    except Exception as exc:  # a bug: still one line, traceback only with -v
        return report(
            state,
            f"internal error: {exc.__class__.__name__}: {exc}",
            ExitCode.FAILED,
            hint="run with -v for the traceback and report it",
            exc=exc,
        )
