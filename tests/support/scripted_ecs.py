"""A small fake ECS client that replays realistic describe_services sequences.

moto keeps ECS state but never rolls anything out (docs/testing.md §2), so rollouts over time are
scripted here: after update_service, each describe_services call returns the next frame of
a script (the last one repeats). Task definitions, tags, stopped tasks and pagination behave
like ECS: 100 items a page with nextToken (paged through by botocore's own paginators),
describe_tasks refuses more than 100 ARNs, and register_task_definition checks its arguments
against botocore's ECS model, so a read-only field copied by mistake fails here as it would on AWS.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.paging import botocore_paginator

ACCOUNT = "123456789012"
REGION = "us-east-1"
REPO_URI = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/hello-world"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def digest(n: int) -> str:
    return "sha256:" + f"{n:x}".rjust(64, "a")


def td_arn(family: str, revision: int) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}"


def client_error(operation: str, code: str, message: str = "", status: int = 400) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": code, "Message": message or code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


def task_definition_body(
    family: str = "hello-world",
    *,
    image: str = f"{REPO_URI}@{digest(1)}",
    sidecar_image: str = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0",
    container_name: str = "app",
) -> dict[str, Any]:
    """register_task_definition arguments shaped like a real Fargate service's."""
    return {
        "family": family,
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/hello-task",
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/hello-exec",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "containerDefinitions": [
            {
                "name": container_name,
                "image": image,
                "essential": True,
                "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                "environment": [{"name": "LOG_LEVEL", "value": "info"}],
                "healthCheck": {
                    "command": [
                        "CMD-SHELL",
                        "python -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1:8080/health\")'",
                    ],
                    "interval": 10,
                    "timeout": 3,
                    "retries": 3,
                    "startPeriod": 5,
                },
                "logConfiguration": {"logDriver": "awsfirelens", "options": {"Name": "cloudwatch"}},
            },
            {
                "name": "log-router",
                "image": sidecar_image,
                "essential": True,
                "firelensConfiguration": {"type": "fluentbit"},
            },
        ],
        "volumes": [],
        "placementConstraints": [],
    }


def deployment(
    ident: str,
    task_definition: str,
    *,
    status: str = "PRIMARY",
    rollout: str = "IN_PROGRESS",
    running: int = 0,
    desired: int = 2,
    pending: int = 0,
    failed: int = 0,
    reason: str | None = None,
    created: datetime = T0,
) -> dict[str, Any]:
    return {
        "id": ident,
        "status": status,
        "taskDefinition": task_definition,
        "desiredCount": desired,
        "pendingCount": pending,
        "runningCount": running,
        "failedTasks": failed,
        "createdAt": created,
        "updatedAt": created,
        "launchType": "FARGATE",
        "rolloutState": rollout,
        "rolloutStateReason": reason or f"ECS deployment {ident} {rollout.lower().replace('_', ' ')}.",
    }


def event(ident: str, message: str, *, at: datetime = T0) -> dict[str, Any]:
    return {"id": ident, "createdAt": at, "message": message}


@dataclass
class Rollout:
    """What a script frame needs to know: the deployment update_service started and the old one."""

    new_id: str
    new_td: str
    old_id: str
    old_td: str
    desired: int
    service_name: str
    base: dict[str, Any] = field(default_factory=dict)  # the service before update_service


Frame = Callable[[Rollout], dict[str, Any]]


