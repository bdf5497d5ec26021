"""`releasectl run -- CMD ARGS…`: a one-off ECS task from a release's revision, followed to its end.

The task runs the revision the service runs for that version (the running one by default), or,
when the service has never run it, a revision rendered as a deploy would render it (from
service.toml, else the running revision with the image replaced), registered and marked
`releasectl:one-off`. It gets the service's network and launch settings and the command of
`container_name` overridden. Its logs stream to stderr; its end is the exit code:
0 → 0, N → 1 (the code in the message and the JSON), could not start → 1 with ECS's reason,
timed out → 3 (the task is left running, and named). A release's migration runs through the
same engine (releasectl.commands.migrate).
"""

from __future__ import annotations

import itertools
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from releasectl.core.errors import (
    EnvironmentProblem,
    Interrupted,
    ReleasectlError,
    UsageError,
    interrupted_as,
)
from releasectl.core.oneoff import (
    LOG_TAIL,
    RUN_STARTED_BY,
    AwsLogs,
    TaskState,
    command_text,
    container_logs,
    ending,
    launch_settings,
    run_task_request,
    task_id,
)
from releasectl.core.result import CommandResult, ImageInfo, Outcome
from releasectl.core.versions import ONE_OFF_TAG

if TYPE_CHECKING:
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.adapters.aws.ecs_tasks import TaskApi
    from releasectl.commands.context import Context
    from releasectl.core.deploy_plan import Revision
    from releasectl.core.ledger import Release

# How many ACTIVE revisions are read looking for one that already runs the release's digest.
REVISION_SCAN = 10

Ask = Callable[[str], bool]


@dataclass
class TaskRun:
    """How a one-off task went."""

    outcome: Outcome
    message: str
    arn: str | None = None
    state: TaskState | None = None
    tail: list[str] = field(default_factory=list)
    lines: int = 0
    logs: AwsLogs | None = None
    failures: tuple[str, ...] = ()
    raw: Mapping[str, Any] | None = None  # the task as ECS last described it

    @property
    def exit_code(self) -> int | None:
        return self.state.exit_code if self.state else None

    def to_json(self) -> dict[str, Any]:
        return {
            "task_arn": self.arn,
            "task_id": task_id(self.arn) if self.arn else None,
            "last_status": self.state.last_status if self.state else None,
            "exit_code": self.exit_code,
            "stopped_reason": self.state.why if self.state and self.state.stopped else None,
            "log_group": self.logs.group if self.logs else None,
            "log_stream": self.logs.stream(task_id(self.arn)) if self.logs and self.arn else None,
            "log_lines": self.lines,
        }


def run(
    ctx: Context,
    *,
    command: Sequence[str],
    version: str | None,
    wait: bool,
    timeout: int | None,
    stop_on_interrupt: bool,
    ask: Ask | None = None,
) -> CommandResult:
    """Run `command` once in the environment's service setting, from `version`'s revision."""
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.commands.deploy import version_argument

    if not command:
        raise UsageError("run needs a command after `--`", hint="releasectl run -- python -m service.migrate")
    wanted = version_argument(ctx, version)
    container = ctx.config.require("container_name")
    ctx.config.require("ecr_repository")
    started = ctx.clock.now()
    release = _release(ctx, wanted) if wanted is not None else None
    # Before the first call of the environment's clients: an assumed role's session names the run.
    ctx.name_session(f"run-{release.version}" if release else "run", ctx.config.env)
    ecs = EcsApi.from_context(ctx)
    service = ecs.describe_service()
    current = ecs.describe_task_definition(str(service["taskDefinition"]))
    revision, registered = task_revision(ctx, ecs, current=current, release=release, purpose="run")
    shown_version = release.version if release else current.version
    where = f"{ecs.service} in cluster {ecs.cluster}"
    ctx.reporter.info(
        f"running `{command_text(command)}` from {revision.arn} "
        f"({shown_version or 'the running image'}) with the network settings of service {where}"
    )
    went = launch(
        ctx,
        ecs,
        revision,
        settings=launch_settings(service),
        command=command,
        started_by=RUN_STARTED_BY,
        wait=wait,
        timeout=timeout or ctx.config.deploy_timeout,
        stop_on_interrupt=stop_on_interrupt,
        ask=ask,
    )
    image = revision.image(container)
    result = CommandResult(
        command="run",
        outcome=went.outcome,
        message=went.message,
        version=shown_version,
        image=ImageInfo(
            repository=ctx.config.ecr_repository or str(image).split("@", 1)[0],
            digest=revision.digest(container),
            uri=image,
        ),
        duration_s=max(0.0, ctx.clock.now() - started),
        extra={
            "cluster": ecs.cluster,
            "service": ecs.service,
            "task_definition": revision.arn,
            "registered": registered,
            "command_line": list(command),
            **went.to_json(),
        },
    )
    if went.outcome is Outcome.FAILED:
        from releasectl.commands.evidence import task_evidence

        if went.raw is not None:
            result.extra["evidence"] = task_evidence(went.raw, went.tail).to_json()
        elif went.failures:
            result.extra["evidence"] = {"summary": "; ".join(went.failures), "stopped_tasks": []}
    return result


