"""ECS, the only code that calls it: services, task-definition revisions, tasks, tags.

Every method is one API call (or one paginated pass) wrapped in aws_errors, and counts its
calls so the waiter can keep its average rate down. Nothing here deregisters anything:
a revision a rollback may need, or one that runs, is never removed by releasectl.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from releasectl.adapters.aws.clients import aws_errors, error_code
from releasectl.core.deploy_plan import Revision, revision_of
from releasectl.core.errors import EnvironmentProblem
from releasectl.core.rollback_target import HISTORY_SCAN
from releasectl.core.versions import COMMIT_TAG, OUTCOME_TAG, VERSION_TAG

if TYPE_CHECKING:
    from releasectl.commands.context import Context

_PAGE = 100  # list_tasks / list_task_definitions maximum page size
_DESCRIBE_TASKS_MAX = 100  # describe_tasks takes at most 100 ARNs per call


class EcsApi:
    """One service in one cluster, behind whatever client the boundary was given."""

    def __init__(self, client: Any, *, cluster: str, service: str) -> None:
        self.client = client
        self.cluster = cluster
        self.service = service
        self.calls = 0

    @classmethod
    def from_context(cls, ctx: Context) -> EcsApi:
        cluster = ctx.config.require("ecs_cluster")
        service = ctx.config.require("ecs_service")
        return cls(ctx.aws.client("ecs"), cluster=cluster, service=service)

    def _call(self, operation: str, **kwargs: Any) -> Any:
        self.calls += 1
        return getattr(self.client, operation)(**kwargs)

    def _missing(self, detail: str) -> EnvironmentProblem:
        return EnvironmentProblem(
            f"ECS service {self.service!r} not found in cluster {self.cluster!r} ({detail})",
            hint="check ecs_cluster / ecs_service (RELEASECTL_ECS_CLUSTER, RELEASECTL_ECS_SERVICE) "
            "and the region, or create them with `releasectl infra deploy`",
        )

    # ------------------------------------------------------------------------- service

    def describe_service(self) -> dict[str, Any]:
        """The service; exit 4 when it or its cluster does not exist (or is being deleted)."""
        client_error = _client_error()
        with aws_errors(f"describing ECS service {self.service!r}"):
            try:
                response = self._call("describe_services", cluster=self.cluster, services=[self.service])
            except client_error as exc:
                if error_code(exc) == "ClusterNotFoundException":
                    raise self._missing("the cluster does not exist") from None
                raise
        found = response.get("services") or []
        if not found:
            reasons = ", ".join(str(f.get("reason")) for f in response.get("failures") or ()) or "not listed"
            raise self._missing(reasons)
        service = dict(found[0])
        if service.get("status") not in (None, "ACTIVE"):
            raise self._missing(f"its status is {service.get('status')}")
        return service

    def update_service(self, task_definition_arn: str) -> dict[str, Any]:
        """Point the service at a revision; the response carries the new deployment."""
        with aws_errors(f"updating ECS service {self.service!r} to {task_definition_arn}"):
            response = self._call(
                "update_service",
                cluster=self.cluster,
                service=self.service,
                taskDefinition=task_definition_arn,
                forceNewDeployment=False,
            )
        return dict(response["service"])

    # ------------------------------------------------------------------------- task definitions

    def describe_task_definition(self, ref: str) -> Revision:
        with aws_errors(f"describing task definition {ref}"):
            response = self._call("describe_task_definition", taskDefinition=ref, include=["TAGS"])
        return Revision.from_response(response)

    def register(self, body: Mapping[str, Any]) -> Revision:
        with aws_errors(f"registering a new revision of task definition family {body.get('family')!r}"):
            response = self._call("register_task_definition", **body)
        return Revision.from_response(response)

    def revisions(self, family: str, *, status: str = "ACTIVE") -> Iterator[str]:
        """ARNs of a family's revisions, newest first, one page fetched at a time."""
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "familyPrefix": family,
                "status": status,
                "sort": "DESC",
                "maxResults": _PAGE,
            }
            if token:
                kwargs["nextToken"] = token
            with aws_errors(f"listing {status} revisions of task definition family {family!r}"):
                page = self._call("list_task_definitions", **kwargs)
            # Sorted again because some implementations ignore `sort`.
            yield from sorted(page.get("taskDefinitionArns") or (), key=revision_of, reverse=True)
            token = page.get("nextToken")
            if not token:
                return

    def described(self, arns: Iterable[str], *, skip: Iterable[str] = ()) -> Iterator[Revision]:
        """Each revision described (with tags) only when the consumer asks for the next one."""
        skipped = set(skip)
        for arn in arns:
            if arn not in skipped:
                yield self.describe_task_definition(arn)

    def history(self, family: str, *, skip: Iterable[str] = ()) -> Iterator[Revision]:
        """Every revision of a family, ACTIVE and INACTIVE, newest first, described lazily.
        INACTIVE ones count: their outcome tags still say which versions ran well."""
        merged = heapq.merge(
            self.revisions(family, status="ACTIVE"),
            self.revisions(family, status="INACTIVE"),
            key=lambda arn: -revision_of(arn),
        )
        return self.described(merged, skip=skip)

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        with aws_errors(f"tagging {arn}"):
            self._call(
                "tag_resource", resourceArn=arn, tags=[{"key": k, "value": v} for k, v in tags.items()]
            )

    def recorded_outcomes(self, family: str, *, limit: int = HISTORY_SCAN) -> dict[str, str]:
        """version → the outcome recorded by its newest deployment, from the family's
        `releasectl:version` / `releasectl:outcome` tags (newest `limit` revisions)."""
        outcomes: dict[str, str] = {}
        for count, revision in enumerate(self.history(family)):
            if count >= limit:
                break
            if revision.version and revision.outcome and revision.version not in outcomes:
                outcomes[revision.version] = revision.outcome
        return outcomes

    # ------------------------------------------------------------------------- tasks

    def stopped_tasks(self, started_by: str, *, seen: set[str]) -> list[dict[str, Any]]:
        """Stopped tasks of one deployment not reported before. Tasks started by a service
        deployment carry its id in startedBy; list_tasks cannot filter on that together with
        STOPPED, so the service's stopped tasks are listed and the new ones described."""
        arns: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "cluster": self.cluster,
                "serviceName": self.service,
                "desiredStatus": "STOPPED",
                "maxResults": _PAGE,
            }
            if token:
                kwargs["nextToken"] = token
            with aws_errors(f"listing stopped tasks of ECS service {self.service!r}"):
                page = self._call("list_tasks", **kwargs)
            arns.extend(page.get("taskArns") or ())
            token = page.get("nextToken")
            if not token:
                break
        fresh = [arn for arn in dict.fromkeys(arns) if arn not in seen]
        tasks: list[dict[str, Any]] = []
        for start in range(0, len(fresh), _DESCRIBE_TASKS_MAX):
            chunk = fresh[start : start + _DESCRIBE_TASKS_MAX]
            with aws_errors(f"describing stopped tasks of ECS service {self.service!r}"):
                response = self._call("describe_tasks", cluster=self.cluster, tasks=chunk)
            tasks.extend(response.get("tasks") or ())
        seen.update(fresh)
        return [t for t in tasks if t.get("startedBy") == started_by]


def outcome_tags(outcome: str, *, version: str | None, commit: str | None) -> dict[str, str]:
    """What a finished deployment records on the revision it ran."""
    tags = {OUTCOME_TAG: outcome}
    if version:
        tags[VERSION_TAG] = version
    if commit:
        tags[COMMIT_TAG] = commit
    return tags


def stop_reason(task: Mapping[str, Any]) -> str:
    """One line on why a task stopped: ECS's reason plus each failed container's exit."""
    parts = [str(task.get("stoppedReason") or task.get("stopCode") or "no reason given")]
    for container in task.get("containers") or ():
        code = container.get("exitCode")
        why = container.get("reason")
        if code not in (None, 0) or why:
            detail = (
                f"{container.get('name')}: exit {code}" if code is not None else f"{container.get('name')}"
            )
            if why:
                detail += f" ({why})"
            parts.append(detail)
    return "; ".join(parts)


def _client_error() -> type[Exception]:
    from botocore.exceptions import ClientError

    return ClientError
