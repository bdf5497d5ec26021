"""The sandbox ECS simulator's records and how ECS's API shows them.

Tasks, deployments and services as the scheduler keeps them, their describe_tasks /
describe_services JSON, and the service event texts, worded as ECS words them (releasectl's
outcome logic and people reading `releasectl status` both rely on that wording).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from releasectl_sandbox.tasks import TaskRunner

if TYPE_CHECKING:
    from releasectl_sandbox.ecs_deployments import SimRevision, SimServiceDeployment
    from releasectl_sandbox.ecs_traffic import Shift

PRIMARY, ACTIVE = "PRIMARY", "ACTIVE"
IN_PROGRESS, COMPLETED, FAILED = "IN_PROGRESS", "COMPLETED", "FAILED"
MAX_EVENTS = 100
BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."


def now() -> datetime:
    return datetime.now(UTC)


def deployment_id() -> str:
    # An identifier, not a secret.
    return f"ecs-svc/{random.randrange(10**18, 10**19)}"  # noqa: S311  # nosec B311


@dataclass(kw_only=True)
class TaskRecord:
    """A task as ECS keeps it, a service's or a one-off's: ECS describes both in one shape."""

    id: str
    arn: str
    cluster_arn: str
    task_definition: str
    container_name: str
    image: str
    cpu: str | None
    memory: str | None
    group: str  # "service:<name>" or "family:<family>"
    started_by: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    created_at: datetime = field(default_factory=now)
    last_status: str = "PROVISIONING"
    desired_status: str = "RUNNING"
    health: str = "UNKNOWN"
    started_at: datetime | None = None
    stopping_at: datetime | None = None
    stopped_at: datetime | None = None
    stopped_reason: str | None = None
    stop_code: str | None = None
    exit_code: int | None = None
    image_digest: str | None = None
    version: int = 1
    runner: TaskRunner | None = None

    def to_api(self) -> dict[str, Any]:
        container_id = uuid.uuid5(uuid.NAMESPACE_URL, self.arn)
        container: dict[str, Any] = {
            "containerArn": f"{self.arn.replace(':task/', ':container/')}/{container_id}",
            "taskArn": self.arn,
            "name": self.container_name,
            "image": self.image,
            "lastStatus": self.last_status if self.last_status in ("RUNNING", "STOPPED") else "PENDING",
            "healthStatus": self.health,
            "networkInterfaces": [{"privateIpv4Address": "127.0.0.1"}],
        }
        if self.image_digest:
            container["imageDigest"] = self.image_digest
        if self.exit_code is not None:
            container["exitCode"] = self.exit_code
        data: dict[str, Any] = {
            "taskArn": self.arn,
            "clusterArn": self.cluster_arn,
            "taskDefinitionArn": self.task_definition,
            "lastStatus": self.last_status,
            "desiredStatus": self.desired_status,
            "healthStatus": self.health,
            "group": self.group,
            "launchType": "FARGATE",
            "platformVersion": "1.4.0",
            "platformFamily": "Linux",
            "connectivity": "CONNECTED",
            "availabilityZone": "sandbox-local",
            "createdAt": self.created_at,
            "version": self.version,
            "containers": [container],
            "tags": list(self.tags),
            "attachments": [],
            "enableExecuteCommand": False,
        }
        for key, value in (
            ("startedBy", self.started_by),
            ("cpu", self.cpu),
            ("memory", self.memory),
            ("startedAt", self.started_at),
            ("stoppingAt", self.stopping_at),
            ("stoppedAt", self.stopped_at),
            ("stoppedReason", self.stopped_reason),
            ("stopCode", self.stop_code),
        ):
            if value is not None:
                data[key] = value
        if self.started_at is not None:
            data["pullStartedAt"] = self.created_at
            data["pullStoppedAt"] = self.started_at
        return data


@dataclass(kw_only=True)
class SimTask(TaskRecord):
    """A task a service's deployment started: it is health-checked and behind the load balancer."""

    service: str
    deployment_id: str
    port: int | None = None
    pid: int | None = None
    target_group: str | None = None  # where the load balancer finds it once it is healthy

    @property
    def live(self) -> bool:
        """ECS still wants it running."""
        return self.desired_status == "RUNNING"

    @property
    def present(self) -> bool:
        """It has not finished stopping."""
        return self.last_status != "STOPPED"

    @property
    def healthy(self) -> bool:
        return self.live and self.last_status == "RUNNING" and self.health == "HEALTHY"


