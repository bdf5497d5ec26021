"""`releasectl status`: what the service runs now, in two API calls (three where ECS reports
service deployments: then the current one's status, stage and traffic split too)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from releasectl.core import imageref
from releasectl.core.deploy_plan import Revision
from releasectl.core.errors import UsageError
from releasectl.core.rollout import primary
from releasectl.core.versions import is_release_tag
from releasectl.core.view import Block, Lines, Table, View

if TYPE_CHECKING:
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.commands.context import Context

RECENT_EVENTS = 5


def service_status(ctx: Context) -> View:
    from releasectl.adapters.aws.ecs import EcsApi

    container_name = ctx.config.require("container_name")
    return read_status(EcsApi.from_context(ctx), container_name=container_name)


def read_status(ecs: EcsApi, *, container_name: str) -> StatusView:
    service = ecs.describe_service()
    revision = ecs.describe_task_definition(str(service["taskDefinition"]))
    data = build_status(service, revision, container_name=container_name, cluster=ecs.cluster)
    data["service_deployment"] = _service_deployment(ecs, service)
    return StatusView(data)


def _service_deployment(ecs: EcsApi, service: Mapping[str, Any]) -> dict[str, Any] | None:
    """The current service deployment: where it is (stage, split) while it runs, how it ended
    after. None where ECS reports none."""
    from releasectl.adapters.aws.ecs import ServiceDeploymentsUnavailable, service_deployments_offered
    from releasectl.core.service_deployment import read

    if not service_deployments_offered(service):
        return None
    try:
        view = read(ecs.describe_service_deployment(str(service["currentServiceDeployment"])))
    except ServiceDeploymentsUnavailable:
        return None
    return {**view.to_json(), "in_flight": not view.finished, "summary": view.summary()}


def build_status(
    service: Mapping[str, Any], revision: Revision, *, container_name: str, cluster: str
) -> dict[str, Any]:
    """The JSON answer, from a describe_services entry and its running revision. Pure."""
    image = revision.image(container_name)
    version, source = _version(revision, image)
    lead = primary(service) or {}
    return {
        "service": service.get("serviceName"),
        "cluster": cluster,
        "version": version,
        "version_source": source,
        "digest": revision.digest(container_name),
        "image": image,
        "task_definition": revision.arn,
        "recorded_outcome": revision.outcome,
        "rollout_state": lead.get("rolloutState"),
        "rollout_state_reason": lead.get("rolloutStateReason"),
        "running": int(service.get("runningCount") or 0),
        "desired": int(service.get("desiredCount") or 0),
        "pending": int(service.get("pendingCount") or 0),
        "deployments": [_deployment(d) for d in service.get("deployments") or ()],
        "events": [
            {"created_at": _time(e.get("createdAt")), "message": e.get("message")}
            for e in (service.get("events") or ())[:RECENT_EVENTS]
        ],
    }


def _version(revision: Revision, image: str | None) -> tuple[str | None, str | None]:
    if revision.version:
        return revision.version, "task definition tag"
    if image:
        try:
            tag = imageref.parse(image).tag
        except UsageError:
            tag = None
        if tag and is_release_tag(tag):
            return tag, "image tag"
    return None, None


def _deployment(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": item.get("id"),
        "status": item.get("status"),
        "task_definition": item.get("taskDefinition"),
        "rollout_state": item.get("rolloutState"),
        "rollout_state_reason": item.get("rolloutStateReason"),
        "running": int(item.get("runningCount") or 0),
        "desired": int(item.get("desiredCount") or 0),
        "pending": int(item.get("pendingCount") or 0),
        "failed_tasks": int(item.get("failedTasks") or 0),
        "created_at": _time(item.get("createdAt")),
    }


def _time(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return None if value is None else str(value)


@dataclass
class StatusView(View):
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.data

    def text(self, *, width: int, unicode: bool) -> list[Block]:
        d = self.data
        version = d["version"] or "unknown"
        image = d["image"] or "unknown"
        task_definition = d["task_definition"] or "unknown"
        outcome = f" (last outcome: {d['recorded_outcome']})" if d["recorded_outcome"] else ""
        # Whole values when the width allows; else the short forms `releases` prints (--json has all).
        if len(f"image     {image}") > width:
            image = _short_image(image)
        if len(f"task def  {task_definition}{outcome}") > width:
            task_definition = task_definition.rsplit("/", 1)[-1]
        lines = [
            f"service   {d['service']} (cluster {d['cluster']})",
            f"version   {version}" + (f" (from the {d['version_source']})" if d["version_source"] else ""),
            f"image     {image}",
            f"task def  {task_definition}{outcome}",
            f"rollout   {d['rollout_state'] or 'unknown'}: "
            f"running {d['running']}/{d['desired']}, pending {d['pending']}",
        ]
        current = d.get("service_deployment")
        if current:
            label = "deploying" if current["in_flight"] else "last     "
            ident = str(current["service_deployment"]).rsplit("/", 1)[-1]
            strategy = str(current["strategy"]).replace("_", "/").lower()
            lines.append(f"{label} {ident} ({strategy}) {current['summary']}")
        blocks: list[Block] = [Lines.of(lines, "cut")]
        blocks.append(
            Table.of(
                "Deployments",
                ["deployment", "state", "tasks", "revision"],
                [
                    [
                        x["id"],
                        f"{x['status']} {x['rollout_state'] or ''}".strip(),
                        f"{x['running']}/{x['desired']}"
                        + (f" +{x['pending']}p" if x["pending"] else "")
                        + (f" {x['failed_tasks']} failed" if x["failed_tasks"] else ""),
                        (x["task_definition"] or "").rsplit("/", 1)[-1],
                    ]
                    for x in d["deployments"]
                ],
            )
        )
        if d["events"]:
            blocks.append(
                Table.of(
                    "Recent events",
                    ["time", "message"],
                    [[e["created_at"], e["message"]] for e in d["events"]],
                )
            )
        return blocks


def _short_image(image: str) -> str:
    """repository@sha256:<12 hex> (or repository:tag), without the registry host."""
    try:
        ref = imageref.parse(image)
    except UsageError:
        return image
    if ref.digest:
        return f"{ref.repository}@{ref.digest[: len('sha256:') + 12]}"
    return f"{ref.repository}:{ref.tag}" if ref.tag else ref.repository
