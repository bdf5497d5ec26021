"""ECS, the only code that calls it: services, task-definition revisions, tasks, tags.

Every method is one API call (or one paginated pass) wrapped in aws_errors, and counts its
calls so the waiter can keep its average rate down. Nothing here deregisters anything:
a revision a rollback may need, or one that runs, is never removed by releasectl.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from releasectl.adapters.aws.clients import aws_errors, each_page, error_code
from releasectl.core.deploy_plan import Revision, revision_of
from releasectl.core.errors import Conflict, EnvironmentProblem, ReleasectlError
from releasectl.core.oneoff import recorded_outcome
from releasectl.core.rollback_target import HISTORY_SCAN
from releasectl.core.versions import COMMIT_TAG, OUTCOME_TAG, VERSION_TAG

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ecs.literals import TaskDefinitionStatusType
    from mypy_boto3_ecs.type_defs import (
        ServiceDeploymentBriefTypeDef,
        ServiceDeploymentTypeDef,
        ServiceRevisionTypeDef,
        ServiceTypeDef,
        TaskTypeDef,
    )

    from releasectl.commands.context import Context

_PAGE = 100  # list_tasks / list_task_definitions maximum page size
# What an endpoint without the service-deployments API answers (an older partition, moto): the
# operation is unknown to it, or the feature is not offered there.
_UNAVAILABLE_CODES = {
    "UnknownOperationException",
    "UnknownOperation",
    "InvalidAction",
    "UnsupportedOperation",
    "UnsupportedFeatureException",
    "NotImplemented",
    "NotImplementedException",
}
# StopServiceDeployment refused: the deployment has finished, or is in no state to stop.
_STOP_REFUSED_CODES = {"ConflictException", "ClientException", "InvalidParameterException"}
_DESCRIBE_TASKS_MAX = 100  # describe_tasks takes at most 100 ARNs per call
_Page = TypeVar("_Page")


class EcsApi:
    """One service in one cluster, behind whatever client the boundary was given."""

    def __init__(self, client: ECSClient, *, cluster: str, service: str) -> None:
        self.client = client
        self.cluster = cluster
        self.service = service
        self.calls = 0

    @classmethod
    def from_context(cls, ctx: Context) -> EcsApi:
        cluster = ctx.config.require("ecs_cluster")
        service = ctx.config.require("ecs_service")
        return cls(ctx.env_aws().client("ecs"), cluster=cluster, service=service)

    def _counted(self, pages: Iterable[_Page]) -> Iterator[_Page]:
        # A paginator makes one call per page.
        for page in pages:
            self.calls += 1
            yield page

    def _missing(self, detail: str) -> EnvironmentProblem:
        return EnvironmentProblem(
            f"ECS service {self.service!r} not found in cluster {self.cluster!r} ({detail})",
            hint="check ecs_cluster / ecs_service (RELEASECTL_ECS_CLUSTER, RELEASECTL_ECS_SERVICE) "
            "and the region, or create them with `releasectl infra deploy`",
        )

    # ------------------------------------------------------------------------- service

    def describe_service(self) -> ServiceTypeDef:
        """The service; exit 4 when it or its cluster does not exist (or is being deleted)."""
        client_error = _client_error()
        with aws_errors(f"describing ECS service {self.service!r}"):
            try:
                self.calls += 1
                response = self.client.describe_services(cluster=self.cluster, services=[self.service])
            except client_error as exc:
                if error_code(exc) == "ClusterNotFoundException":
                    raise self._missing("the cluster does not exist") from None
                raise
        found = response.get("services") or []
        if not found:
            reasons = ", ".join(str(f.get("reason")) for f in response.get("failures") or ()) or "not listed"
            raise self._missing(reasons)
        service = found[0]
        if service.get("status") not in (None, "ACTIVE"):
            raise self._missing(f"its status is {service.get('status')}")
        return service

    def find_service(self) -> ServiceTypeDef | None:
        """The service, or None when the cluster has none by that name (yet): the first deploy
        from a service definition creates it. A missing cluster is still exit 4."""
        try:
            return self.describe_service()
        except EnvironmentProblem as exc:
            if isinstance(exc, ClusterMissing) or "cluster does not exist" in exc.message:
                raise
            return None

    def create_service(self, body: Mapping[str, Any]) -> ServiceTypeDef:
        """Create the service (its first deployment starts with it). Another deploy that created
        it first, with something else, is a lost race (exit 5), not a failure."""
        client_error = _client_error()
        with aws_errors(f"creating ECS service {self.service!r} in cluster {self.cluster!r}"):
            try:
                self.calls += 1
                response = self.client.create_service(**body)
            except client_error as exc:
                if error_code(exc) == "InvalidParameterException" and "not idempotent" in str(exc):
                    raise Conflict(
                        f"ECS service {self.service!r} was created in cluster {self.cluster!r} by another "
                        "deploy while this one was creating it",
                        hint="`releasectl status` shows what it runs; deploy again to put this version on it",
                    ) from None
                raise
        return response["service"]

    def update_service(
        self, task_definition_arn: str, settings: Mapping[str, Any] | None = None
    ) -> ServiceTypeDef:
        """Point the service at a revision, with the owned service settings when a service
        definition gives them; the response carries the new deployment."""
        with aws_errors(f"updating ECS service {self.service!r} to {task_definition_arn}"):
            self.calls += 1
            response = self.client.update_service(
                cluster=self.cluster,
                service=self.service,
                taskDefinition=task_definition_arn,
                forceNewDeployment=False,
                **dict(settings or {}),
            )
        return response["service"]

    # ------------------------------------------------------------------------- service deployments

    def describe_service_deployment(self, arn: str) -> ServiceDeploymentTypeDef:
        """One service deployment: status, lifecycle stage, traffic weights, rollback details.
        ServiceDeploymentsUnavailable when the endpoint has no such API."""
        with self._service_deployments(f"describing service deployment {arn}"):
            self.calls += 1
            response = self.client.describe_service_deployments(serviceDeploymentArns=[arn])
        found = response.get("serviceDeployments") or []
        if not found:
            reasons = ", ".join(str(f.get("reason")) for f in response.get("failures") or ()) or "not listed"
            raise EnvironmentProblem(f"service deployment {arn} not found ({reasons})")
        return found[0]

    def list_service_deployments(
        self, *, created_after: Any = None, in_flight_only: bool = False
    ) -> list[ServiceDeploymentBriefTypeDef]:
        """The service's deployments (newest first, as ECS lists them), optionally only those
        created after a moment or still under way. One call per page."""
        args: dict[str, Any] = {"cluster": self.cluster, "service": self.service}
        if created_after is not None:
            args["createdAt"] = {"after": created_after}
        if in_flight_only:
            args["status"] = ["PENDING", "IN_PROGRESS"]
        found: list[ServiceDeploymentBriefTypeDef] = []
        while True:
            with self._service_deployments(f"listing deployments of ECS service {self.service!r}"):
                self.calls += 1
                page = self.client.list_service_deployments(**args)
            found.extend(page.get("serviceDeployments") or ())
            token = page.get("nextToken")
            if not token:
                return found
            args["nextToken"] = token

    def describe_service_revision(self, arn: str) -> ServiceRevisionTypeDef | None:
        """A service revision: the task definition and load balancers a deployment runs."""
        with self._service_deployments(f"describing service revision {arn}"):
            self.calls += 1
            response = self.client.describe_service_revisions(serviceRevisionArns=[arn])
        found = response.get("serviceRevisions") or []
        return found[0] if found else None

    def stop_service_deployment(self, arn: str) -> bool:
        """Ask ECS to stop a deployment and roll it back (StopServiceDeployment, stopType
        ROLLBACK). False when ECS refuses because the deployment is in no state to stop (it has
        finished): the caller describes it again to learn how it ended."""
        client_error = _client_error()
        with self._service_deployments(f"stopping service deployment {arn}"):
            try:
                self.calls += 1
                self.client.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
            except client_error as exc:
                if error_code(exc) in _STOP_REFUSED_CODES:
                    return False
                raise
        return True

    @contextlib.contextmanager
    def _service_deployments(self, action: str) -> Iterator[None]:
        """aws_errors, with the answers of an endpoint that lacks the API turned into
        ServiceDeploymentsUnavailable, so the caller can fall back (docs/design.md §5)."""
        client_error = _client_error()
        with aws_errors(action):
            try:
                yield
            except (AttributeError, NotImplementedError) as exc:
                # A botocore too old to know the operation, or an in-process moto without it.
                raise ServiceDeploymentsUnavailable(f"{action}: not offered here ({exc})") from None
            except client_error as exc:
                if _api_absent(exc):
                    raise ServiceDeploymentsUnavailable(
                        f"{action}: the endpoint does not offer it ({error_code(exc)})"
                    ) from None
                if error_code(exc) == "ServiceDeploymentNotFoundException":
                    raise EnvironmentProblem(f"{action}: ECS knows no such service deployment") from None
                raise

    # ------------------------------------------------------------------------- task definitions

    def describe_task_definition(self, ref: str) -> Revision:
        with aws_errors(f"describing task definition {ref}"):
            self.calls += 1
            response = self.client.describe_task_definition(taskDefinition=ref, include=["TAGS"])
        return Revision.from_response(response)

    def register(self, body: Mapping[str, Any]) -> Revision:
        with aws_errors(f"registering a new revision of task definition family {body.get('family')!r}"):
            self.calls += 1
            response = self.client.register_task_definition(**body)
        return Revision.from_response(response)

    def revisions(self, family: str, *, status: TaskDefinitionStatusType = "ACTIVE") -> Iterator[str]:
        """ARNs of a family's revisions, newest first, one page fetched at a time."""
        pages = self.client.get_paginator("list_task_definitions").paginate(
            familyPrefix=family, status=status, sort="DESC", PaginationConfig={"PageSize": _PAGE}
        )
        guard = functools.partial(
            aws_errors, f"listing {status} revisions of task definition family {family!r}"
        )
        for page in self._counted(each_page(pages, guard)):
            # Sorted again because some implementations ignore `sort`.
            yield from sorted(page.get("taskDefinitionArns") or (), key=revision_of, reverse=True)

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
            self.calls += 1
            self.client.tag_resource(resourceArn=arn, tags=[{"key": k, "value": v} for k, v in tags.items()])

    def recorded_outcomes(self, family: str, *, limit: int = HISTORY_SCAN) -> dict[str, str]:
        """version → the outcome recorded by its newest deployment, from the family's
        `releasectl:version` / `releasectl:outcome` tags (newest `limit` revisions)."""
        outcomes: dict[str, str] = {}
        for count, revision in enumerate(self.history(family)):
            if count >= limit:
                break
            if revision.version and revision.outcome and revision.version not in outcomes:
                # `failed (migration exit 3)` when the release stopped at its migration.
                outcomes[revision.version] = recorded_outcome(revision.tags) or revision.outcome
        return outcomes

    # ------------------------------------------------------------------------- tasks

    def stopped_tasks(self, started_by: str, *, seen: set[str]) -> list[TaskTypeDef]:
        """Stopped tasks of one deployment not reported before. Tasks started by a service
        deployment carry its id in startedBy; list_tasks cannot filter on that together with
        STOPPED, so the service's stopped tasks are listed and the new ones described."""
        pages = self.client.get_paginator("list_tasks").paginate(
            cluster=self.cluster,
            serviceName=self.service,
            desiredStatus="STOPPED",
            PaginationConfig={"PageSize": _PAGE},
        )
        guard = functools.partial(aws_errors, f"listing stopped tasks of ECS service {self.service!r}")
        arns = [arn for page in self._counted(each_page(pages, guard)) for arn in page.get("taskArns") or ()]
        fresh = [arn for arn in dict.fromkeys(arns) if arn not in seen]
        tasks: list[TaskTypeDef] = []
        for start in range(0, len(fresh), _DESCRIBE_TASKS_MAX):
            chunk = fresh[start : start + _DESCRIBE_TASKS_MAX]
            with aws_errors(f"describing stopped tasks of ECS service {self.service!r}"):
                self.calls += 1
                response = self.client.describe_tasks(cluster=self.cluster, tasks=chunk)
            tasks.extend(response.get("tasks") or ())
        seen.update(fresh)
        return [t for t in tasks if t.get("startedBy") == started_by]


