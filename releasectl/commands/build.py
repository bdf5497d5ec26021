"""`releasectl build` and `releasectl logs`: run the CodeBuild project for a commit, show its logs.

The build is started on the full commit sha, never a branch name, so what runs is what
the user pointed at even if the branch moves meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from releasectl.adapters.aws.codebuild import BuildInfo, CodeBuildReader, get_build, start_build, stop_build
from releasectl.adapters.aws.logs import CloudWatchLogReader
from releasectl.adapters.git import Git
from releasectl.commands.context import Context
from releasectl.commands.output import write_json, write_lines
from releasectl.core import log_follow as logfollow
from releasectl.core.errors import (
    EnvironmentProblem,
    Interrupted,
    OperationFailed,
    ReleasectlError,
    TimedOut,
    UsageError,
    interrupted_as,
)
from releasectl.core.result import CommandResult, Outcome

# ----------------------------------------------------------------------------- build


def _phase_reporter(ctx: Context) -> Callable[[BuildInfo, BuildInfo], None]:
    def report(old: BuildInfo, new: BuildInfo) -> None:
        if new.current_phase and new.current_phase != old.current_phase:
            ctx.reporter.info(f"[{new.id}] phase {new.current_phase} ({new.status})")

    return report


def _interrupted(client: Any, build_id: str, stop: bool) -> Interrupted:
    if not stop:
        return Interrupted(
            f"interrupted; build {build_id} is still running",
            hint=f"stop it with `aws codebuild stop-build --id {build_id}`, "
            f"or watch it with `releasectl logs {build_id} --follow`",
        )
    try:
        stop_build(client, build_id)
    except ReleasectlError as exc:
        return Interrupted(
            f"interrupted; could not stop build {build_id}: {exc.message}",
            hint=f"stop it with `aws codebuild stop-build --id {build_id}`",
        )
    return Interrupted(f"interrupted; build {build_id} was asked to stop")


def _build_extra(build: BuildInfo, *, commit: str, log_lines: int) -> dict[str, Any]:
    return {
        "build_id": build.id,
        "project": build.project,
        "commit": commit,
        "status": build.status,
        "phases": [phase.to_json() for phase in build.phases],
        "exported_variables": dict(build.exported_variables),
        "log_lines": log_lines,
    }


def _report_no_logs(ctx: Context, build: BuildInfo) -> None:
    if not build.logs_enabled:
        ctx.reporter.info(f"no logs: CloudWatch Logs are disabled for project {build.project}")
    else:
        ctx.reporter.info(f"no logs: build {build.id} wrote no CloudWatch log stream")


def build(
    ctx: Context,
    *,
    ref: str | None,
    follow: bool,
    stop_on_interrupt: bool,
    env: Mapping[str, str] | None = None,
) -> CommandResult:
    started = ctx.clock.now()
    project = ctx.config.require("codebuild_project")
    git = Git(ctx.cwd)
    commit = git.resolve(ref or "HEAD")
    if not git.on_remote_branch(commit):
        ctx.reporter.warn(
            f"commit {commit[:12]} is on no remote branch; CodeBuild fetches from the remote, "
            "so push it first or the build cannot check it out"
        )

    client = ctx.aws.client("codebuild")
    # The request may have reached CodeBuild before the interrupt: say where to look.
    with interrupted_as(
        f"interrupted while starting a build of {project}; one may have started",
        hint=f"check with `aws codebuild list-builds-for-project --project-name {project}`",
    ):
        info = start_build(client, project=project, source_version=commit, env=env)
    ctx.reporter.info(f"started build {info.id} of {project} at {commit}")
    url = None if ctx.config.endpoint_url else info.console_url(ctx.config.region)
    if url:
        ctx.reporter.info(f"  console: {url}")
    ctx.reporter.info(f"  logs:    releasectl logs {info.id} --follow")

    timeout = ctx.config.build_timeout
    with interrupted_as(lambda: _interrupted(client, info.id, stop_on_interrupt)):
        followed = logfollow.follow(
            info,
            builds=CodeBuildReader(client),
            logs=CloudWatchLogReader(ctx.aws.client("logs")),
            clock=ctx.clock,
            emit=ctx.reporter.log_line,
            deadline=started + timeout,
            read_logs=follow,
            on_change=_phase_reporter(ctx),
        )

    final = followed.build
    if follow and not followed.stream_seen and final.terminal:
        _report_no_logs(ctx, final)
    if final.exported_variables:
        ctx.reporter.info("exported variables:")
        for name, value in final.exported_variables.items():
            ctx.reporter.info(f"  {name}={value}")

    extra = _build_extra(final, commit=commit, log_lines=followed.lines_shown)
    duration = ctx.clock.now() - started
    if followed.timed_out:
        phase = f" in phase {final.current_phase}" if final.current_phase else ""
        return CommandResult(
            "build",
            Outcome.TIMED_OUT,
            f"gave up after {timeout}s (build_timeout); build {final.id} is still {final.status}{phase}",
            duration_s=duration,
            extra=extra,
        )
    if final.succeeded:
        return CommandResult(
            "build", Outcome.SUCCEEDED, f"build {final.id} succeeded", duration_s=duration, extra=extra
        )
    return CommandResult("build", Outcome.FAILED, final.failure_summary(), duration_s=duration, extra=extra)


# ----------------------------------------------------------------------------- logs


def logs(ctx: Context, *, build_id: str, follow: bool) -> int:
    """Print a build's log lines on stdout (they are this command's output)."""
    if ":" not in build_id:
        raise UsageError(
            f"{build_id!r} is not a CodeBuild build id",
            hint="build ids look like PROJECT:UUID; `releasectl build` prints them",
        )
    client = ctx.aws.client("codebuild")
    info = get_build(client, build_id)
    if info is None:
        raise EnvironmentProblem(
            f"build {build_id} not found", hint="check the build id and the region (--region)"
        )

    collected: list[str] = []

    def emit(line: str) -> None:
        if ctx.json_output:
            collected.append(line)
        else:
            write_lines([line])

    reader = CloudWatchLogReader(ctx.aws.client("logs"))
    if follow:
        final, stream_seen = _follow_logs(ctx, client, reader, info, emit)
    else:
        final, stream_seen = info, _dump_logs(reader, info, emit)

    if not stream_seen:
        _report_no_logs(ctx, final)
    failed = follow and not final.succeeded
    if failed:
        ctx.reporter.warn(final.failure_summary())
    if ctx.json_output:
        write_json(
            {
                "command": "logs",
                "build_id": final.id,
                "status": final.status,
                "lines": collected,
                "exported_variables": dict(final.exported_variables),
            }
        )
    return 1 if failed else 0


def _follow_logs(
    ctx: Context, client: Any, reader: CloudWatchLogReader, info: BuildInfo, emit: Callable[[str], None]
) -> tuple[BuildInfo, bool]:
    with interrupted_as(f"stopped following build {info.id}; the build itself was not touched"):
        followed = logfollow.follow(
            info,
            builds=CodeBuildReader(client),
            logs=reader,
            clock=ctx.clock,
            emit=emit,
            deadline=ctx.clock.now() + ctx.config.build_timeout,
            on_change=_phase_reporter(ctx),
        )
    if followed.timed_out:
        raise TimedOut(
            f"gave up following build {info.id} after {ctx.config.build_timeout}s (build_timeout); "
            f"it is still {followed.build.status}",
            hint=f"run `releasectl logs {info.id} --follow` again",
        )
    return followed.build, followed.stream_seen


def _dump_logs(reader: CloudWatchLogReader, info: BuildInfo, emit: Callable[[str], None]) -> bool:
    if not info.logs_enabled:
        return False
    location = info.log_location or info.default_log_location
    try:
        shown = logfollow.read_all(reader, location, emit=emit)
    except logfollow.Throttled:
        raise OperationFailed(
            f"AWS kept throttling GetLogEvents for build {info.id}", hint="wait and run the command again"
        ) from None
    return shown is not None
