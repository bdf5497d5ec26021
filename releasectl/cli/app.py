"""Command-line interface: parse, call one handler, render its answer, map the exit code.

Handlers live in their own modules and are imported inside each command, so
`releasectl version --offline` never loads boto3 or rich.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any

import typer

from releasectl import __version__
from releasectl.cli.exits import guarded, report
from releasectl.cli.options import GlobalOptions, ReleasectlGroup, ReleasectlTyper, read_global_options
from releasectl.core.errors import ExitCode, ReleasectlError, UsageError

EXIT_CODES_HELP = """\b
Exit codes:
  0    succeeded, or nothing to do
  1    the operation ran and failed (build failed, deployment rolled back, ...)
  2    usage error or invalid input; nothing was changed
  3    timed out waiting; the operation may still be in progress
  4    environment or precondition error (credentials, missing resource,
       unknown version, shallow clone); nothing was changed
  5    conflict: superseded by another deployment, or a version claim lost its race
  130  interrupted

\b
Global options may also follow the command: `releasectl status --json`.
`releasectl COMMAND --help` lists what each command's exit codes mean for it.
"""

app = ReleasectlTyper(
    name="releasectl",
    cls=ReleasectlGroup,  # adds the global options (releasectl/cli/options.py) to every command
    help="Version, build, publish, deploy and roll back a container service on AWS.",
    epilog=EXIT_CODES_HELP,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(ctx: typer.Context, value: bool) -> None:
    # Resilient parsing re-reads an erroneous line for its global options; it must not answer.
    if value and not ctx.resilient_parsing:
        typer.echo(f"releasectl {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show version and exit."),
    ] = None,
) -> None:
    ctx.ensure_object(GlobalOptions).command = ctx.invoked_subcommand


def _options(ctx: typer.Context) -> GlobalOptions:
    return ctx.find_root().ensure_object(GlobalOptions)


def _context(ctx: typer.Context, **flags: Any) -> Any:
    from releasectl.commands.context import Context, StreamReporter
    from releasectl.core.config import load_config

    options = _options(ctx)
    config = load_config(flags={**options.config_flags(), **flags}, config_path=options.config)
    context = Context(
        config=config,
        json_output=options.json_output,
        verbose=options.verbose,
        reporter=StreamReporter(verbose=options.verbose),
    )
    options.context = context  # a command that ends in an error is announced with its config
    return context


def _finish(result: Any, context: Any) -> None:
    from releasectl.cli.render import write_result
    from releasectl.commands.notify import announce_result

    announce_result(context, result)  # `notify` targets; a failure to send is only a warning
    write_result(result, json_output=context.json_output)
    if result.exit_code != ExitCode.OK:
        raise typer.Exit(int(result.exit_code))


def _show(view: Any, context: Any) -> None:
    from releasectl.cli.render import write_view

    write_view(view, json_output=context.json_output)


RolloutTimeoutOption = Annotated[
    int | None,
    typer.Option(
        help="Seconds to wait for the rollout.", min=1, show_default="deploy_timeout from config, 900"
    ),
]


# ----------------------------------------------------------------------------- versioning


@app.command("version")
def version_cmd(
    ctx: typer.Context,
    offline: Annotated[bool, typer.Option(help="Use git tags only; no AWS calls.")] = False,
) -> None:
    """Print the current released version and the next one, with the reason."""
    context = _context(ctx)
    from releasectl.commands.version import version_report

    _show(version_report(context, offline=offline), context)


@app.command()
def bump(
    ctx: typer.Context,
    level: Annotated[
        str, typer.Argument(help="auto (from the commits since the last release), major, minor or patch.")
    ] = "auto",
    pre: Annotated[str | None, typer.Option(help="Pre-release label, e.g. rc → X.Y.Z-rc.N.")] = None,
    git_tag: Annotated[bool, typer.Option("--git-tag", help="Create an annotated vX.Y.Z tag.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Push the tag (with --git-tag).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide and print; change nothing.")] = False,
    offline: Annotated[bool, typer.Option(help="Use git tags only; no AWS calls.")] = False,
) -> None:
    """Decide the next version; optionally tag it in git."""
    context = _context(ctx)
    from releasectl.commands.version import bump as do_bump

    _finish(
        do_bump(context, level=level, pre=pre, git_tag=git_tag, push=push, dry_run=dry_run, offline=offline),
        context,
    )


@app.command()
def notes(
    ctx: typer.Context,
    version: Annotated[
        str | None,
        typer.Argument(
            help="A version tagged here, e.g. 1.2.0, or the next one.", show_default="the next version"
        ),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="md (markdown) or json.")] = "md",
) -> None:
    """Release notes: a version's commits as breaking changes, features, fixes and others."""
    context = _context(ctx)
    from releasectl.commands.notes import check_format, notes_report

    chosen = check_format(output_format)
    view = notes_report(context, version=version)
    if chosen == "json" and not context.json_output:
        from releasectl.cli.render import write_view

        write_view(view, json_output=True)
        return
    _show(view, context)