class ServiceDeploymentsUnavailable(ReleasectlError):
    """The endpoint has no service-deployments API (an older partition, moto): callers fall back
    to the service's deployments list."""


def service_deployments_offered(service: Mapping[str, Any]) -> bool:
    """Whether ECS reports service deployments for this service: it names the current one
    (currentServiceDeployment) in every service description, where the API exists."""
    return bool(service.get("currentServiceDeployment"))


def _api_absent(exc: BaseException) -> bool:
    code = error_code(exc)
    if code in _UNAVAILABLE_CODES:
        return True
    response = getattr(exc, "response", None) or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    message = str((response.get("Error") or {}).get("Message", ""))
    # An endpoint that routes no such action (404, 501), or one whose answer is no AWS error at
    # all (botocore then takes the HTTP status for the code): moto's HTML 500 for an action it
    # has not implemented. ECS's own failures carry a code (ServerException, ...).
    return status in (404, 501) or code.isdigit() or "not been implemented" in message


class ClusterMissing(EnvironmentProblem):
    """The ECS cluster does not exist (exit 4)."""


@dataclass(frozen=True)
class Cluster:
    name: str
    status: str
    active_services: int


def find_cluster(client: ECSClient, cluster: str) -> Cluster | None:
    """The cluster, or None when there is none by that name."""
    client_error = _client_error()
    with aws_errors(f"looking up ECS cluster {cluster!r}"):
        try:
            found = client.describe_clusters(clusters=[cluster]).get("clusters") or []
        except client_error as exc:
            if error_code(exc) == "ClusterNotFoundException":
                return None
            raise
    if not found:
        return None
    return Cluster(
        name=cluster,
        status=str(found[0].get("status")),
        active_services=found[0].get("activeServicesCount", 0),
    )


def find_service(client: ECSClient, *, cluster: str, service: str) -> ServiceTypeDef | None:
    """The service unless it is absent or INACTIVE (DRAINING counts: it still exists);
    ClusterMissing when the cluster itself does not exist."""
    client_error = _client_error()
    with aws_errors(f"looking up ECS service {service!r} in cluster {cluster!r}"):
        try:
            found = client.describe_services(cluster=cluster, services=[service]).get("services") or []
        except client_error as exc:
            if error_code(exc) == "ClusterNotFoundException":
                raise ClusterMissing(f"ECS cluster {cluster!r} not found") from None
            raise
    return next((s for s in found if s.get("status") != "INACTIVE"), None)


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
