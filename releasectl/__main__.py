"""Entry point for `releasectl` and `python -m releasectl`.

Two calls are answered before the CLI framework is imported, because scripts and CI make
them on every run and they need nothing typer offers: `--version`, and
`[--json] [-v] version [--offline]`. Building typer's command tree costs more than the
whole versioning answer (docs/performance.md). Any other spelling, including every option
these two do not list, goes through the full CLI; tests/test_fast_path.py checks that both
routes print the same.
"""

from __future__ import annotations

import sys

_GLOBAL_FLAGS = {"--json": "json", "-v": "verbose", "--verbose": "verbose"}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from releasectl import __version__

        sys.stdout.write(f"releasectl {__version__}\n")
        return 0
    fast = version_fast_path(args)
    if fast is not None:
        return fast
    from releasectl.cli import run

    return run(args)


def version_fast_path(args: list[str]) -> int | None:
    """Answer `[--json] [-v] version [--offline]`, or None to leave the call to the full CLI."""
    flags: set[str] = set()
    rest = list(args)
    while rest and rest[0] in _GLOBAL_FLAGS:
        flags.add(_GLOBAL_FLAGS[rest.pop(0)])
    if not rest or rest[0] != "version" or rest[1:] not in ([], ["--offline"]):
        return None
    offline = rest[1:] == ["--offline"]

    from releasectl.failure import RunState, guarded

    state = RunState(json_output="json" in flags, verbose="verbose" in flags, command="version")

    def body() -> int:
        from releasectl.config import load_config
        from releasectl.context import Context, StreamReporter
        from releasectl.render import write_view
        from releasectl.versions import version_report

        context = Context(
            config=load_config(),
            json_output=state.json_output,
            verbose=state.verbose,
            reporter=StreamReporter(verbose=state.verbose),
        )
        write_view(version_report(context, offline=offline), json_output=state.json_output)
        return 0

    return guarded(state, body)


if __name__ == "__main__":
    sys.exit(main())
