"""The CLI's click command tree, built once a process, and parsing against it without invoking.

Typer builds the tree from the functions' signatures on every get_command(); the docs and the
global-options tests parse a few hundred command lines, and rebuilding it for each was most of
their time. Parsing creates contexts only: the commands themselves are never changed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import click
import typer

from releasectl.cli import app as cli


@functools.cache
def command_tree() -> click.Group:
    command = typer.main.get_command(cli.app)
    assert isinstance(command, click.Group)
    return command


def parse_to_leaf(args: Sequence[str], *, obj: Any = None) -> click.Context:
    """Parse like `releasectl ARGS` would, down to the leaf command, without invoking anything.

    make_context parses and converts every option and argument (so an unknown option, a
    missing argument or a bad value raises click's UsageError); invoke() is never called.
    """
    ctx = command_tree().make_context("releasectl", list(args), obj=obj)
    while isinstance(ctx.command, click.Group):
        # Click keeps the subcommand name apart from its arguments (click 9 merges them).
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not rest:
            raise click.UsageError("a command is missing", ctx=ctx)
        name, sub, rest = ctx.command.resolve_command(ctx, rest)
        assert name is not None and sub is not None
        ctx = sub.make_context(name, rest, parent=ctx)
    return ctx