@app.command()
def changelog(
    ctx: typer.Context,
    write: Annotated[
        Path | None,
        typer.Option(
            "--write",
            metavar="FILE",
            help="Write it to FILE, keeping the hand-written header at its top; an unchanged FILE stays.",
        ),
    ] = None,
) -> None:
    """Every release with its notes, newest first (markdown; --json for data)."""
    context = _context(ctx)
    from releasectl.commands.notes import changelog_report, write_changelog

    if write is None:
        _show(changelog_report(context), context)
        return
    _finish(write_changelog(context, write), context)


@app.command()
def demo(
    ctx: typer.Context,
    record: Annotated[Path | None, typer.Option(help="Save the terminal session as SVG.")] = None,
) -> None:
    """Run the whole story end to end on this machine.

    With -v, the full log (every build and sandbox line) is shown too.
    """
    context = _context(ctx)
    from releasectl.commands.plugins import handler

    run_demo = handler("demo")

    # -v is the global option, so `demo -v` and `-v demo` mean the same.
    code = run_demo(context, record=record, verbose=context.verbose)
    if code:
        raise typer.Exit(code)


# ----------------------------------------------------------------------------- release


@app.command("release")
def release_cmd(
    ctx: typer.Context,
    deploy: Annotated[
        bool, typer.Option("--deploy/--no-deploy", help="Deploy and verify after claiming.")
    ] = True,
    builder: Annotated[
        str | None,
        typer.Option(
            help="Image builder: docker, or an installed one such as sandbox (default: config builder)."
        ),
    ] = None,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="Write RELEASE_VERSION, IMAGE_DIGEST, IMAGE_URI as shell exports."),
    ] = None,
    timeout: RolloutTimeoutOption = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the rollout's outcome.")] = True,
    allow_unpushed: Annotated[
        bool,
        typer.Option("--allow-unpushed", help="Release a commit no remote branch holds (outside CodeBuild)."),
    ] = False,
) -> None:
    """Version, build, push, claim, deploy and verify: what CodeBuild runs on every push."""
    context = _context(ctx)
    from releasectl.commands.release import release as do_release

    result = do_release(
        context,
        deploy=deploy,
        builder=builder,
        env_file=env_file,
        timeout=timeout,
        wait=wait,
        allow_unpushed=allow_unpushed,
    )
    _finish(result, context)


# ----------------------------------------------------------------------------- ECR


@app.command()
def releases(ctx: typer.Context) -> None:
    """The ledger: version, digest, commit, pushed at, deployment outcome."""
    context = _context(ctx)
    from releasectl.commands.releases import list_releases

    _show(list_releases(context), context)


@app.command()
def promote(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Released version, e.g. 1.2.0.")],
    tag: Annotated[
        str, typer.Option(help="Floating tag to move: one of floating_tags (default latest, staging, prod).")
    ] = "latest",
) -> None:
    """Move a floating tag to VERSION's digest, without pulling the image."""
    context = _context(ctx)
    from releasectl.commands.promote import promote as do_promote

    _finish(do_promote(context, version=version, tag=tag), context)


# ----------------------------------------------------------------------------- ECS


@app.command()
def deploy(
    ctx: typer.Context,
    version: Annotated[
        str | None, typer.Argument(help="Released version, e.g. 1.2.0.", show_default="newest release")
    ] = None,
    timeout: RolloutTimeoutOption = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the rollout's outcome.")] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; make no AWS write.")] = False,
    override_gate: Annotated[
        bool,
        typer.Option("--override-gate", help="Deploy although the version has not succeeded in `after`."),
    ] = False,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why the gate is overridden (recorded with the deployment)."),
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            metavar="NAME",
            help="rolling, blue-green, canary or linear, instead of the service definition's; "
            "the service keeps it until a deploy changes it.",
            show_default="the service definition's, else the service's",
        ),
    ] = None,
) -> None:
    """Deploy a released version to the environment's ECS service, pinned by digest."""
    context = _context(ctx)
    from releasectl.commands.deploy import deploy as do_deploy

    _finish(
        do_deploy(
            context,
            version=version,
            timeout=timeout,
            wait=wait,
            dry_run=dry_run,
            override_gate=override_gate,
            reason=reason,
            strategy=strategy,
        ),
        context,
    )


