"""One-off ECS tasks (`releasectl run`, a release's migration): the RunTask request, where the task
logs, and what its end means. Pure.

A one-off task runs the release's revision with the service's network and launch settings and
the command of the container `container_name` overridden. Its ending is read from ECS's own
record of the task (DescribeTasks): the container's exit code when it ran, else ECS's stopped
reason (a pull that failed, a missing secret...), which is "could not start".
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from releasectl.core.log_follow import LogLocation
from releasectl.core.result import Outcome
from releasectl.core.versions import MIGRATION_TAG, ONE_OFF_TAG, OUTCOME_TAG, precedence

RUN_STARTED_BY = "releasectl-run"
MIGRATE_STARTED_BY = "releasectl-migrate"
# The last lines of a failed task's log kept as evidence (docs/operations.md).
LOG_TAIL = 20
# RunTask's clientToken: up to 64 characters in the range 33-126.
CLIENT_TOKEN_MAX = 64


def task_id(arn: str) -> str:
    """The task's id: the last part of its ARN (arn:aws:ecs:…:task/cluster/ID)."""
    return arn.rsplit("/", 1)[-1]


def command_text(command: Sequence[str]) -> str:
    """The command as a shell would show it."""
    return shlex.join(command)


# ----------------------------------------------------------------------------- the request


def launch_settings(service: Mapping[str, Any]) -> dict[str, Any]:
    """RunTask's placement and network arguments, as the service has them: a one-off task runs
    where the service's tasks run, in the same subnets and security groups."""
    settings: dict[str, Any] = {}
    strategy = service.get("capacityProviderStrategy")
    if strategy:
        settings["capacityProviderStrategy"] = [dict(item) for item in strategy]
    else:
        settings["launchType"] = str(service.get("launchType") or "FARGATE")
    if service.get("platformVersion"):
        settings["platformVersion"] = str(service["platformVersion"])
    network = service.get("networkConfiguration")
    if network:
        settings["networkConfiguration"] = dict(network)
    return settings


def run_task_request(
    *,
    cluster: str,
    task_definition: str,
    container_name: str,
    command: Sequence[str],
    settings: Mapping[str, Any],
    client_token: str,
    started_by: str,
) -> dict[str, Any]:
    """RunTask's arguments. The client token makes a retried request (an answer lost on the way
    back) start no second task: ECS answers it with the task the first attempt started."""
    if not 1 <= len(client_token) <= CLIENT_TOKEN_MAX:
        raise ValueError(f"a RunTask client token has 1 to {CLIENT_TOKEN_MAX} characters")
    return {
        "cluster": cluster,
        "taskDefinition": task_definition,
        "count": 1,
        "startedBy": started_by,
        "clientToken": client_token,
        "overrides": {"containerOverrides": [{"name": container_name, "command": list(command)}]},
        # No tags on the task: tagging at creation would need ecs:TagResource on tasks too, and
        # startedBy already says who started it.
        **settings,
    }


# ----------------------------------------------------------------------------- logs


@dataclass(frozen=True)
class AwsLogs:
    """A container's awslogs driver settings."""

    container: str
    group: str
    stream_prefix: str | None
    region: str | None

    def stream(self, task: str) -> str:
        """The stream the driver writes the task's output to: prefix/container/task-id."""
        return f"{self.stream_prefix}/{self.container}/{task}" if self.stream_prefix else task

    def location(self, task: str) -> LogLocation:
        return LogLocation(self.group, self.stream(task))


def awslogs(definition: Mapping[str, Any]) -> list[AwsLogs]:
    """Every container of a task definition that logs through the awslogs driver."""
    found = []
    for container in definition.get("containerDefinitions") or ():
        config = container.get("logConfiguration") or {}
        options = config.get("options") or {}
        if config.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
            continue
        found.append(
            AwsLogs(
                container=str(container.get("name")),
                group=str(options["awslogs-group"]),
                stream_prefix=options.get("awslogs-stream-prefix") or None,
                region=options.get("awslogs-region") or None,
            )
        )
    return found


