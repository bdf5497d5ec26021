"""Entry point for `releasectl` and `python -m releasectl`.

`--version` is answered before the CLI framework is imported: it is the one call
scripts make in a loop, and it needs nothing but the package's own version.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from releasectl import __version__

        sys.stdout.write(f"releasectl {__version__}\n")
        return 0
    from releasectl.cli import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
