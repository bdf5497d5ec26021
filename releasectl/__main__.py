"""Entry point for `releasectl` and `python -m releasectl`.

Two calls are answered before the CLI framework is imported, because scripts and CI make
them on every run and they need nothing typer offers: `--version`, and `version` with
`--offline`, `--json` and `-v/--verbose` (the last two before or after `version`, as the full
CLI accepts them). Building typer's command tree costs more than the whole versioning answer
(docs/performance.md). Any other spelling, including every option these do not list, goes
through the full CLI; tests/cli/test_fast_path.py checks that both routes print the same.
"""

from __future__ import annotations

import io
import os
import sys

TYPE_CHECKING = False  # typing itself is not imported: --version must start fast
if TYPE_CHECKING:
    from typing import NoReturn

    from _typeshed import ReadableBuffer

_GLOBAL_FLAGS = {"--json": "json", "-v": "verbose", "--verbose": "verbose"}
_VERSION_FLAGS = {**_GLOBAL_FLAGS, "--offline": "offline"}


def main(argv: list[str] | None = None) -> int:
    code, _ = _answer(sys.argv[1:] if argv is None else argv)
    return code


def entry() -> NoReturn:
    """The `releasectl` script and `python -m releasectl`: main(), then the process ends."""
    code, fast = _answer(sys.argv[1:])
    if fast:
        _exit_without_teardown(code)
    sys.exit(code)


def _answer(args: list[str]) -> tuple[int, bool]:
    """The exit code, and whether the call was answered before the full CLI was imported."""
    tolerate_closed_output()
    if args == ["--version"]:
        from releasectl import __version__

        sys.stdout.write(f"releasectl {__version__}\n")
        return 0, True
    fast = version_fast_path(args)
    if fast is not None:
        return fast, True
    from releasectl.cli.app import run

    return run(args), False


def _exit_without_teardown(code: int) -> NoReturn:
    """End a fast answer without the interpreter's teardown of every module and object, which
    costs `version --offline` about 5 ms (docs/performance.md). What the teardown would do that
    matters is done here: the output is flushed and any git read still running is stopped. Only
    the fast path ends this way; it holds no other resource (no thread, temporary file or open
    file being written)."""
    git = sys.modules.get("releasectl.adapters.git")
    if git is not None:
        git.stop_version_reads()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def version_fast_path(args: list[str]) -> int | None:
    """Answer `[--json] [-v] version [--offline] [--json] [-v]`, or None to leave the call to the full CLI."""
    flags: set[str] = set()
    rest = list(args)
    while rest and rest[0] in _GLOBAL_FLAGS:
        flags.add(_GLOBAL_FLAGS[rest.pop(0)])
    if not rest or rest[0] != "version" or not set(rest[1:]) <= _VERSION_FLAGS.keys():
        return None
    flags.update(_VERSION_FLAGS[arg] for arg in rest[1:])
    offline = "offline" in flags
    # git reads what the answer needs while the rest is imported (docs/versioning.md, step 3).
    from releasectl.adapters.git import start_version_reads

    start_version_reads()

    from releasectl.cli.exits import RunState, guarded

    state = RunState(json_output="json" in flags, verbose="verbose" in flags, command="version")

    def body() -> int:
        from releasectl.cli.render import write_view
        from releasectl.commands.context import Context, StreamReporter
        from releasectl.commands.version import version_report
        from releasectl.core.config import load_config

        context = Context(
            config=load_config(),
            json_output=state.json_output,
            verbose=state.verbose,
            reporter=StreamReporter(verbose=state.verbose),
        )
        write_view(version_report(context, offline=offline), json_output=state.json_output)
        return 0

    return guarded(state, body)


class _DropWhenReaderGone(io.FileIO):
    """A standard stream's file that, once its reader has gone (EPIPE), writes to /dev/null."""

    def write(self, data: ReadableBuffer) -> int:
        try:
            return super().write(data)
        except BrokenPipeError:
            # Pointing the descriptor at /dev/null also quiets Python's flush at exit, which would
            # otherwise print "Exception ignored ... BrokenPipeError" and exit 120.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.fileno())
            os.close(devnull)
            return memoryview(data).nbytes


def tolerate_closed_output() -> None:
    """Let a reader that stops early (`releasectl status | head -1`) cut the output short, not the
    command: it runs to its end and exits with its own status, and nothing is said about the pipe.

    Python ignores SIGPIPE, so the write that finds the pipe closed raises BrokenPipeError
    wherever it happens: in click's help, in rich (which exits 1), in a handler, or in the flush at
    exit. Re-opening stdout and stderr on a file that drops output once the reader is gone covers
    all of them in one place. Streams that are not real files (captured in tests) are left alone.
    """
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue
        stream.flush()
        wrapper = io.TextIOWrapper(
            io.BufferedWriter(_DropWhenReaderGone(fd, "w", closefd=False)),
            encoding=stream.encoding,
            errors=stream.errors,
            line_buffering=stream.line_buffering,
            write_through=getattr(stream, "write_through", False),
        )
        setattr(sys, name, wrapper)


if __name__ == "__main__":
    entry()
