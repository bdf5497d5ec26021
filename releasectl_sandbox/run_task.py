"""The sandbox's one-off ECS tasks (RunTask) and the load balancer's target health.

RunTask starts a real process from the release's image model, as the ECS simulator does for a
service's tasks (releasectl_sandbox.tasks.TaskRunner), with the task definition's container,
the command override of the request, and its output shipped to the sandbox's CloudWatch Logs
under the awslogs settings of the task definition (stream prefix/container/task-id). It is not
health-checked (ECS does not replace a standalone task): it runs until its command exits, or
until StopTask. DescribeTasks shows it as ECS does: PROVISIONING, RUNNING, then STOPPED with the
container's exit code, or, when the image cannot be pulled or the command cannot be started, no
exit code and ECS's stopped reason (stopCode TaskFailedToStart). A RunTask repeated with the same
clientToken answers with the task the first one started, as ECS does: a retried request starts
no second task.

Target health (DescribeTargetHealth) is read from the ECS simulator's tasks in the target group:
healthy, initial (not yet checked), unhealthy (failing health checks) or draining (being
stopped), with the load balancer's reason codes.

The product never imports this module; the sandbox wires it in (releasectl_sandbox.sandbox).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from releasectl_sandbox import moto_internals as internals
from releasectl_sandbox.ecs_model import TaskRecord, now
from releasectl_sandbox.logship import LogShipper
from releasectl_sandbox.state import StateDir
from releasectl_sandbox.tasks import (
    ImageResolver,
    LaunchSpec,
    TaskRunner,
    Timings,
    awslogs_location,
    marker_env,
    stop_all,
)


def _not_checked(port: int, path: str, timeout: float) -> tuple[bool, str]:
    return True, "a standalone task is not health-checked"


class RunTaskRefused(Exception):
    """What ECS answers with an error: a task definition it cannot run, say."""


@dataclass(kw_only=True)
class OneOffTask(TaskRecord):
    """A task RunTask started: no service, no health check, no load balancer."""

    family: str


@dataclass
class OneOffTasks:
    """RunTask, DescribeTasks, ListTasks and StopTask of standalone tasks in one account and region,
    and DescribeTargetHealth from the ECS simulator `ecs` of the same account and region."""

    account: str
    region: str
    ecs: Any  # the EcsSimulator: its tasks are the targets of its services' target groups
    resolver: ImageResolver
    shipper: LogShipper
    state: StateDir
    marker: str
    timings: Timings = field(default_factory=Timings)
    announce: Callable[[str], None] = lambda _line: None
    lock: threading.RLock = field(default_factory=threading.RLock)
    _tasks: dict[str, OneOffTask] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)  # clientToken -> task id
    _stopped_at: dict[str, float] = field(default_factory=dict)

    def close(self) -> None:
        with self.lock:
            runners = [t.runner for t in self._tasks.values() if t.runner is not None]
            for task in self._tasks.values():
                if task.desired_status == "RUNNING":
                    self._stop(task, "Task stopped: the sandbox is stopping", "UserInitiated")
        stop_all(runners, timeout=self.timings.stop_timeout + 2)

    # ------------------------------------------------------------------ moto hooks

    def run_task(
        self,
        *,
        cluster: str,
        cluster_arn: str,
        task_definition: str,
        overrides: dict[str, Any] | None,
        started_by: str | None,
        client_token: str | None,
        tags: list[dict[str, str]] | None,
    ) -> dict[str, Any]:
        """Start one task (count 1), or answer a repeated client token with its task."""
        with self.lock:
            if client_token and client_token in self._tokens:
                return self._tasks[self._tokens[client_token]].to_api()
            definition = internals.task_definition(self.region, task_definition, self.account)
            containers = definition["containerDefinitions"]
            if not containers:
                raise RunTaskRefused("the task definition has no container")
            container = dict(containers[0])
            overridden = {str(o.get("name")): o for o in (overrides or {}).get("containerOverrides") or ()}
            for candidate in containers:
                if candidate.get("name") in overridden:
                    container = dict(candidate)
                    break
            override = overridden.get(str(container.get("name"))) or {}
            if override.get("command"):
                container["command"] = list(override["command"])
            if override.get("environment"):
                container["environment"] = [*(container.get("environment") or ()), *override["environment"]]
            task_id = uuid.uuid4().hex
            task = OneOffTask(
                id=task_id,
                arn=f"arn:aws:ecs:{self.region}:{self.account}:task/{cluster}/{task_id}",
                cluster_arn=cluster_arn,
                task_definition=str(definition["taskDefinitionArn"]),
                family=str(definition["family"]),
                group=f"family:{definition['family']}",
                container_name=str(container.get("name")),
                image=str(container.get("image")),
                started_by=started_by,
                cpu=definition.get("cpu"),
                memory=definition.get("memory"),
                tags=list(tags or ()),
            )
            group, stream = awslogs_location(container, task_id)
            env = marker_env(self.marker, self.region)
            task.runner = TaskRunner(
                LaunchSpec(task_id, task.image, container, group, stream, env),
                self.resolver,
                self,
                self.timings,
                self.shipper,
                self.state,
                checker=_not_checked,
            )
            self._tasks[task_id] = task
            if client_token:
                self._tokens[client_token] = task_id
            task.runner.start()
            command = " ".join(str(part) for part in container.get("command") or ()) or "its image's command"
            self.announce(f"sandbox: ECS one-off task {task_id} of {task.family} started: {command}")
            return task.to_api()

    def owns(self, cluster: str, task: str) -> bool:
        with self.lock:
            found = self._tasks.get(task.rsplit("/", 1)[-1])
            return found is not None and found.cluster_arn.rsplit("/", 1)[-1] == cluster.rsplit("/", 1)[-1]

    def describe_tasks(self, *, cluster: str, tasks: Sequence[str]) -> list[dict[str, Any]]:
        with self.lock:
            return [self._tasks[ref.rsplit("/", 1)[-1]].to_api() for ref in tasks if self.owns(cluster, ref)]

    def list_tasks(
        self, *, cluster: str, started_by: str | None, desired_status: str | None, family: str | None
    ) -> list[str]:
        wanted = desired_status or "RUNNING"
        name = cluster.rsplit("/", 1)[-1]
        with self.lock:
            return [
                t.arn
                for t in sorted(self._tasks.values(), key=lambda t: t.created_at)
                if t.cluster_arn.rsplit("/", 1)[-1] == name
                and t.desired_status == wanted
                and (started_by is None or t.started_by == started_by)
                and (family is None or t.family == family)
            ]

    def stop_task(self, *, cluster: str, task: str, reason: str | None) -> dict[str, Any] | None:
        with self.lock:
            if not self.owns(cluster, task):
                return None
            found = self._tasks[task.rsplit("/", 1)[-1]]
            if found.desired_status == "RUNNING":
                self._stop(found, reason or "Task stopped by user", "UserInitiated")
            return found.to_api()

    def target_health(
        self, target_group_arn: str
    ) -> list[tuple[str, int, str, str | None, str | None]] | None:
        """(task id, port, state, reason, description) of the target group's targets, or None when
        no service of the ECS simulator uses the group (moto answers then)."""
        ecs = self.ecs
        with ecs.lock:
            services = list(getattr(ecs, "_services", {}).values())
            known = False
            found = []
            for service in services:
                for task in service.tasks.values():
                    group = getattr(task, "target_group", None)
                    uses = target_group_arn in service.target_groups
                    registered = group == target_group_arn if group else uses
                    known = known or uses or registered
                    if not registered or not task.port or task.last_status == "STOPPED":
                        continue
                    found.append((task.id, int(task.port), *_health_of(task)))
            return found if known else None

    # ------------------------------------------------------------------ task reports (runner threads)

    def _find(self, task_id: str) -> OneOffTask | None:
        return self._tasks.get(task_id)

    def task_started(self, task_id: str, pid: int, port: int, image_digest: str) -> None:
        with self.lock:
            if (task := self._find(task_id)) is None:
                return
            task.image_digest, task.started_at = image_digest, now()
            if task.desired_status == "RUNNING":
                task.last_status = "RUNNING"
            task.version += 1

    def task_healthy(self, task_id: str) -> None:
        return  # a standalone task is not health-checked

    def task_unhealthy(self, task_id: str, detail: str) -> None:
        return

    def task_exited(self, task_id: str, exit_code: int) -> None:
        with self.lock:
            if (task := self._find(task_id)) is None:
                return
            task.exit_code = exit_code
            if task.desired_status == "RUNNING":
                self._stop(task, "Essential container in task exited", "EssentialContainerExited")

    def task_failed_to_start(self, task_id: str, reason: str) -> None:
        with self.lock:
            if (task := self._find(task_id)) is None:
                return
            task.desired_status = task.last_status = "STOPPED"
            task.stopped_reason = task.stopped_reason or reason
            task.stop_code = task.stop_code or "TaskFailedToStart"
            task.stopping_at = task.stopping_at or now()
            task.stopped_at = now()
            task.version += 1
            self._stopped_at[task.id] = time.monotonic()
            self.announce(f"sandbox: ECS one-off task {task_id} failed to start: {reason}")
            self._forget_old_tasks()

    def task_stopped(self, task_id: str, exit_code: int | None) -> None:
        with self.lock:
            if (task := self._find(task_id)) is None:
                return
            task.desired_status = task.last_status = "STOPPED"
            if task.exit_code is None:
                task.exit_code = exit_code
            task.stopped_reason = task.stopped_reason or "Task stopped"
            task.stopping_at = task.stopping_at or now()
            task.stopped_at = now()
            task.version += 1
            self._stopped_at[task.id] = time.monotonic()
            self.announce(f"sandbox: ECS one-off task {task_id} stopped (exit {task.exit_code})")
            self._forget_old_tasks()

    # ------------------------------------------------------------------ helpers (self.lock held)

    def _stop(self, task: OneOffTask, reason: str, code: str) -> None:
        task.desired_status = "STOPPED"
        if task.last_status != "STOPPED":
            task.last_status = "DEACTIVATING"
        task.stopped_reason = task.stopped_reason or reason
        task.stop_code = task.stop_code or code
        task.stopping_at = now()
        task.version += 1
        if task.runner is not None:
            task.runner.request_stop(drain=False)

    def _forget_old_tasks(self) -> None:
        horizon = time.monotonic() - self.timings.stopped_task_ttl
        for task_id, stopped in list(self._stopped_at.items()):
            if stopped < horizon:
                del self._stopped_at[task_id]
                self._tasks.pop(task_id, None)


def _health_of(task: Any) -> tuple[str, str | None, str | None]:
    """A service task's target state as an Application Load Balancer reports it."""
    if task.desired_status != "RUNNING":
        return "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"
    if task.health == "UNHEALTHY":
        why = task.stopped_reason or "Health checks failed"
        return "unhealthy", "Target.FailedHealthChecks", why
    if task.last_status == "RUNNING" and task.health == "HEALTHY":
        return "healthy", None, None
    return "initial", "Elb.RegistrationInProgress", "Target registration is in progress"