def container_logs(definition: Mapping[str, Any], container_name: str) -> AwsLogs | None:
    return next((found for found in awslogs(definition) if found.container == container_name), None)


# ----------------------------------------------------------------------------- the task's end


@dataclass(frozen=True)
class TaskState:
    """A one-off task as DescribeTasks shows it, the container that runs the command only."""

    arn: str
    last_status: str
    desired_status: str
    exit_code: int | None = None
    stopped_reason: str | None = None
    stop_code: str | None = None
    container_reason: str | None = None

    @classmethod
    def from_api(cls, task: Mapping[str, Any], container_name: str) -> TaskState:
        container: Mapping[str, Any] = next(
            (c for c in task.get("containers") or () if c.get("name") == container_name),
            {},
        )
        code = container.get("exitCode")
        return cls(
            arn=str(task.get("taskArn")),
            last_status=str(task.get("lastStatus") or "PROVISIONING"),
            desired_status=str(task.get("desiredStatus") or "RUNNING"),
            exit_code=int(code) if code is not None else None,
            stopped_reason=task.get("stoppedReason") or None,
            stop_code=task.get("stopCode") or None,
            container_reason=container.get("reason") or None,
        )

    @property
    def id(self) -> str:
        return task_id(self.arn)

    @property
    def stopped(self) -> bool:
        return self.last_status == "STOPPED"

    @property
    def why(self) -> str:
        """ECS's account of the stop, with the container's own reason when it gives one."""
        parts = [self.stopped_reason or self.stop_code or "no reason given"]
        if self.container_reason and self.container_reason not in parts[0]:
            parts.append(self.container_reason)
        return "; ".join(parts)


def ending(state: TaskState) -> tuple[Outcome, str]:
    """The outcome of a stopped task, and a one-line account of it."""
    if state.exit_code == 0:
        return Outcome.SUCCEEDED, f"task {state.id} exited 0"
    if state.exit_code is not None:
        return Outcome.FAILED, f"task {state.id} exited {state.exit_code} ({state.why})"
    return Outcome.FAILED, f"task {state.id} could not start: {state.why}"


def migration_tag_value(state: TaskState) -> str:
    """What a revision records of a migration that ran from it: `exit N`, or `not started`."""
    return f"exit {state.exit_code}" if state.exit_code is not None else "not started"


def recorded_outcome(tags: Mapping[str, str]) -> str | None:
    """A revision's recorded outcome as the ledger shows it: `failed (migration exit 3)` when the
    release stopped at its migration, else the outcome tag itself."""
    outcome = tags.get(OUTCOME_TAG)
    migration = tags.get(MIGRATION_TAG)
    if outcome and migration and migration != "exit 0":
        return f"{outcome} (migration {migration})"
    return outcome


def deployed_by_no_one(tags: Mapping[str, str]) -> bool:
    """A revision registered only to run a one-off task, that no deployment has run: it says
    nothing of what the service ran."""
    return bool(tags.get(ONE_OFF_TAG)) and not tags.get(OUTCOME_TAG)


def migrations_since(target_version: str, revisions: Iterable[Any]) -> list[dict[str, str]]:
    """The migrations that ran (exit 0) for versions newer than `target_version`, from the
    revisions given (releasectl.core.deploy_plan.Revision), newest version first: what a
    rollback to `target_version` leaves in place."""
    target = precedence(target_version)
    found: dict[str, dict[str, str]] = {}
    for revision in revisions:
        version = revision.version
        if revision.tags.get(MIGRATION_TAG) != "exit 0" or not version or version in found:
            continue
        key = precedence(version)
        if key is not None and (target is None or key > target):
            found[version] = {"version": version, "task_definition": revision.arn}
    return sorted(found.values(), key=lambda item: precedence(item["version"]) or (), reverse=True)
