"""`python -m releasectl_sandbox up [--port P] [--alb-port Q] [--state-dir DIR] [--env-file FILE]
[--build-env NAME=VALUE ...] [--json]`.

The same handler as `releasectl sandbox up`, with the extra options SandboxProcess uses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from releasectl.core.errors import ReleasectlError


def main(argv: list[str] | None = None) -> int:
    from releasectl.commands.context import Context, StreamReporter
    from releasectl.core.config import load_config
    from releasectl_sandbox.command import sandbox_up

    parser = argparse.ArgumentParser(prog="python -m releasectl_sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run the sandbox in the foreground")
    up.add_argument("--port", type=int, default=None)
    up.add_argument("--alb-port", type=int, default=None)
    up.add_argument("--state-dir", type=Path, default=None)
    up.add_argument("--env-file", type=Path, default=None)
    up.add_argument("--build-env", action="append", default=[], metavar="NAME=VALUE")
    up.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    build_env = dict(item.partition("=")[::2] for item in args.build_env)
    try:
        ctx = Context(config=load_config(), json_output=args.json, reporter=StreamReporter())
        return sandbox_up(
            ctx,
            port=args.port,
            alb_port=args.alb_port,
            state_dir=args.state_dir,
            env_file=args.env_file,
            build_env=build_env,
        )
    except ReleasectlError as exc:
        sys.stderr.write(f"error: {exc.one_line()}\n")
        return int(exc.exit_code)


if __name__ == "__main__":
    sys.exit(main())
