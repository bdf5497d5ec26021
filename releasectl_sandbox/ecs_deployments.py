"""Service revisions and service deployments: how the sandbox's ECS reports each deployment it runs.

ECS keeps, besides a service's `deployments` list, one *service deployment* per UpdateService (or
CreateService) that starts one, read through ListServiceDeployments / DescribeServiceDeployments,
and one *service revision* per configuration deployed (DescribeServiceRevisions). The simulator
keeps the same records for every deployment it runs, rolling ones included, and moves their
status as the ECS developer guide documents it ("View service history using Amazon ECS service
deployments", "Stopping Amazon ECS service deployments"):

    PENDING -> IN_PROGRESS -> SUCCESSFUL
                           -> ROLLBACK_REQUESTED -> ROLLBACK_IN_PROGRESS -> ROLLBACK_SUCCESSFUL
                                                                         -> ROLLBACK_FAILED
                           -> STOP_REQUESTED -> STOPPED

A rollback (circuit breaker, alarm, StopServiceDeployment with ROLLBACK) belongs to the service
deployment that failed: its `rollback` says why, when, and which revision it returns to. A
deployment a newer one supersedes is stopped; so is one whose failure has no rollback configured.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from releasectl_sandbox.ecs_model import SimTask, now

PENDING = "PENDING"
IN_PROGRESS = "IN_PROGRESS"
SUCCESSFUL = "SUCCESSFUL"
STOP_REQUESTED = "STOP_REQUESTED"
STOPPED = "STOPPED"
ROLLBACK_REQUESTED = "ROLLBACK_REQUESTED"
ROLLBACK_IN_PROGRESS = "ROLLBACK_IN_PROGRESS"
ROLLBACK_SUCCESSFUL = "ROLLBACK_SUCCESSFUL"
ROLLBACK_FAILED = "ROLLBACK_FAILED"
TERMINAL = frozenset({SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED})
ROLLING_BACK = frozenset({ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS})

# Lifecycle stages, in the order a blue/green, canary or linear deployment passes them.
RECONCILE_SERVICE = "RECONCILE_SERVICE"
PRE_SCALE_UP = "PRE_SCALE_UP"
SCALE_UP = "SCALE_UP"
POST_SCALE_UP = "POST_SCALE_UP"
TEST_TRAFFIC_SHIFT = "TEST_TRAFFIC_SHIFT"
POST_TEST_TRAFFIC_SHIFT = "POST_TEST_TRAFFIC_SHIFT"
PRODUCTION_TRAFFIC_SHIFT = "PRODUCTION_TRAFFIC_SHIFT"
POST_PRODUCTION_TRAFFIC_SHIFT = "POST_PRODUCTION_TRAFFIC_SHIFT"
BAKE_TIME = "BAKE_TIME"
CLEAN_UP = "CLEAN_UP"

ROLLING, BLUE_GREEN, CANARY, LINEAR = "ROLLING", "BLUE_GREEN", "CANARY", "LINEAR"
TRAFFIC_SHIFTING = frozenset({BLUE_GREEN, CANARY, LINEAR})

# Monitor states of the circuit breaker and the alarms (ServiceDeploymentRollbackMonitorsStatus).
TRIGGERED, MONITORING, MONITORING_COMPLETE, DISABLED = (
    "TRIGGERED",
    "MONITORING",
    "MONITORING_COMPLETE",
    "DISABLED",
)


def _token(length: int) -> str:
    # An identifier, not a secret.
    alphabet = string.ascii_letters + string.digits + "-_"
    return "".join(random.choice(alphabet) for _ in range(length))  # noqa: S311  # nosec B311


def service_deployment_arn(region: str, account: str, cluster: str, service: str) -> str:
    return f"arn:aws:ecs:{region}:{account}:service-deployment/{cluster}/{service}/{_token(22)}"


def service_revision_arn(region: str, account: str, cluster: str, service: str) -> str:
    number = random.randrange(10**18, 10**19)  # noqa: S311  # nosec B311
    return f"arn:aws:ecs:{region}:{account}:service-revision/{cluster}/{service}/{number}"


@dataclass
class SimRevision:
    """A service revision: what one deployment runs (task definition, load balancers, network)."""

    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    launch_type: str | None
    load_balancers: tuple[dict[str, Any], ...]
    network_configuration: dict[str, Any] | None
    container_images: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # name -> image, digest
    # The target group that serves production traffic for this revision (AWS: resolvedConfiguration).
    production_target_group: str | None = None
    created_at: datetime = field(default_factory=now)

    def saw(self, task: SimTask) -> None:
        """A task of this revision pulled its image: the revision names the digest from now on."""
        self.container_images[task.container_name] = (task.image, task.image_digest)

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "serviceRevisionArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition,
            "platformVersion": "1.4.0",
            "platformFamily": "Linux",
            "loadBalancers": [dict(lb) for lb in self.load_balancers],
            "containerImages": [
                {"containerName": name, "image": image, **({"imageDigest": digest} if digest else {})}
                for name, (image, digest) in sorted(self.container_images.items())
            ],
            "guardDutyEnabled": False,
            "createdAt": self.created_at,
        }
        if self.launch_type:
            data["launchType"] = self.launch_type
        if self.network_configuration:
            data["networkConfiguration"] = self.network_configuration
        if self.production_target_group:
            rules = [
                lb.get("advancedConfiguration", {}).get("productionListenerRule")
                for lb in self.load_balancers
            ]
            data["resolvedConfiguration"] = {
                "loadBalancers": [
                    {
                        "targetGroupArn": self.production_target_group,
                        **({"productionListenerRule": r} if r else {}),
                    }
                    for r in rules[:1]
                ]
            }
        return data


@dataclass
class RevisionCounts:
    """What a ServiceRevisionSummary says of a revision at one moment."""

    requested: int
    running: int
    pending: int
    test_weight: float
    production_weight: float

    def to_api(self, arn: str) -> dict[str, Any]:
        return {
            "arn": arn,
            "requestedTaskCount": self.requested,
            "runningTaskCount": self.running,
            "pendingTaskCount": self.pending,
            "requestedTestTrafficWeight": self.test_weight,
            "requestedProductionTrafficWeight": self.production_weight,
        }


@dataclass
class SimServiceDeployment:
    """One service deployment, from the request that started it to its end."""

    arn: str
    service_arn: str
    cluster_arn: str
    target_revision: str
    source_revisions: tuple[str, ...]
    configuration: dict[str, Any]  # the service's deploymentConfiguration when it started
    strategy: str = ROLLING
    status: str = PENDING
    status_reason: str = ""
    lifecycle_stage: str | None = None
    created_at: datetime = field(default_factory=now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stopped_at: datetime | None = None
    updated_at: datetime = field(default_factory=now)
    rollback: dict[str, Any] | None = None
    breaker_failures: int = 0
    breaker_threshold: int = 0
    breaker_triggered: bool = False
    triggered_alarms: tuple[str, ...] = ()
    # revision ARN -> its counts and traffic weights: live while the deployment runs, then as they
    # were when it finished (ECS: "the number of running tasks when the deployment completes").
    counts: dict[str, RevisionCounts] | None = None
    counts_final: bool = False

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def breaker_enabled(self) -> bool:
        return bool((self.configuration.get("deploymentCircuitBreaker") or {}).get("enable"))

    @property
    def alarm_names(self) -> tuple[str, ...]:
        alarms = self.configuration.get("alarms") or {}
        return tuple(alarms.get("alarmNames") or ()) if alarms.get("enable") else ()

    def move(self, status: str, reason: str | None = None) -> None:
        """Change status (and say why); the timestamps follow the status."""
        if self.status == status and reason is None:
            return
        self.status = status
        if reason is not None:
            self.status_reason = reason
        self.updated_at = now()
        if status != PENDING and self.started_at is None:
            # A deployment stopped before the scheduler started it has started all the same.
            self.started_at = self.updated_at
        if status in TERMINAL:
            self.finished_at = self.finished_at or self.updated_at
        if status == STOPPED:
            self.stopped_at = self.stopped_at or self.updated_at

    def stage(self, stage: str) -> None:
        if self.lifecycle_stage != stage:
            self.lifecycle_stage = stage
            self.updated_at = now()

    def start_rollback(self, reason: str, revision: str) -> None:
        self.rollback = {"reason": reason, "startedAt": now(), "serviceRevisionArn": revision}
        self.move(ROLLBACK_REQUESTED, reason)

    def brief(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created_at,
            "targetServiceRevisionArn": self.target_revision,
            "status": self.status,
        }
        if self.status_reason:
            data["statusReason"] = self.status_reason
        for key, value in (("startedAt", self.started_at), ("finishedAt", self.finished_at)):
            if value is not None:
                data[key] = value
        return data

    def to_api(self) -> dict[str, Any]:
        counts = self.counts or {}

        def summary(arn: str) -> dict[str, Any]:
            return counts.get(arn, RevisionCounts(0, 0, 0, 0.0, 0.0)).to_api(arn)

        data = self.brief()
        del data["targetServiceRevisionArn"]
        data.update(
            {
                "updatedAt": self.updated_at,
                "sourceServiceRevisions": [summary(arn) for arn in self.source_revisions],
                "targetServiceRevision": summary(self.target_revision),
                "deploymentConfiguration": self.configuration,
                "deploymentCircuitBreaker": self._breaker(),
                "alarms": self._alarms(),
            }
        )
        if self.lifecycle_stage:
            data["lifecycleStage"] = self.lifecycle_stage
        if self.stopped_at is not None:
            data["stoppedAt"] = self.stopped_at
        if self.rollback is not None:
            data["rollback"] = dict(self.rollback)
        return data

    def _monitor_status(self, triggered: bool) -> str:
        if triggered:
            return TRIGGERED
        return MONITORING_COMPLETE if self.done else MONITORING

    def _breaker(self) -> dict[str, Any]:
        if not self.breaker_enabled:
            return {"status": DISABLED}
        return {
            "status": self._monitor_status(self.breaker_triggered),
            "failureCount": self.breaker_failures,
            "threshold": self.breaker_threshold,
        }

    def _alarms(self) -> dict[str, Any]:
        names = self.alarm_names
        if not names:
            return {"status": DISABLED}
        data: dict[str, Any] = {
            "status": self._monitor_status(bool(self.triggered_alarms)),
            "alarmNames": list(names),
        }
        if self.triggered_alarms:
            data["triggeredAlarmNames"] = list(self.triggered_alarms)
        return data