@dataclass
class SimDeployment:
    id: str
    task_definition: str
    desired: int
    status: str = PRIMARY
    rollout_state: str = IN_PROGRESS
    reason: str = ""
    failed_tasks: int = 0
    # ECS throttles launches after failures; without it a bad image would restart ten times a second.
    launch_failures: int = 0
    next_launch: float = 0.0
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    revision: str = ""  # the service revision it runs
    target_group: str | None = None  # its tasks' target group
    # The service deployment it is the target of; a rolling rollback's deployment has none of its
    # own: it serves the service deployment it rolls back (`rollback_of`).
    service_deployment: SimServiceDeployment | None = None
    rollback_of: SimServiceDeployment | None = None
    shift: Shift | None = None  # blue/green, canary and linear: where the traffic shift stands
    bake_until: float | None = None  # monotonic end of a rolling deployment's bake time
    early_success: bool = False  # completed by its early success criteria

    def __post_init__(self) -> None:
        self.reason = self.reason or f"ECS deployment {self.id} in progress."

    @property
    def tracked_by(self) -> SimServiceDeployment | None:
        """The service deployment whose status this deployment's progress decides."""
        return self.service_deployment or self.rollback_of

    def to_api(self, tasks: list[SimTask]) -> dict[str, Any]:
        mine = [t for t in tasks if t.deployment_id == self.id]
        return {
            "id": self.id,
            "status": self.status,
            "taskDefinition": self.task_definition,
            "desiredCount": self.desired,
            "pendingCount": sum(1 for t in mine if t.live and t.last_status in ("PROVISIONING", "PENDING")),
            "runningCount": sum(1 for t in mine if t.last_status == "RUNNING"),
            "failedTasks": self.failed_tasks,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "launchType": "FARGATE",
            "platformVersion": "1.4.0",
            "platformFamily": "Linux",
            "rolloutState": self.rollout_state,
            "rolloutStateReason": self.reason,
        }


@dataclass
class SimService:
    moto: Any  # the moto Service object the simulator publishes into
    name: str
    cluster_name: str
    cluster_arn: str
    desired: int
    container_name: str | None
    # The target groups of its loadBalancers: a sandbox load balancer sends their requests to its tasks.
    target_groups: tuple[str, ...] = ()
    arn: str = ""
    # The target group production traffic goes to now: its loadBalancers' until a blue/green,
    # canary or linear deployment succeeds with the alternate one, which then takes its place.
    live_target_group: str | None = None
    deployments: list[SimDeployment] = field(default_factory=list)  # PRIMARY first
    revisions: dict[str, SimRevision] = field(default_factory=dict)
    service_deployments: list[SimServiceDeployment] = field(default_factory=list)  # newest first
    tasks: dict[str, SimTask] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # newest first
    stable: SimDeployment | None = None  # the newest deployment that completed: what a rollback returns to

    @property
    def primary(self) -> SimDeployment:
        return self.deployments[0]

    def others(self) -> list[SimDeployment]:
        return self.deployments[1:]

    def event(self, text: str) -> None:
        entry = {"id": str(uuid.uuid4()), "createdAt": now(), "message": f"(service {self.name}) {text}"}
        self.events = [entry, *self.events][:MAX_EVENTS]

    def live_tasks(self, deployment: SimDeployment | None = None) -> list[SimTask]:
        return [
            t
            for t in self.tasks.values()
            if t.live and (deployment is None or t.deployment_id == deployment.id)
        ]

    def present_tasks(self, deployment: SimDeployment) -> list[SimTask]:
        return [t for t in self.tasks.values() if t.present and t.deployment_id == deployment.id]

    def stop(self, task: SimTask, reason: str, code: str, *, drain: bool = True) -> None:
        """ECS no longer wants the task: out of the load balancer now, its process ended by its runner."""
        task.desired_status = "STOPPED"
        if task.last_status != "STOPPED":
            task.last_status = "DEACTIVATING"
        task.stopped_reason = task.stopped_reason or reason
        task.stop_code = task.stop_code or code
        task.stopping_at = now()
        task.version += 1
        if task.runner is not None:
            task.runner.request_stop(drain=drain)

    def count_failure(self, task: SimTask) -> None:
        """A task of a deployment failed: the circuit breaker counts it while the rollout is in progress."""
        for deployment in self.deployments:
            if deployment.id != task.deployment_id:
                continue
            deployment.launch_failures += 1
            backoff = min(0.5 * 2 ** (deployment.launch_failures - 1), 15.0)
            deployment.next_launch = time.monotonic() + backoff
            if deployment.rollout_state == IN_PROGRESS:
                deployment.failed_tasks += 1
                deployment.updated_at = now()


def task_list(tasks: list[SimTask]) -> str:
    return " ".join(f"(task {t.id})" for t in tasks)