@app.command()
def abort(
    ctx: typer.Context,
    any_deployment: Annotated[
        bool,
        typer.Option("--any", help="Stop the deployment in flight even if releasectl did not start it."),
    ] = False,
    timeout: Annotated[
        int | None,
        typer.Option(
            help="Seconds to wait for the rollback.", min=1, show_default="deploy_timeout from config, 900"
        ),
    ] = None,
) -> None:
    """Stop the deployment in flight with a rollback, wait for the rollback, report it."""
    context = _context(ctx)
    from releasectl.commands.abort import abort as do_abort

    _finish(do_abort(context, any_deployment=any_deployment, timeout=timeout), context)


@app.command()
def diff(
    ctx: typer.Context,
    version: Annotated[
        str | None, typer.Argument(help="Released version, e.g. 1.2.0.", show_default="newest release")
    ] = None,
) -> None:
    """What a deploy of VERSION would change on the environment's service, field by field."""
    context = _context(ctx)
    from releasectl.commands.diff import service_diff

    _show(service_diff(context, version=version), context)


@app.command()
def rollback(
    ctx: typer.Context,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Version to go back to.", show_default="newest earlier healthy version"),
    ] = None,
    timeout: RolloutTimeoutOption = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the rollout's outcome.")] = True,
    force: Annotated[
        bool, typer.Option("--force", help="Go back to a --to version whose last deployment failed.")
    ] = False,
) -> None:
    """Deploy an earlier version (default: newest earlier one verified healthy)."""
    context = _context(ctx)
    from releasectl.commands.rollback import rollback as do_rollback

    _finish(do_rollback(context, to=to, timeout=timeout, wait=wait, force=force), context)


@app.command("run", context_settings={"allow_interspersed_args": False})
def run_cmd(
    ctx: typer.Context,
    command: Annotated[
        list[str] | None,
        typer.Argument(help="The command and its arguments, after `--`.", show_default=False),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="Released version whose revision runs the task.",
            show_default="the version the service runs",
        ),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the task to its end.")] = True,
    timeout: Annotated[
        int | None,
        typer.Option(
            help="Seconds to follow the task; then exit 3 and leave it running.",
            min=1,
            show_default="deploy_timeout from config, 900",
        ),
    ] = None,
    stop_on_interrupt: Annotated[
        bool, typer.Option("--stop-on-interrupt", help="Stop the task on Ctrl-C (else a terminal asks).")
    ] = False,
) -> None:
    """Run a one-off task (a migration, a script) from a release, as the service runs: `run -- CMD ARGS…`."""
    options = _options(ctx)
    if "--" not in options.argv or not command:
        raise UsageError("run takes its command after `--`", hint="releasectl run [--version V] -- CMD ARGS…")
    context = _context(ctx)
    from releasectl.commands.run import run as do_run

    result = do_run(
        context,
        command=list(command),
        version=version,
        wait=wait,
        timeout=timeout,
        stop_on_interrupt=stop_on_interrupt,
        ask=_terminal_question(),
    )
    _finish(result, context)


def _terminal_question() -> Any:
    """A yes/no question for the person at the terminal, or None when nobody can answer it."""
    import sys

    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None

    def ask(question: str) -> bool:
        import click

        try:
            return bool(typer.confirm(question, default=False, err=True))
        except click.exceptions.Abort:
            return False

    return ask


@app.command()
def status(ctx: typer.Context) -> None:
    """What runs now: version, digest, task definition, rollout state, counts, events."""
    context = _context(ctx)
    from releasectl.commands.status import service_status

    _show(service_status(context), context)


# ----------------------------------------------------------------------------- CodeBuild


