"""What every command of the CLI shares: the global options and the help around each command.

The global options (--env, --region, --profile, --endpoint-url, --json, --config, -v) are declared
once, here, and attached by ReleasectlGroup to the top level and to every command below it,
nested groups included. Click then parses them wherever the user puts them, before or after
the command name, with its own handling of option values, `--opt=value`, combined short
flags and `--`; there is no second parser to disagree with it. Each attached copy writes into
the one GlobalOptions object of the run, the later occurrence winning, as repeated options do.

Imported by releasectl.cli.app only, which has loaded click and typer already.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
import typer
from typer.core import TyperCommand, TyperGroup

from releasectl.cli.exits import RunState

CommandFunction = TypeVar("CommandFunction", bound=Callable[..., Any])


@dataclass
class GlobalOptions(RunState):
    """The global options of one run. It is the RunState the error path reads, so a usage error
    after `--json` is still reported as one JSON object."""

    json_output: bool = False
    verbose: bool = False
    command: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    config: Path | None = None
    env: str | None = None
    # The command line as given: `run` needs to know whether `--` was on it.
    argv: tuple[str, ...] = ()
    # When the run began, and the command's context once made: a command that ends in an error
    # is still announced to the `notify` targets, with its duration.
    started: float = 0.0
    context: Any = None

    def config_flags(self) -> dict[str, str | None]:
        return {
            "region": self.region,
            "profile": self.profile,
            "endpoint_url": self.endpoint_url,
            "env": self.env,
        }


def record_global_option(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    # Absent options (None, or a flag left False) must not undo one given elsewhere on the line.
    if value is None or value is False or param.name is None:
        return
    setattr(ctx.find_root().ensure_object(GlobalOptions), param.name, value)


def global_options(*, hidden: bool) -> list[click.Option]:
    """The declarations, once per command tree: click keeps parsed values in the context, not in
    the parameter, so the commands below the top level share one hidden set.

    Eager, so that they are read before any other option's value is checked: `deploy --timeout x
    --json` reports its bad value as JSON."""
    common: dict[str, Any] = {
        "callback": record_global_option,
        "expose_value": False,
        "is_eager": True,
        "hidden": hidden,
    }
    return [
        click.Option(
            ["--env"],
            metavar="NAME",
            help="Environment (else RELEASECTL_ENV, the config's env, the first listed).",
            **common,
        ),
        click.Option(["--region"], metavar="TEXT", help="AWS region.", **common),
        click.Option(["--profile"], metavar="TEXT", help="AWS profile (else AWS_PROFILE).", **common),
        click.Option(
            ["--endpoint-url", "endpoint_url"],
            metavar="TEXT",
            help="AWS endpoint (else AWS_ENDPOINT_URL).",
            **common,
        ),
        click.Option(
            ["--json", "json_output"], is_flag=True, help="Print exactly one JSON object on stdout.", **common
        ),
        click.Option(
            ["--config"],
            type=click.Path(path_type=Path),
            help="Config file (default: nearest pyproject.toml).",
            **common,
        ),
        click.Option(["-v", "--verbose"], is_flag=True, help="More detail; tracebacks.", **common),
    ]


GLOBAL_NAMES = ("--env", "--region", "--profile", "--endpoint-url", "--json", "--config", "-v", "--verbose")

GLOBAL_NOTE = (
    "\b\nGlobal options (--env, --region, --profile, --endpoint-url, --json, --config, -v)\n"
    "go before or after the command; see `releasectl --help`."
)

# What each command's exit codes mean for it (README "Exit codes" has the general table).
# tests/cli/test_cli_basics.py checks that every command has an entry.
ANY_COMMAND = [
    (2, "bad option, argument or configuration; nothing was changed"),
    (130, "interrupted"),
]
COMMAND_EXIT_CODES: dict[str, list[tuple[int, str]]] = {
    "version": [
        (0, "printed the current and the next version"),
        (1, "an AWS call failed"),
        (4, "not a git repository, shallow clone, or the ECR ledger cannot be read"),
    ],
    "bump": [
        (0, "decided (and tagged, when asked), or nothing to release"),
        (1, "an AWS or git operation failed"),
        (4, "not a git repository, shallow clone, or the ECR ledger cannot be read"),
        (5, "the version or its tag is already taken by a commit that is not HEAD"),
    ],
    "notes": [
        (0, "printed the notes"),
        (1, "git could not read the history"),
        (4, "not a git repository, shallow clone, or VERSION is neither tagged here nor the next version"),
    ],
    "changelog": [
        (0, "printed or wrote the changelog, or FILE was up to date"),
        (1, "git could not read the history"),
        (4, "not a git repository, shallow clone, or FILE cannot be read or written"),
    ],
    "demo": [
        (0, "the whole story ran as told"),
        (1, "a step did not turn out as the story expects"),
        (4, "a prerequisite is missing (the sandbox or test extras)"),
    ],
    "release": [
        (0, "released and verified, or HEAD is already released and running"),
        (1, "build, push, deployment or verification failed, or ECS rolled it back"),
        (3, "timed out waiting for the rollout; it may still be in progress"),
        (4, "uncommitted changes, shallow clone, or a missing tool or AWS resource"),
        (5, "lost the version race claim_attempts times, or superseded"),
    ],
    "releases": [
        (0, "printed the ledger"),
        (1, "an AWS call failed"),
        (4, "no credentials, or the ECR repository does not exist"),
    ],
    "promote": [
        (0, "the tag now names VERSION (or already did)"),
        (1, "an AWS call failed"),
        (4, "VERSION is not released, or the ECR repository does not exist"),
    ],
    "deploy": [
        (0, "deployed and healthy (--no-wait: started), or already running it"),
        (
            1,
            "the deployment failed, ECS rolled it back (or was stopped: abort, a failed test-listener check)",
        ),
        (3, "timed out waiting; the rollout may still be in progress"),
        (
            4,
            "VERSION is not released, the promotion gate is not met, a resource is missing, "
            "or the load balancer setup cannot carry the strategy",
        ),
        (5, "superseded by another deployment"),
    ],
    "abort": [
        (0, "the deployment in flight was stopped and rolled back"),
        (1, "the rollback failed (manual action is needed), or the deployment stopped without one"),
        (3, "timed out waiting for the rollback; it may still be in progress"),
        (
            4,
            "nothing in flight (or it completed before the stop), someone else's without --any, "
            "or ECS here reports no service deployments",
        ),
    ],
    "diff": [
        (0, "printed what a deploy would change (nothing is written)"),
        (4, "VERSION is not released, or the service, cluster or platform stack does not exist"),
    ],
    "rollback": [
        (0, "rolled back and healthy (--no-wait: started), or already running it"),
        (1, "the deployment failed, or ECS rolled it back"),
        (3, "timed out waiting; the rollout may still be in progress"),
        (4, "no such or no earlier healthy version, or a missing AWS resource"),
        (5, "superseded by another deployment"),
    ],
    "status": [
        (0, "printed what runs"),
        (1, "an AWS call failed"),
        (4, "no credentials, or the cluster or service does not exist"),
    ],
    "build": [
        (0, "the build succeeded (--no-follow: started)"),
        (1, "the build failed"),
        (3, "gave up following after build_timeout; the build may still run"),
        (4, "no credentials, a missing project, or a ref the project cannot build"),
    ],
    "logs": [
        (0, "printed the logs (--follow: the build succeeded)"),
        (1, "--follow: the build failed; or an AWS call failed"),
        (3, "gave up following after build_timeout; the build may still run"),
        (4, "no such build, service or log group, or no credentials"),
    ],
    "run": [
        (0, "the task ran and its command exited 0 (--no-wait: the task started)"),
        (1, "the command exited non-zero (its code is shown), or the task could not start"),
        (3, "gave up following after --timeout; the task was left running and is named"),
        (4, "VERSION is not released, or the service, cluster or repository does not exist"),
    ],
    "doctor": [
        (0, "every check passed"),
        (4, "a check failed; each failure is printed with its fix"),
    ],
    "infra deploy": [
        (0, "the stack was created or updated, or had no changes"),
        (1, "the change set or the stack failed (and rolled back)"),
        (3, "timed out waiting for the stack; it may still be changing"),
        (4, "no credentials, or the stack is in a state that needs repair first"),
        (5, "another operation is running on the stack"),
    ],
    "infra diff": [
        (0, "printed what deploy would change"),
        (1, "the change set could not be created"),
        (4, "no credentials, or the stack is in a state that needs repair first"),
        (5, "another operation is running on the stack"),
    ],
    "infra outputs": [
        (0, "printed (and, when asked, wrote) the outputs"),
        (1, "an AWS call failed"),
        (4, "the stack does not exist, or has no outputs for the config"),
    ],
    "infra destroy": [
        (0, "the stack is deleted, or did not exist"),
        (1, "the deletion failed"),
        (3, "timed out waiting; the deletion may still be in progress"),
        (4, "no credentials"),
        (5, "another operation is running on the stack"),
    ],
    "sandbox up": [
        (0, "stopped with Ctrl-C; every process it started has ended"),
        (1, "the sandbox failed to start"),
        (4, "the sandbox extra is not installed, or a port is taken"),
    ],
}


def exit_codes_epilog(rows: Sequence[tuple[int, str]]) -> str:
    # \b keeps click from re-flowing the table into one paragraph.
    lines = [f"  {code:<4} {meaning}" for code, meaning in sorted([*rows, *ANY_COMMAND])]
    return "\n".join(["\b", "Exit codes:", *lines])


class ReleasectlGroup(TyperGroup):
    """The top-level group: on construction, gives every command the global options and its exit codes."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.params[:0] = global_options(hidden=False)
        hidden = global_options(hidden=True)
        for path, command in walk(self):
            _quiet_duplicate_suggestions(command)
            if path:
                _attach_global_options(command, hidden)
            if path and not isinstance(command, click.Group):
                codes = COMMAND_EXIT_CODES.get(" ".join(path))
                parts = [exit_codes_epilog(codes)] if codes is not None else []
                command.epilog = "\n\n".join([*parts, GLOBAL_NOTE])


class ReleasectlCommand(TyperCommand):
    """A command whose arguments are described once, with their help."""

    def __init__(self, name: str | None, **attrs: Any) -> None:
        super().__init__(name, **attrs)
        _restore_argument_help(self)

    def format_arguments(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click 8.5 lists arguments in a section of its own; typer's "Arguments" section already has them.
        return


class ReleasectlTyper(typer.Typer):
    """typer.Typer whose commands are ReleasectlCommands."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[CommandFunction], CommandFunction]:
        kwargs.setdefault("cls", ReleasectlCommand)
        decorator: Callable[[CommandFunction], CommandFunction] = super().command(*args, **kwargs)
        return decorator


def walk(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command under `group` with its path of names, `group` itself first (path ())."""
    yield path, group
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))
        else:
            yield (*path, name), command


def _attach_global_options(command: click.Command, options: Sequence[click.Option]) -> None:
    # A command that declares one of these names itself keeps its own meaning for it.
    taken = {opt for param in command.params for opt in getattr(param, "opts", ())}
    own = [option for option in options if not taken & set(option.opts)]
    command.params.extend(own)


def _quiet_duplicate_suggestions(command: click.Command) -> None:
    # click 8.4+ says "Did you mean ...?" for an unknown command itself; typer's own suggestion
    # would repeat it.
    if isinstance(command, TyperGroup) and hasattr(click.exceptions, "NoSuchCommand"):
        command.suggest_commands = False


def _restore_argument_help(command: click.Command) -> None:
    """Put back the help of typer arguments, which click 8.5's Parameter.__init__ resets to None
    after typer (below 0.25) has set it; without it, `deploy --help` says nothing of VERSION."""
    function = getattr(command.callback, "__wrapped__", None)
    bare = [
        param
        for param in command.params
        if isinstance(param, click.Argument) and not getattr(param, "help", None)
    ]
    if function is None or not bare:
        return  # most commands take no argument: spare them evaluating annotations
    try:
        signature = inspect.signature(function, eval_str=True)
    except (NameError, TypeError, ValueError):
        return
    for param in bare:
        declared = signature.parameters.get(param.name or "")
        if declared is None:
            continue
        for extra in typing.get_args(declared.annotation)[1:]:
            text = getattr(extra, "help", None)
            if isinstance(text, str):
                param.help = text


def read_global_options(command: click.Command, args: Sequence[str], options: GlobalOptions) -> None:
    """After a parse error, read the global options again, so that the error is reported in the
    form asked for wherever `--json` stood (click stops at the first unknown option, before it
    has handled any). Parses leniently, the way click's shell completion does; best effort."""
    try:
        ctx = command.make_context(
            "releasectl", list(args), obj=options, resilient_parsing=True, ignore_unknown_options=True
        )
        while isinstance(ctx.command, click.Group):
            # Click keeps the subcommand name apart from its arguments (click 9 merges them).
            rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
            if not rest:
                return
            name, sub, rest = ctx.command.resolve_command(ctx, rest)
            if name is None or sub is None:
                return
            ctx = sub.make_context(
                name, rest, parent=ctx, resilient_parsing=True, ignore_unknown_options=True
            )
    except (click.ClickException, click.exceptions.Exit):
        return
