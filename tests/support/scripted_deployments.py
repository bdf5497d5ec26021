"""The scripted ECS fake with the service-deployments API: ECS since 2025, over time.

ScriptedServiceDeployments extends tests.support.scripted_ecs.ScriptedEcs: update_service and
create_service start a service deployment (its ARN in the service's currentServiceDeployment, as
ECS reports it), and each DescribeServiceDeployments call returns the next frame of `sd_script`
(the last one repeats). StopServiceDeployment switches to `on_stop` (the rollback as ECS runs it)
unless the deployment has finished, which ECS refuses with a ConflictException. Every request is
checked against botocore's ECS model, and so is every answer, so a misspelt field in a frame
fails here rather than passing unnoticed.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tests.support.scripted_ecs import ACCOUNT, REGION, T0, ScriptedEcs, _validate, client_error

FINISHED = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}


@dataclass
class Run:
    """What a frame needs to know about the deployment it describes."""

    arn: str
    service_arn: str
    cluster_arn: str
    target_revision: str
    source_revision: str
    desired: int
    strategy: str
    config: dict[str, Any]


SdFrame = Callable[[Run], dict[str, Any]]


@dataclass
class ScriptedServiceDeployments(ScriptedEcs):
    sd_script: Sequence[SdFrame] = ()
    on_stop: Sequence[SdFrame] = ()
    # The service's deployment configuration as the account has it (update_service overrides it).
    deployment_configuration: dict[str, Any] = field(default_factory=dict)
    # False: an endpoint without the API (an older partition); every call is UnknownOperation.
    api: bool = True
    run: Run | None = None
    sd_index: int = 0
    stop_requested: bool = False
    stop_calls: int = 0
    revision_task_definitions: dict[str, str] = field(default_factory=dict)
    last: dict[str, Any] | None = None  # the frame the last DescribeServiceDeployments showed
    _sd_started: int = 0
    previous_arn: str | None = None

    # ------------------------------------------------------------------ set-up

    def start_service(self, task_definition: str, *, events: Sequence[dict[str, Any]] = ()) -> None:
        super().start_service(task_definition, events=events)
        if self.api:
            self.previous_arn = self._arn("previous0000000000")
            self.service["currentServiceDeployment"] = self.previous_arn
        self.service["deploymentConfiguration"].update(copy.deepcopy(self.deployment_configuration))

    def _revision(self, number: int) -> str:
        return f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{self.cluster}/{self.service_name}/{number}"

    def _arn(self, suffix: str) -> str:
        return (
            f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{self.cluster}/{self.service_name}/{suffix}"
        )

    # ------------------------------------------------------------------ the client surface

    def update_service(self, **kwargs: Any) -> dict[str, Any]:
        response = super().update_service(**kwargs)
        config = copy.deepcopy(self.service.get("deploymentConfiguration") or {})
        config.update(copy.deepcopy(kwargs.get("deploymentConfiguration") or {}))
        self.service["deploymentConfiguration"] = config
        response["service"]["deploymentConfiguration"] = copy.deepcopy(config)
        if self.api:
            self._start(kwargs["taskDefinition"], config)
            response["service"]["currentServiceDeployment"] = self.run.arn  # type: ignore[union-attr]
        return response

    def _start(self, task_definition: str, config: dict[str, Any]) -> None:
        self._sd_started += 1
        arn = self._arn(f"sd{self._sd_started:016d}")
        self.previous_arn = self.service.get("currentServiceDeployment")
        self.service["currentServiceDeployment"] = arn
        self.run = Run(
            arn=arn,
            service_arn=self.service["serviceArn"],
            cluster_arn=self.service["clusterArn"],
            target_revision=self._revision(1000 + self._sd_started),
            source_revision=self._revision(999 + self._sd_started),
            desired=self.desired,
            strategy=str(config.get("strategy") or "ROLLING"),
            config=config,
        )
        self.revision_task_definitions[self.run.target_revision] = task_definition
        self.sd_index = 0
        self.stop_requested = False

    def describe_services(self, *, cluster: str, services: list[str], **kw: Any) -> dict[str, Any]:
        response = super().describe_services(cluster=cluster, services=services, **kw)
        if self.api and response["services"] and self.run is not None:
            response["services"][0]["currentServiceDeployment"] = self.run.arn
        return response

    def describe_service_deployments(self, *, serviceDeploymentArns: list[str]) -> dict[str, Any]:
        self._record("describe_service_deployments", {"serviceDeploymentArns": serviceDeploymentArns})
        self._absent("DescribeServiceDeployments")
        _validate("DescribeServiceDeployments", {"serviceDeploymentArns": serviceDeploymentArns})
        found, failures = [], []
        for arn in serviceDeploymentArns:
            if self.run is not None and arn == self.run.arn:
                found.append(self.current())
            else:
                failures.append({"arn": arn, "reason": "MISSING"})
        response = {"serviceDeployments": found, "failures": failures}
        _validate_output("DescribeServiceDeployments", response)
        return response

    def current(self) -> dict[str, Any]:
        """The frame this call shows (and the script moves on)."""
        assert self.run is not None
        script = self.on_stop if self.stop_requested and self.on_stop else self.sd_script
        if not script:
            return sd_frame(self.run, "IN_PROGRESS")
        frame = script[min(self.sd_index, len(script) - 1)](self.run)
        self.sd_index += 1
        self.last = frame
        return frame

    def list_service_deployments(self, **kwargs: Any) -> dict[str, Any]:
        self._record("list_service_deployments", kwargs)
        self._absent("ListServiceDeployments")
        _validate("ListServiceDeployments", kwargs)
        briefs = []
        if self.run is not None:
            status = (self.last or {}).get("status", "IN_PROGRESS")
            wanted = kwargs.get("status")
            if not wanted or status in wanted:
                briefs.append(
                    {
                        "serviceDeploymentArn": self.run.arn,
                        "serviceArn": self.run.service_arn,
                        "clusterArn": self.run.cluster_arn,
                        "createdAt": T0 + timedelta(minutes=10),
                        "targetServiceRevisionArn": self.run.target_revision,
                        "status": status,
                    }
                )
        return {"serviceDeployments": briefs}

    def stop_service_deployment(
        self, *, serviceDeploymentArn: str, stopType: str = "ABORT"
    ) -> dict[str, Any]:
        self._record(
            "stop_service_deployment", {"serviceDeploymentArn": serviceDeploymentArn, "stopType": stopType}
        )
        self._absent("StopServiceDeployment")
        _validate(
            "StopServiceDeployment", {"serviceDeploymentArn": serviceDeploymentArn, "stopType": stopType}
        )
        self.stop_calls += 1
        if self.run is None or serviceDeploymentArn != self.run.arn:
            raise client_error("StopServiceDeployment", "ServiceDeploymentNotFoundException", "not found")
        if (self.last or {}).get("status") in FINISHED:
            raise client_error(
                "StopServiceDeployment",
                "ConflictException",
                "The service deployment is not in a state that can be stopped.",
            )
        if not self.stop_requested:
            self.stop_requested = True
            self.sd_index = 0
        return {"serviceDeploymentArn": serviceDeploymentArn}

    def describe_service_revisions(self, *, serviceRevisionArns: list[str]) -> dict[str, Any]:
        self._record("describe_service_revisions", {"serviceRevisionArns": serviceRevisionArns})
        self._absent("DescribeServiceRevisions")
        revisions = [
            {"serviceRevisionArn": arn, "taskDefinition": self.revision_task_definitions[arn]}
            for arn in serviceRevisionArns
            if arn in self.revision_task_definitions
        ]
        return {"serviceRevisions": revisions, "failures": []}

    def _absent(self, operation: str) -> None:
        if not self.api:
            raise client_error(operation, "UnknownOperationException", f"{operation} is not offered here")


@functools.cache
def _output_shape(operation: str) -> Any:
    from tests.support.scripted_ecs import _ecs_model

    return _ecs_model().operation_model(operation).output_shape


def _validate_output(operation: str, response: dict[str, Any]) -> None:
    from botocore.validate import validate_parameters

    validate_parameters(response, _output_shape(operation))


# ---------------------------------------------------------------------- frames


def sd_frame(
    run: Run,
    status: str,
    stage: str | None = None,
    *,
    new: float | None = None,
    test: float | None = None,
    running: int | None = None,
    pending: int = 0,
    reason: str | None = None,
    rollback_reason: str | None = None,
    breaker: tuple[str, int, int] | None = None,  # (status, failureCount, threshold)
    alarms: tuple[str, list[str]] | None = None,  # (status, triggered names)
    hooks: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A DescribeServiceDeployments entry as ECS returns it."""
    target: dict[str, Any] = {
        "arn": run.target_revision,
        "requestedTaskCount": run.desired,
        "runningTaskCount": run.desired if running is None else running,
        "pendingTaskCount": pending,
    }
    source: dict[str, Any] = {
        "arn": run.source_revision,
        "requestedTaskCount": run.desired,
        "runningTaskCount": run.desired,
        "pendingTaskCount": 0,
    }
    if new is not None:
        target["requestedProductionTrafficWeight"] = float(new)
        source["requestedProductionTrafficWeight"] = float(100 - new)
    if test is not None:
        target["requestedTestTrafficWeight"] = float(test)
        source["requestedTestTrafficWeight"] = float(100 - test)
    frame: dict[str, Any] = {
        "serviceDeploymentArn": run.arn,
        "serviceArn": run.service_arn,
        "clusterArn": run.cluster_arn,
        "createdAt": T0 + timedelta(minutes=10),
        "startedAt": T0 + timedelta(minutes=10),
        "updatedAt": T0 + timedelta(minutes=11),
        "sourceServiceRevisions": [source],
        "targetServiceRevision": target,
        "status": status,
        "deploymentConfiguration": copy.deepcopy(run.config),
    }
    if stage:
        frame["lifecycleStage"] = stage
    if reason:
        frame["statusReason"] = reason
    if status in FINISHED:
        frame["finishedAt"] = T0 + timedelta(minutes=20)
    if status.startswith("ROLLBACK") or rollback_reason:
        frame["rollback"] = {
            "reason": rollback_reason or "Rollback requested",
            "startedAt": T0 + timedelta(minutes=15),
            "serviceRevisionArn": run.source_revision,
        }
    if breaker:
        frame["deploymentCircuitBreaker"] = {
            "status": breaker[0],
            "failureCount": breaker[1],
            "threshold": breaker[2],
        }
    if alarms:
        frame["alarms"] = {
            "status": alarms[0],
            "alarmNames": list(alarms[1]),
            "triggeredAlarmNames": list(alarms[1]),
        }
    if hooks:
        frame["lifecycleHookDetails"] = list(hooks)
    return frame


def at(status: str, stage: str | None = None, **kw: Any) -> SdFrame:
    """A frame factory: `at("IN_PROGRESS", "BAKE_TIME", new=100)`."""
    return lambda run: sd_frame(run, status, stage, **kw)


CANARY = {
    "strategy": "CANARY",
    "bakeTimeInMinutes": 2,
    "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 3},
}
BLUE_GREEN = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5}
LINEAR = {
    "strategy": "LINEAR",
    "bakeTimeInMinutes": 1,
    "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1},
}