@app.command()
def build(
    ctx: typer.Context,
    ref: Annotated[str | None, typer.Option(help="Commit, branch or tag to build (default HEAD).")] = None,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Stream logs until it ends.")] = True,
    stop_on_interrupt: Annotated[
        bool, typer.Option("--stop-on-interrupt", help="Stop the build on Ctrl-C.")
    ] = False,
    local: Annotated[
        bool,
        typer.Option("--local", help="Run buildspec.yml here, in a clean checkout, the way CodeBuild would."),
    ] = False,
    build_env: Annotated[
        list[str] | None,
        typer.Option(
            "--build-env",
            metavar="KEY=VALUE",
            help="A variable that overrides the buildspec's for this build, as CodeBuild's start-build "
            "override (repeatable). With --local, UNIT_TESTS from the environment counts as one too.",
        ),
    ] = None,
) -> None:
    """Start the CodeBuild project for a commit and stream its logs."""
    context = _context(ctx)
    if local:
        from releasectl.commands.local_build import local_build

        _finish(local_build(context, ref=ref, env=build_env or ()), context)
        return
    from releasectl.commands.build import build as do_build
    from releasectl.commands.local_build import build_overrides

    overrides = build_overrides(build_env or (), {})
    _finish(
        do_build(context, ref=ref, follow=follow, stop_on_interrupt=stop_on_interrupt, env=overrides or None),
        context,
    )


@app.command()
def logs(
    ctx: typer.Context,
    build_id: Annotated[
        str | None, typer.Argument(help="CodeBuild build id (project:uuid).", show_default=False)
    ] = None,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep following (a build: until it ends; --service: Ctrl-C)."),
    ] = False,
    service: Annotated[
        bool, typer.Option("--service", help="The service's containers' logs instead of a build's.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(help="With --service: how far back, e.g. 30s, 10m, 2h, 1d.", show_default="10m"),
    ] = None,
    task: Annotated[
        str | None, typer.Option("--task", metavar="ID", help="With --service: one task's lines only.")
    ] = None,
) -> None:
    """Print (or follow) a CodeBuild build's logs, or with --service the service's own."""
    if service == (build_id is not None):
        raise UsageError(
            "logs takes a build id or --service (not both)",
            hint="releasectl logs BUILD_ID [--follow], or releasectl logs --service [--since 10m] [--follow]",
        )
    if not service and (since is not None or task is not None):
        raise UsageError("--since and --task go with --service", hint="releasectl logs --service --since 10m")
    context = _context(ctx)
    if service:
        from releasectl.commands.service_logs import service_logs

        code = service_logs(context, follow=follow, since=since, task=task)
    else:
        from releasectl.commands.build import logs as do_logs

        code = do_logs(context, build_id=str(build_id), follow=follow)
    if code:
        raise typer.Exit(code)


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Check credentials, region, git state and every configured resource."""
    context = _context(ctx)
    from releasectl.commands.doctor import doctor as do_doctor

    report = do_doctor(context)
    _show(report, context)
    if report.exit_code:
        raise typer.Exit(int(report.exit_code))


# ----------------------------------------------------------------------------- CloudFormation

infra_app = ReleasectlTyper(
    help="The CloudFormation stack under infra/, changed only through change sets.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(infra_app, name="infra")

StackNameOption = Annotated[
    str | None,
    typer.Option(
        "--stack-name",
        help="CloudFormation stack name.",
        show_default="the environment's stack, else releasectl",
    ),
]


def _stack(context: Any, given: str | None) -> str:
    """The stack an infra command acts on: --stack-name, else the environment's platform stack."""
    return given or context.config.stack_name or "releasectl"


TemplateOption = Annotated[Path, typer.Option("--template", help="Template file.")]
ParameterOption = Annotated[
    list[str] | None,
    typer.Option("--parameter", "-p", help="Template parameter as KEY=VALUE; repeatable."),
]
InfraTimeoutOption = Annotated[int, typer.Option(help="Seconds to wait for the stack.", min=1)]


@infra_app.command("deploy")
def infra_deploy(
    ctx: typer.Context,
    stack_name: StackNameOption = None,
    template: TemplateOption = Path("infra/releasectl.yaml"),
    parameter: ParameterOption = None,
    timeout: InfraTimeoutOption = 3600,
) -> None:
    """Create a change set, execute it and stream the stack's events until it settles."""
    context = _context(ctx)
    from releasectl.commands.infra import deploy as do_deploy

    result = do_deploy(
        context,
        stack_name=_stack(context, stack_name),
        template=template,
        parameters=parameter or [],
        timeout=timeout,
    )
    _finish(result, context)


@infra_app.command("diff")
def infra_diff(
    ctx: typer.Context,
    stack_name: StackNameOption = None,
    template: TemplateOption = Path("infra/releasectl.yaml"),
    parameter: ParameterOption = None,
) -> None:
    """Show what deploy would change (the change set is deleted afterwards)."""
    context = _context(ctx)
    from releasectl.commands.infra import diff as do_diff

    _show(
        do_diff(
            context, stack_name=_stack(context, stack_name), template=template, parameters=parameter or []
        ),
        context,
    )