@dataclass
class ScriptedEcs:
    cluster: str = "web"
    service_name: str = "hello-world"
    desired: int = 2
    circuit_breaker_rollback: bool = True
    script: Sequence[Frame] = ()
    page_size: int = 100
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    task_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    stopped: list[dict[str, Any]] = field(default_factory=list)
    service: dict[str, Any] = field(default_factory=dict)
    rollout: Rollout | None = None
    frame_index: int = 0
    # Operations that raise instead of answering: name -> exception factory.
    failures: dict[str, Callable[[], Exception]] = field(default_factory=dict)
    _deployments_started: int = 0

    # ------------------------------------------------------------------ set-up helpers

    def add_revision(
        self,
        body: dict[str, Any] | None = None,
        *,
        tags: dict[str, str] | None = None,
        status: str = "ACTIVE",
    ) -> str:
        body = copy.deepcopy(body or task_definition_body())
        family = body["family"]
        revision = 1 + max(
            (d["revision"] for d in self.task_definitions.values() if d["family"] == family), default=0
        )
        arn = td_arn(family, revision)
        definition = {
            **{k: v for k, v in body.items() if k != "tags"},
            "taskDefinitionArn": arn,
            "revision": revision,
            "status": status,
            "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.task-iam-role"}],
            "compatibilities": ["EC2", "FARGATE"],
            "registeredAt": T0 + timedelta(minutes=revision),
            "registeredBy": f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci",
        }
        if status == "INACTIVE":
            definition["deregisteredAt"] = T0 + timedelta(days=1)
        self.task_definitions[arn] = definition
        merged = {t["key"]: t["value"] for t in body.get("tags") or ()}
        merged.update(tags or {})
        self.tags[arn] = merged
        return arn

    def start_service(self, task_definition: str, *, events: Sequence[dict[str, Any]] = ()) -> None:
        """The service as it is before the test: one COMPLETED deployment, everything running."""
        self.service = {
            "serviceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{self.cluster}/{self.service_name}",
            "serviceName": self.service_name,
            "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{self.cluster}",
            "status": "ACTIVE",
            "taskDefinition": task_definition,
            "desiredCount": self.desired,
            "runningCount": self.desired,
            "pendingCount": 0,
            "launchType": "FARGATE",
            "deploymentConfiguration": {
                "deploymentCircuitBreaker": {"enable": True, "rollback": self.circuit_breaker_rollback},
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
            },
            "deployments": [
                deployment(
                    "ecs-svc/1111111111111111111",
                    task_definition,
                    rollout="COMPLETED",
                    running=self.desired,
                    desired=self.desired,
                    created=T0 - timedelta(days=1),
                )
            ],
            "events": list(events)
            or [event("ev-old-1", f"(service {self.service_name}) has reached a steady state.")],
        }

    def deregister(self, arn: str) -> None:
        self.task_definitions[arn]["status"] = "INACTIVE"

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    def count(self, operation: str) -> int:
        return self.operations().count(operation)

    # ------------------------------------------------------------------ the client surface

    def _record(self, name: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((name, copy.deepcopy(kwargs)))
        if name in self.failures:
            raise self.failures[name]()

    def describe_services(self, *, cluster: str, services: list[str], **kw: Any) -> dict[str, Any]:
        self._record("describe_services", {"cluster": cluster, "services": services, **kw})
        if cluster != self.cluster:
            raise client_error("DescribeServices", "ClusterNotFoundException", "Cluster not found.")
        if services != [self.service_name] or not self.service:
            return {"services": [], "failures": [{"arn": services[0], "reason": "MISSING"}]}
        if self.rollout is not None and self.script:
            frame = self.script[min(self.frame_index, len(self.script) - 1)]
            self.frame_index += 1
            self.service = frame(self.rollout)
        return {"services": [copy.deepcopy(self.service)], "failures": []}

    def describe_task_definition(
        self, *, taskDefinition: str, include: list[str] | None = None
    ) -> dict[str, Any]:
        self._record("describe_task_definition", {"taskDefinition": taskDefinition, "include": include})
        definition = self.task_definitions.get(taskDefinition)
        if definition is None:
            raise client_error(
                "DescribeTaskDefinition", "ClientException", "Unable to describe task definition."
            )
        response: dict[str, Any] = {"taskDefinition": copy.deepcopy(definition)}
        if include and "TAGS" in include:
            response["tags"] = [{"key": k, "value": v} for k, v in self.tags.get(taskDefinition, {}).items()]
        return response

    def register_task_definition(self, **kwargs: Any) -> dict[str, Any]:
        self._record("register_task_definition", kwargs)
        _validate("RegisterTaskDefinition", kwargs)
        arn = self.add_revision(kwargs)
        return {"taskDefinition": copy.deepcopy(self.task_definitions[arn]), "tags": kwargs.get("tags", [])}

    def list_task_definitions(self, **kwargs: Any) -> dict[str, Any]:
        self._record("list_task_definitions", kwargs)
        _validate("ListTaskDefinitions", kwargs)
        family = kwargs.get("familyPrefix")
        status = kwargs.get("status", "ACTIVE")
        arns = [
            arn
            for arn, d in self.task_definitions.items()
            if d["status"] == status and (family is None or d["family"] == family)
        ]
        arns.sort(key=lambda a: self.task_definitions[a]["revision"], reverse=kwargs.get("sort") == "DESC")
        return self._page(arns, kwargs, "taskDefinitionArns")

    def update_service(self, **kwargs: Any) -> dict[str, Any]:
        self._record("update_service", kwargs)
        _validate("UpdateService", kwargs)
        if kwargs.get("cluster") != self.cluster:
            raise client_error("UpdateService", "ClusterNotFoundException")
        if kwargs["service"] != self.service_name or not self.service:
            raise client_error("UpdateService", "ServiceNotFoundException", "Service not found.")
        new_td = kwargs["taskDefinition"]
        if self.task_definitions.get(new_td, {}).get("status") != "ACTIVE":
            # What AWS does (moto accepts it): an INACTIVE revision cannot be deployed.
            raise client_error("UpdateService", "ClientException", "TaskDefinition is inactive")
        self._deployments_started += 1
        old = self.service["deployments"][0]
        self.rollout = Rollout(
            new_id=f"ecs-svc/20000000000000000{self._deployments_started:02d}",
            new_td=new_td,
            old_id=old["id"],
            old_td=old["taskDefinition"],
            desired=self.desired,
            service_name=self.service_name,
            base=copy.deepcopy(self.service),
        )
        self.frame_index = 0
        self.service = started_frame(self.rollout)
        return {"service": copy.deepcopy(self.service)}

    def tag_resource(self, *, resourceArn: str, tags: list[dict[str, str]]) -> dict[str, Any]:
        self._record("tag_resource", {"resourceArn": resourceArn, "tags": tags})
        self.tags.setdefault(resourceArn, {}).update({t["key"]: t["value"] for t in tags})
        return {}

    def list_tasks(self, **kwargs: Any) -> dict[str, Any]:
        self._record("list_tasks", kwargs)
        _validate("ListTasks", kwargs)
        arns = [t["taskArn"] for t in self.stopped if kwargs.get("desiredStatus") == "STOPPED"]
        return self._page(arns, kwargs, "taskArns")

    def describe_tasks(self, *, cluster: str, tasks: list[str], **kw: Any) -> dict[str, Any]:
        self._record("describe_tasks", {"cluster": cluster, "tasks": tasks})
        if len(tasks) > 100:
            raise client_error(
                "DescribeTasks", "InvalidParameterException", "Tasks cannot be longer than 100."
            )
        wanted = set(tasks)
        return {"tasks": [copy.deepcopy(t) for t in self.stopped if t["taskArn"] in wanted], "failures": []}

    def get_paginator(self, operation: str) -> Any:
        return botocore_paginator(self, "ecs", operation)

    def _page(self, items: list[str], kwargs: dict[str, Any], key: str) -> dict[str, Any]:
        size = min(int(kwargs.get("maxResults") or self.page_size), self.page_size)
        start = int(kwargs.get("nextToken") or 0)
        page: dict[str, Any] = {key: items[start : start + size]}
        if start + size < len(items):
            page["nextToken"] = str(start + size)
        return page

    # ------------------------------------------------------------------ tasks

    def add_stopped_tasks(self, count: int, *, started_by: str, reason: str, exit_code: int = 1) -> None:
        for _ in range(count):
            n = len(self.stopped) + 1
            self.stopped.append(
                {
                    "taskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{self.cluster}/{n:032x}",
                    "startedBy": started_by,
                    "lastStatus": "STOPPED",
                    "desiredStatus": "STOPPED",
                    "stopCode": "EssentialContainerExited",
                    "stoppedReason": reason,
                    "containers": [{"name": "app", "exitCode": exit_code, "lastStatus": "STOPPED"}],
                }
            )


def _validate(operation: str, params: dict[str, Any]) -> None:
    from botocore.validate import validate_parameters

    validate_parameters(params, _ecs_model().operation_model(operation).input_shape)


@functools.cache
def _ecs_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("ecs")


# ---------------------------------------------------------------------- frames


def started_frame(r: Rollout) -> dict[str, Any]:
    """The update_service response: our deployment PRIMARY and IN_PROGRESS, the old one ACTIVE."""
    return service_frame(
        r,
        [
            deployment(r.new_id, r.new_td, desired=r.desired, created=T0 + timedelta(minutes=10)),
            deployment(
                r.old_id, r.old_td, status="ACTIVE", rollout="COMPLETED", running=r.desired, desired=r.desired
            ),
        ],
        running=r.desired,
    )


def service_frame(
    r: Rollout,
    deployments: list[dict[str, Any]],
    *,
    running: int,
    pending: int = 0,
    events: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The service at one moment of the rollout; `events` are all events since the update,
    oldest first (ECS lists them newest first, on top of the older ones)."""
    frame = copy.deepcopy(r.base)
    primary = next(d for d in deployments if d["status"] == "PRIMARY")
    frame.update(
        taskDefinition=primary["taskDefinition"],
        deployments=deployments,
        runningCount=running,
        pendingCount=pending,
        events=[*reversed(events), *r.base.get("events", [])],
    )
    return frame


# ---------------------------------------------------------------------- test helpers


def release(version: str, n: int, *, commit: str | None = None) -> Any:
    """A ledger entry whose image digest is digest(n)."""
    from releasectl.core.ledger import Release

    return Release(
        version=version,
        commit=commit or f"{n:040x}",
        digest=digest(n),
        pushed_at=T0 + timedelta(hours=n),
        sources=frozenset({"ecr"}),
    )


def make_context(**config: Any) -> Any:
    """A Context for scripted tests: fake clock, recording reporter, the usual names."""
    from releasectl.commands.context import Context, RecordingReporter
    from releasectl.core.clock import FakeClock
    from releasectl.core.config import Config

    settings = {
        "ecr_repository": "hello-world",
        "ecs_cluster": "web",
        "ecs_service": "hello-world",
        "container_name": "app",
        **config,
    }
    return Context(config=Config(**settings), reporter=RecordingReporter(), clock=FakeClock())


def api(fake: ScriptedEcs) -> Any:
    from releasectl.adapters.aws.ecs import EcsApi

    return EcsApi(fake, cluster=fake.cluster, service=fake.service_name)


def route_client(client: Any, fake: ScriptedEcs, *, faults: Sequence[FaultInjector] = ()) -> None:
    """Answer a real botocore ECS client's requests from `fake`, over botocore's own
    serialisation, retries and before-send call counting (AwsClients.call_hooks). `faults`
    answer first: a request they fail never reaches the fake, as a failed call changes nothing."""
    from botocore import xform_name
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ClientError

    def answer(request: Any, event_name: str = "", **_: Any) -> Any:
        for fault in faults:
            failed = fault(request, event_name=event_name)
            if failed is not None:
                return failed
        operation = event_name.rsplit(".", 1)[-1]
        body = request.body or b"{}"
        params = json.loads(body.decode() if isinstance(body, bytes) else body)
        try:
            payload, status = getattr(fake, xform_name(operation))(**params), 200
        except ClientError as exc:
            error = exc.response["Error"]
            payload = {"__type": error["Code"], "message": error.get("Message", "")}
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
        text = json.dumps(payload, default=lambda value: value.timestamp()).encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1"}, _Body(text))

    client.meta.events.register_first("before-send.ecs", answer)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


class FaultInjector:
    """Answers chosen operations with an error for `times` attempts, after letting `skip` through."""

    def __init__(self, operation: str, *, status: int, code: str, times: int, skip: int = 0) -> None:
        self.operation, self.status, self.code, self.times, self.skip = operation, status, code, times, skip
        self.attempts = 0

    def __call__(self, request: Any, event_name: str = "", **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        if not event_name.endswith("." + self.operation):
            return None
        if self.skip > 0:
            self.skip -= 1
            return None
        self.attempts += 1
        if self.attempts > self.times:
            return None
        body = json.dumps({"__type": self.code, "message": f"injected {self.code}"}).encode()
        response = AWSResponse(
            request.url, self.status, {"Content-Type": "application/x-amz-json-1.1"}, _Body(body)
        )
        # botocore calls every before-send handler and uses the first answer; moto's handler
        # comes after this one, and would still carry the request out unless it no longer
        # recognises the URL. A failed request must change nothing, as on AWS.
        request.url = "https://fault-injected.invalid/"
        return response