def _release(ctx: Context, version: str) -> Release:
    from releasectl.commands.deploy import load_releases
    from releasectl.core.deploy_plan import resolve_release

    return resolve_release(load_releases(ctx), version)


# ----------------------------------------------------------------------------- the revision


def task_revision(
    ctx: Context,
    ecs: EcsApi,
    *,
    current: Revision | None,
    release: Release | None,
    purpose: str,
    reuse: bool = True,
) -> tuple[Revision, bool]:
    """The revision a one-off task of `release` runs from, and whether it was registered for it.

    The running one when it runs the release's digest (or no release is named); else the newest
    ACTIVE revision that does (`reuse`); else a new one, rendered as a deploy would render it."""
    container = ctx.config.require("container_name")
    if release is None:
        if current is None:
            raise EnvironmentProblem("the service runs nothing yet", hint="name a version: --version V")
        return current, False
    if reuse and current is not None:
        if current.digest(container) == release.digest:
            return current, False
        active = ecs.described(ecs.revisions(current.family, status="ACTIVE"), skip=[current.arn])
        for revision in itertools.islice(active, REVISION_SCAN):
            if revision.digest(container) == release.digest and revision.version in (None, release.version):
                ctx.reporter.detail(f"{revision.arn} already runs {release.version}'s image")
                return revision, False
    body = one_off_revision_input(ctx, current=current, release=release, purpose=purpose)
    registered = ecs.register(body)
    ctx.reporter.info(f"registered {registered.arn} for a one-off task of {release.version}")
    return registered, True


def one_off_revision_input(
    ctx: Context, *, current: Revision | None, release: Release, purpose: str
) -> dict[str, Any]:
    """register_task_definition arguments for `release`, as `deploy` would register them now:
    from the service definition when there is one, else the running revision with the image of
    container_name replaced. Marked one-off: no deployment ran it."""
    from releasectl.adapters.aws.ecr import describe_repository
    from releasectl.commands.definition import read_definition, resolve_definition
    from releasectl.core import imageref
    from releasectl.core.definition_plan import revision_tags
    from releasectl.core.deploy_plan import new_revision_input

    container = ctx.config.require("container_name")
    repository = describe_repository(ctx.aws.client("ecr"), ctx.config.require("ecr_repository")).uri
    image = imageref.with_digest(repository, str(release.digest))
    definition = read_definition(ctx)
    if definition is not None:
        from releasectl.core.service_shape import to_task_definition

        resolved = resolve_definition(ctx, definition)
        body = to_task_definition(
            resolved.spec, container_name=container, image=image, region=resolved.region
        )
        body["tags"] = revision_tags(release)
    elif current is not None:
        body = new_revision_input(
            current, container_name=container, image=image, version=release.version, commit=release.commit
        )
    else:
        raise EnvironmentProblem(
            f"service {ctx.config.ecs_service} does not exist and there is no service definition to "
            f"render {release.version}'s task definition from",
            hint="deploy first, or add a service.toml (docs/service-definition.md)",
        )
    body["tags"] = [*body["tags"], {"key": ONE_OFF_TAG, "value": purpose}]
    return body


# ----------------------------------------------------------------------------- start and follow


def launch(
    ctx: Context,
    ecs: EcsApi,
    revision: Revision,
    *,
    settings: Mapping[str, Any],
    command: Sequence[str],
    started_by: str,
    wait: bool,
    timeout: int,
    stop_on_interrupt: bool = False,
    ask: Ask | None = None,
    emit: Callable[[str], None] | None = None,
) -> TaskRun:
    """Start one task of `revision` running `command`, and (with `wait`) follow it to its end."""
    from releasectl.adapters.aws.ecs_tasks import TaskApi

    container = ctx.config.require("container_name")
    tasks = TaskApi(ecs.client, cluster=ecs.cluster)
    request = run_task_request(
        cluster=ecs.cluster,
        task_definition=revision.arn,
        container_name=container,
        command=command,
        settings=settings,
        # One per command: botocore resends it with every retry of this one call, so an answer
        # lost on the way back cannot make a second task.
        client_token=uuid.uuid4().hex,
        started_by=started_by,
    )
    logs = container_logs(revision.definition, container)
    with interrupted_as(
        f"interrupted while starting a one-off task of {revision.arn}; one may have started",
        hint=f"`aws ecs list-tasks --cluster {ecs.cluster} --started-by {started_by}` lists them",
    ):
        answer = tasks.run(request)
    if answer.task is None:
        reasons = "; ".join(answer.failures) or "ECS started no task and gave no reason"
        return TaskRun(
            Outcome.FAILED, f"could not start a task of {revision.arn}: {reasons}", failures=answer.failures
        )
    arn = str(answer.task["taskArn"])
    ident = task_id(arn)
    ctx.reporter.info(f"started task {ident} in cluster {ecs.cluster}")
    if logs is None:
        ctx.reporter.warn(f"container {container} logs through no awslogs driver: its output cannot be shown")
    if not wait:
        return TaskRun(
            Outcome.SUCCEEDED,
            f"task {ident} started, not followed (--no-wait); `releasectl logs --service --task {ident}` "
            "shows its output",
            arn=arn,
            state=TaskState.from_api(answer.task, container),
            logs=logs,
        )
    return follow_task(
        ctx,
        tasks,
        arn,
        container=container,
        logs=logs,
        timeout=timeout,
        stop_on_interrupt=stop_on_interrupt,
        ask=ask,
        emit=emit or ctx.reporter.log_line,
    )