@infra_app.command("outputs")
def infra_outputs(
    ctx: typer.Context,
    stack_name: StackNameOption = None,
    write_config: Annotated[
        bool, typer.Option("--write-config", help="Write them into [tool.releasectl] of pyproject.toml.")
    ] = False,
    exports: Annotated[
        bool, typer.Option("--exports", help="Print `export RELEASECTL_...=...` lines.")
    ] = False,
) -> None:
    """Print the stack's outputs; optionally write them into the config."""
    context = _context(ctx)
    from releasectl.commands.infra import outputs as do_outputs

    view = do_outputs(
        context,
        stack_name=_stack(context, stack_name),
        write_config=write_config,
        env=exports,
        config_path=_options(ctx).config,
    )
    _show(view, context)


@infra_app.command("destroy")
def infra_destroy(
    ctx: typer.Context,
    stack_name: StackNameOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: delete the stack.")] = False,
    timeout: InfraTimeoutOption = 3600,
) -> None:
    """Delete the stack and wait until it is gone (the release repository is kept)."""
    context = _context(ctx)
    from releasectl.commands.infra import destroy as do_destroy

    _finish(do_destroy(context, stack_name=_stack(context, stack_name), yes=yes, timeout=timeout), context)


# ----------------------------------------------------------------------------- sandbox

sandbox_app = ReleasectlTyper(
    help="The embedded local AWS: moto plus CodeBuild, ECS and ALB simulators.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("up")
def sandbox_up_cmd(
    ctx: typer.Context,
    port: Annotated[
        int | None,
        typer.Option(help="AWS endpoint port on 127.0.0.1 (default: a free one).", min=0, max=65535),
    ] = None,
    alb_port: Annotated[
        int | None,
        typer.Option(
            "--alb-port", help="Load balancer port on 127.0.0.1 (default: a free one).", min=0, max=65535
        ),
    ] = None,
) -> None:
    """Run the sandbox in the foreground until Ctrl-C; stopping ends every process it started."""
    context = _context(ctx)
    from releasectl.commands.plugins import handler

    sandbox_up = handler("sandbox-up")

    code = sandbox_up(context, port=port, alb_port=alb_port)
    if code:
        raise typer.Exit(code)


# ----------------------------------------------------------------------------- entry point


@functools.cache
def _click_command() -> Any:
    """Typer's command tree, built once per process. Building it inspects and evaluates every
    command's signature (~10 ms); a click command is a definition, and each `main` call makes
    its own context, so one serves every run of a process that runs many (tests, the sandbox)."""
    return typer.main.get_command(app)


def run(args: list[str]) -> int:
    """Run the CLI and return its exit code; errors become one line on stderr."""
    import click

    command = _click_command()
    # One per run: callers in tests run many commands in one process.
    import time

    options = GlobalOptions(argv=tuple(args), started=time.monotonic())

    def body() -> int:
        try:
            # Without standalone mode click hands back typer.Exit's code instead of raising it.
            returned = command.main(args=args, prog_name="releasectl", standalone_mode=False, obj=options)
            return int(returned) if isinstance(returned, int) else 0
        except ReleasectlError as exc:
            _announce_error(options, exc)
            raise
        except click.exceptions.Exit as exc:
            return int(exc.exit_code)
        except click.exceptions.Abort:
            return report(options, "interrupted", ExitCode.INTERRUPTED)
        except click.exceptions.NoArgsIsHelpError as exc:
            # `releasectl` (or `releasectl infra`) alone asks what there is: help, not an error.
            typer.echo(exc.ctx.get_help())
            return int(ExitCode.OK)
        except click.ClickException as exc:
            # Usage problems: wrong option, missing argument, bad choice.
            read_global_options(command, args, options)
            return report(options, exc.format_message(), ExitCode.USAGE, hint=_usage_hint(exc))

    return guarded(options, body)


def _announce_error(options: GlobalOptions, exc: ReleasectlError) -> None:
    if options.context is None:
        return  # it ended before its configuration was read
    import time

    from releasectl.commands.notify import announce_error

    announce_error(options.context, options.command, exc, time.monotonic() - options.started)


def _usage_hint(exc: Any) -> str | None:
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        return f"see `{ctx.command_path} --help`"
    return "see `releasectl --help`"


__all__ = ["UsageError", "app", "run"]
