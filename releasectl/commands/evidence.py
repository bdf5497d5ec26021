"""Gather why a deployment failed, at most six API calls, and put it on the result.

1. DescribeServices: the service's events since our deployment began, and its load balancers;
2. ListTasks (STOPPED, one page of 100): the service's stopped tasks;
3. DescribeTasks: those of our deployment, with their stopped reasons and exit codes;
4. DescribeTaskDefinition: where the failed tasks logged (awslogs), only when one failed;
5. DescribeTargetHealth: the load balancer's states and reasons, only when the service has one;
6. FilterLogEvents: the failed tasks' streams at once, only when they log through awslogs.

Each step is best effort: what cannot be read becomes a note, and gathering evidence never
changes the command's outcome or exit code (docs/operations.md#failure-evidence).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from releasectl.core.errors import ReleasectlError
from releasectl.core.evidence import (
    EVIDENCE_CALLS,
    Evidence,
    StoppedTask,
    TargetHealth,
    deployment_started,
    events_since,
    stopped_task,
    tails,
    target_health,
)
from releasectl.core.log_follow import LogStreamMissing, Throttled
from releasectl.core.oneoff import awslogs
from releasectl.core.result import CommandResult, Outcome

if TYPE_CHECKING:
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.commands.context import Context

_T = TypeVar("_T")
FAILED_OUTCOMES = frozenset({Outcome.FAILED, Outcome.ROLLED_BACK})
_PAGE = 100


class _Budget:
    """Counts the calls made; a step that would go past the budget is skipped and noted."""

    def __init__(self, limit: int = EVIDENCE_CALLS) -> None:
        self.limit = limit
        self.used = 0
        self.notes: list[str] = []

    def call(self, what: str, fetch: Callable[[], _T]) -> _T | None:
        if self.used >= self.limit:
            self.notes.append(f"{what}: not read (the evidence budget of {self.limit} calls is spent)")
            return None
        self.used += 1
        try:
            return fetch()
        except (ReleasectlError, LogStreamMissing, Throttled) as exc:
            text = exc.one_line() if isinstance(exc, ReleasectlError) else exc.__class__.__name__
            self.notes.append(f"{what}: not read ({text})")
            return None


def attach_evidence(ctx: Context, ecs: EcsApi, result: CommandResult) -> None:
    """Put the evidence on a deploy's or rollback's result when it ended failed or rolled back."""
    deployment = result.extra.get("deployment_id")
    if result.outcome not in FAILED_OUTCOMES or not deployment:
        return
    evidence = deployment_evidence(
        ctx, ecs, deployment_id=str(deployment), task_definition=result.extra.get("task_definition")
    )
    result.extra["evidence"] = evidence.to_json()
    ctx.reporter.detail(f"evidence gathered in {evidence.calls} API calls")


def attach_abort_evidence(ctx: Context, ecs: EcsApi, result: CommandResult) -> None:
    """Put on abort's result the evidence of the deployment it stopped, when that deployment rolled
    back or failed. Its tasks are told by their revision: a service deployment's id is not the
    id its tasks were started by."""
    ended = result.extra.get("deployment_outcome")
    if ended not in ("rolled_back", "failed") and result.outcome is not Outcome.FAILED:
        return
    task_definition = result.extra.get("task_definition")
    if not task_definition:
        return
    evidence = deployment_evidence(ctx, ecs, deployment_id=None, task_definition=str(task_definition))
    result.extra["evidence"] = evidence.to_json()


def deployment_evidence(
    ctx: Context, ecs: EcsApi, *, deployment_id: str | None, task_definition: str | None
) -> Evidence:
    """The evidence of one deployment: its tasks are those started by `deployment_id`, or without
    one, those of `task_definition`."""
    budget = _Budget()
    service = budget.call("the service's events", ecs.describe_service) or {}
    arns = budget.call("the stopped tasks", lambda: _stopped_arns(ecs)) or []
    described: list[Mapping[str, Any]] = []
    if arns:
        described = budget.call("the stopped tasks", lambda: _describe(ecs, arns)) or []
    ours = [
        t
        for t in described
        if (
            t.get("startedBy") == deployment_id
            if deployment_id
            else t.get("taskDefinitionArn") == task_definition
        )
    ]
    tasks = [stopped_task(t) for t in ours]
    failed = [t for t in tasks if t.failed]

    logs: dict[str, list[str]] = {}
    if failed and task_definition:
        revision = budget.call(
            "where the failed tasks logged", lambda: ecs.describe_task_definition(task_definition)
        )
        if revision is not None:
            logs = _log_tails(ctx, budget, revision.definition, failed, ours)
    tasks = [_with_tail(t, logs.get(t.id, [])) for t in tasks]

    targets: list[TargetHealth] = []
    for group in _target_groups(service):
        found = budget.call("the load balancer's target health", functools.partial(_health, ctx, group))
        targets.extend(found or [])

    since = (deployment_started(service, deployment_id) if deployment_id else None) or _earliest(ours)
    return Evidence(
        tasks=tuple(tasks),
        targets=tuple(targets),
        events=tuple(events_since(service, since)),
        notes=tuple(budget.notes),
        calls=budget.used,
        deployment_id=deployment_id,
    )


def _stopped_arns(ecs: EcsApi) -> list[str]:
    from releasectl.adapters.aws.clients import aws_errors

    with aws_errors(f"listing stopped tasks of ECS service {ecs.service!r}"):
        ecs.calls += 1
        response = ecs.client.list_tasks(
            cluster=ecs.cluster, serviceName=ecs.service, desiredStatus="STOPPED", maxResults=_PAGE
        )
    return list(response.get("taskArns") or ())


def _describe(ecs: EcsApi, arns: list[str]) -> list[Mapping[str, Any]]:
    from releasectl.adapters.aws.clients import aws_errors

    with aws_errors(f"describing stopped tasks of ECS service {ecs.service!r}"):
        ecs.calls += 1
        response = ecs.client.describe_tasks(cluster=ecs.cluster, tasks=arns[:_PAGE])
    return list(response.get("tasks") or ())


def _log_tails(
    ctx: Context,
    budget: _Budget,
    definition: Mapping[str, Any],
    failed: list[StoppedTask],
    described: list[Mapping[str, Any]],
) -> dict[str, list[str]]:
    """The last lines of each failed task's log, from one FilterLogEvents call over their streams."""
    from releasectl.adapters.aws.log_events import LogEventReader

    settings = awslogs(definition)
    if not settings:
        budget.notes.append("task logs: the task definition logs through no awslogs driver")
        return {}
    streams: dict[str, str] = {}
    by_group: dict[str, list[str]] = {}
    for task in failed:
        for found in settings:
            name = found.stream(task.id)
            streams[name] = task.id
            by_group.setdefault(found.group, []).append(name)
    group, names = next(iter(by_group.items()))
    if len(by_group) > 1:
        budget.notes.append(f"task logs: read from {group} only (the containers log to several groups)")
    start = _earliest(described)
    reader = LogEventReader(ctx.env_aws().client("logs"))
    page = budget.call(
        "the failed tasks' logs",
        lambda: reader.page(
            group,
            streams=names[:100],
            start_ms=int(start.timestamp() * 1000) if start else None,
        ),
    )
    if page is None:
        return {}
    if page.next_token:
        budget.notes.append(
            "task logs: more lines than one read returns; the last lines shown may be early ones"
        )
    return tails(page.events, streams)


def _with_tail(task: StoppedTask, tail: list[str]) -> StoppedTask:
    from dataclasses import replace

    return replace(task, log_tail=tuple(tail)) if tail else task


def _target_groups(service: Mapping[str, Any]) -> list[str]:
    groups = [
        str(lb["targetGroupArn"]) for lb in service.get("loadBalancers") or () if lb.get("targetGroupArn")
    ]
    return list(dict.fromkeys(groups))


def _health(ctx: Context, target_group: str) -> list[TargetHealth]:
    from releasectl.adapters.aws.elbv2 import describe_target_health

    return target_health(describe_target_health(ctx.env_aws().client("elbv2"), target_group))


def _earliest(tasks: list[Mapping[str, Any]]) -> datetime | None:
    times = [t["createdAt"] for t in tasks if isinstance(t.get("createdAt"), datetime)]
    # A minute of slack: a task's first line can come before ECS records it as created.
    return min(times) - timedelta(minutes=1) if times else None


def task_evidence(task: Mapping[str, Any], tail: list[str]) -> Evidence:
    """A one-off task's evidence: its own stop and its last lines, read already (no call)."""
    return Evidence(tasks=(stopped_task(task, log_tail=tail),), calls=0)
