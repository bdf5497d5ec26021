"""ECS one-off tasks: RunTask, DescribeTasks and StopTask of one task, and the follower's view of it.

Every method is one API call wrapped in aws_errors and counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from releasectl.adapters.aws.clients import _THROTTLE_CODES, aws_errors, error_code
from releasectl.core.errors import EnvironmentProblem
from releasectl.core.log_follow import LogLocation, Throttled
from releasectl.core.oneoff import AwsLogs, TaskState, task_id

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


@dataclass(frozen=True)
class Started:
    """RunTask's answer: the task it started (or, for a repeated client token, had started), or
    why it started none."""

    task: Mapping[str, Any] | None
    failures: tuple[str, ...]


class TaskApi:
    def __init__(self, client: ECSClient, *, cluster: str) -> None:
        self.client = client
        self.cluster = cluster
        self.calls = 0

    def run(self, request: Mapping[str, Any]) -> Started:
        with aws_errors(f"starting a one-off task of {request.get('taskDefinition')}"):
            self.calls += 1
            response = self.client.run_task(**request)
        tasks = response.get("tasks") or []
        failures = tuple(
            ": ".join(str(part) for part in (f.get("arn"), f.get("reason"), f.get("detail")) if part)
            for f in response.get("failures") or ()
        )
        return Started(task=tasks[0] if tasks else None, failures=failures)

    def describe(self, arn: str) -> Mapping[str, Any] | None:
        with aws_errors(f"describing task {task_id(arn)}"):
            self.calls += 1
            response = self.client.describe_tasks(cluster=self.cluster, tasks=[arn])
        tasks = response.get("tasks") or []
        return tasks[0] if tasks else None

    def describe_raw(self, arn: str) -> Mapping[str, Any] | None:
        """Like describe, but lets ClientError through for callers that handle some codes."""
        self.calls += 1
        response = self.client.describe_tasks(cluster=self.cluster, tasks=[arn])
        tasks = response.get("tasks") or []
        return tasks[0] if tasks else None

    def stop(self, arn: str, reason: str) -> None:
        with aws_errors(f"stopping task {task_id(arn)}"):
            self.calls += 1
            self.client.stop_task(cluster=self.cluster, task=arn, reason=reason[:255])


@dataclass(frozen=True)
class TaskInfo:
    """A one-off task as the log follower sees it (releasectl.core.log_follow.Followed)."""

    state: TaskState
    logs: AwsLogs | None

    @property
    def id(self) -> str:
        return self.state.arn

    @property
    def terminal(self) -> bool:
        return self.state.stopped

    @property
    def logs_enabled(self) -> bool:
        return self.logs is not None

    @property
    def log_location(self) -> LogLocation | None:
        return None  # ECS does not report it: the awslogs settings say where it is

    @property
    def default_log_location(self) -> LogLocation:
        if self.logs is None:
            raise ValueError("the task's container has no awslogs driver")
        return self.logs.location(self.state.id)


@dataclass
class TaskReader:
    """The follower's view of ECS: throttling is reported, not raised as a failure."""

    tasks: TaskApi
    container_name: str
    logs: AwsLogs | None

    def get(self, build_id: str) -> TaskInfo:
        import botocore.exceptions

        with aws_errors(f"describing task {task_id(build_id)}"):
            try:
                task = self.tasks.describe_raw(build_id)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) in _THROTTLE_CODES:
                    raise Throttled(str(exc)) from None
                raise
        if task is None:
            raise EnvironmentProblem(
                f"task {task_id(build_id)} is no longer known to ECS in cluster {self.tasks.cluster}"
            )
        return TaskInfo(TaskState.from_api(task, self.container_name), self.logs)