def follow_task(
    ctx: Context,
    tasks: TaskApi,
    arn: str,
    *,
    container: str,
    logs: AwsLogs | None,
    timeout: int,
    stop_on_interrupt: bool,
    ask: Ask | None,
    emit: Callable[[str], None],
) -> TaskRun:
    """Stream the task's log until it has stopped and its last lines are in (the build-log
    follower's rules: one read a second at most, each line once), or until `timeout`."""
    from releasectl.adapters.aws.ecs_tasks import TaskInfo, TaskReader
    from releasectl.adapters.aws.logs import CloudWatchLogReader
    from releasectl.core import log_follow

    ident = task_id(arn)
    tail: deque[str] = deque(maxlen=LOG_TAIL)

    def show(line: str) -> None:
        tail.append(line)
        emit(line)

    reader = TaskReader(tasks, container, logs)
    first = reader.get(arn)
    with interrupted_as(lambda: _interrupted(ctx, tasks, arn, stop_on_interrupt, ask)):
        followed = log_follow.follow(
            first,
            builds=reader,
            logs=CloudWatchLogReader(ctx.env_aws().client("logs")),
            clock=ctx.clock,
            emit=show,
            deadline=ctx.clock.now() + timeout,
            read_logs=logs is not None,
        )
    final: TaskInfo = followed.build
    state = final.state

    def went(outcome: Outcome, message: str, raw: Mapping[str, Any] | None = None) -> TaskRun:
        return TaskRun(
            outcome,
            message,
            arn=arn,
            state=state,
            tail=list(tail),
            lines=followed.lines_shown,
            logs=logs,
            raw=raw,
        )

    if followed.timed_out:
        return went(
            Outcome.TIMED_OUT,
            f"gave up after {timeout} s; task {ident} is still {state.last_status} and was left running "
            f"(stop it with `aws ecs stop-task --cluster {tasks.cluster} --task {ident}`)",
        )
    if logs is not None and not followed.stream_seen:
        ctx.reporter.info(f"no output: task {ident} wrote no log stream {logs.stream(ident)} in {logs.group}")
    outcome, message = ending(state)
    return went(outcome, message, _described(tasks, arn) if outcome is Outcome.FAILED else None)


def _described(tasks: TaskApi, arn: str) -> Mapping[str, Any] | None:
    try:
        return tasks.describe(arn)
    except ReleasectlError:
        return None


def _interrupted(ctx: Context, tasks: TaskApi, arn: str, stop: bool, ask: Ask | None) -> Interrupted:
    """Ctrl-C while following: stop the task if told to (--stop-on-interrupt) or if the person at
    the terminal says so; otherwise leave it running and say how to stop it."""
    ident = task_id(arn)
    if not stop and ask is not None:
        try:
            stop = ask(f"stop task {ident}?")
        except (KeyboardInterrupt, EOFError):
            stop = False
    if not stop:
        how = "" if ask is not None else " (no terminal to ask, and no --stop-on-interrupt)"
        return Interrupted(
            f"interrupted; task {ident} is still running{how}",
            hint=f"stop it with `aws ecs stop-task --cluster {tasks.cluster} --task {ident}`, or follow it "
            f"with `releasectl logs --service --task {ident} --follow`",
        )
    try:
        tasks.stop(arn, "releasectl run interrupted")
    except ReleasectlError as exc:
        return Interrupted(
            f"interrupted; could not stop task {ident}: {exc.message}",
            hint=f"stop it with `aws ecs stop-task --cluster {tasks.cluster} --task {ident}`",
        )
    ctx.reporter.info(f"asked ECS to stop task {ident}")
    return Interrupted(f"interrupted; task {ident} was asked to stop")
