"""Everything the sandbox knows about moto's insides, in one place.

moto serves AWS's state but not its behaviour over time (docs/testing.md §2), so the sandbox hooks a
few methods of moto's ECS and CodeBuild code for its lifetime and publishes its simulators'
state into moto's model objects. Nothing else in releasectl imports moto's internals; this
module's contract test (tests/sandbox/test_moto_internals.py) fails with a clear message when
the pinned moto changes what is relied on here:

- backends are looked up as get_backend(service)[account][region], and a request made with an
  assumed role's credentials (sts.assume_role into another account's role) is served by that
  account's backends;
- EC2ContainerServiceBackend.update_service(service_properties) takes snake_case keys and
  returns the Service; create_service / describe_services / list_tasks / describe_tasks /
  stop_task / describe_task_definition / describe_clusters keep their parameters;
- EC2ContainerServiceResponse.create_service reads the request with _get_param and leaves
  deploymentConfiguration and healthCheckGracePeriodSeconds out of the Service it creates; the
  backend keeps `services` by "cluster:service" and finds one with _get_service(cluster, name);
- a Cluster is serialised from its attributes (running_tasks_count, pending_tasks_count,
  active_services_count), the backend keeps `services` (Service.cluster_name, .status) and
  `tasks` (cluster name -> task ARN -> Task with last_status);
- a Service is serialised from its attributes (deployments, events, running_count,
  pending_count, desired_count, task_definition, deployment_configuration, and any attribute
  named after a member of botocore's Service shape, such as current_service_deployment), read
  when the response is written, so the simulator replaces those attributes rather than mutating
  them; update_service stores the request's deploymentConfiguration and loadBalancers as given;
- EC2ContainerServiceResponse answers an action with the method of its snake_case name, looked
  up when the request arrives: moto 5.2.5 has none for ListServiceDeployments,
  DescribeServiceDeployments, StopServiceDeployment or DescribeServiceRevisions, so the sandbox
  adds them for the accounts and regions it simulates (elsewhere they stay unimplemented, as in
  moto);
- ELBv2's backend finds a listener rule with describe_rules(None, [arn]) and replaces its actions
  with modify_rule(arn, [], actions); CloudWatch's backend has set_alarm_state(name, reason,
  reason_data, state);
- CodeBuildResponse.start_build reads request parameters with _get_param and returns an
  ActionResult; CodeBuildBackend keeps codebuild_projects and build_history and answers
  batch_get_builds(ids) and stop_build(build_id);
- CloudFormationBackend.create_change_set returns (change set id, stack id) and keeps
  `change_sets`; a ChangeSet has template_dict, parameters, stack, changes (Change(action,
  logical_resource_id, resource_type)), status and status_reason, serialised from its attributes;
  a ResourceMap evaluates Conditions after load_mapping / load_parameters / load_conditions
  (lazy_condition_map); parsing's NULL_MODELS and get_model_map() say which types it creates;
- ThreadedMotoServer keeps its werkzeug server in `_server`; its dispatcher calls
  moto.backends.list_of_moto_modules() (a directory listing) on every request;
- EC2's backend loads moto's catalogue of default AMIs when it is built (for every account and
  region the CloudFormation stacks' VPCs touch, and again on each reset) unless
  MOTO_EC2_LOAD_DEFAULT_AMIS is "false";
- ECRBackend.put_image checks for an image holding the tag and then adds it without a lock, and
  calls batch_delete_image itself; the EC2 region catalogue is built at import through
  `Session()` from boto3.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from releasectl.core.errors import EnvironmentProblem

PINNED_MOTO = "5.2.5"
ACCOUNT_ID = "123456789012"  # moto's default account: what the fake credentials map to

_install_lock = threading.Lock()
_installed: set[tuple[str, str, str]] = set()
# What moto's create_service drops and the sandbox keeps: request parameter -> Service attribute.
_KEPT_ON_CREATE = {
    "deploymentConfiguration": "deployment_configuration",
    "healthCheckGracePeriodSeconds": "health_check_grace_period_seconds",
}


def check_moto_version() -> None:
    """The sandbox relies on moto internals (this module): refuse any other moto version."""
    import moto

    found = getattr(moto, "__version__", "unknown")
    if found != PINNED_MOTO:
        raise EnvironmentProblem(
            f"the sandbox needs moto {PINNED_MOTO}, found {found}",
            hint=f"pip install 'moto[server]=={PINNED_MOTO}' (or `pip install 'releasectl[sandbox]'`)",
        )


def backend(service: str, region: str, account: str = ACCOUNT_ID) -> Any:
    from moto.backends import get_backend

    return get_backend(service)[account][region]  # type: ignore[call-overload]


# ----------------------------------------------------------------------------- server


def prepare_server() -> None:
    """What every moto server the sandbox or the tests start needs before it answers: less
    repeated work per request, ECR image writes decided one at a time, and a CodeBuild build's
    phases listed once."""
    trim_server_work()
    make_ecr_tag_writes_atomic()
    list_build_phases_once()


def trim_server_work() -> None:
    """Skip what moto's server does on every request or backend that the sandbox never needs.

    The directory listing per request and the AMI catalogue (thousands of images, each with a
    snapshot and a volume) were a fifth of the sandbox's CPU; nothing the sandbox simulates runs
    on EC2 instances.
    """
    from moto import backends

    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: iter(modules)


# Reentrant: moto's put_image calls batch_delete_image itself.
_ecr_writes = threading.RLock()


def make_ecr_tag_writes_atomic() -> None:
    """One ECR image write at a time, as ECR itself decides each one alone.

    moto's put_image looks for an image holding the tag, then adds the tag, with no lock; its
    server answers each request on a thread of its own, so two puts of one immutable tag on two
    images at once could both succeed where ECR refuses the second. `releasectl release` claims
    a version by that refusal (docs/design.md §4), so racing releases through the sandbox could
    both claim it.
    """
    from moto.ecr.models import ECRBackend

    if getattr(ECRBackend, "_writes_atomic", False):
        return
    for name in ("put_image", "batch_delete_image"):
        original = getattr(ECRBackend, name)

        def locked(self: Any, *args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            with _ecr_writes:
                return _original(self, *args, **kwargs)

        setattr(ECRBackend, name, locked)
    ECRBackend._writes_atomic = True  # type: ignore[attr-defined]


def list_build_phases_once() -> None:
    """A build moto runs itself (one the CodeBuild simulator does not own) shows each phase once.

    moto's batch_get_builds appends the nine completed phases to a build on every call, so a
    build read N times lists 9N phases: the answers grow without end and parsing them (each
    phase has two timestamps) came to 45 ms a call in the suite's state checks.
    """
    from moto.codebuild.models import CodeBuildBackend

    if getattr(CodeBuildBackend, "_phases_once", False):
        return
    original = CodeBuildBackend._set_phases

    @functools.wraps(original)
    def set_phases(self: Any, phases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if any(phase.get("phaseType") == "COMPLETED" for phase in phases):
            return phases
        return original(self, phases)

    CodeBuildBackend._set_phases = set_phases  # type: ignore[method-assign]
    CodeBuildBackend._phases_once = True  # type: ignore[attr-defined]


EC2_REGIONS_MODULE = "moto.ec2.models.availability_zones_and_regions"


def import_ec2_regions_with_one_session() -> None:
    """Import moto's EC2 region catalogue through the one boto3 session its backends share.

    The module lists EC2's regions of three partitions while it is imported, each through a new
    boto3 Session that parses botocore's endpoint data and EC2's service model again: 0.6 s of
    CPU on the sandbox's start-up path, against 0.1 s through one session. The sandbox's stacks
    always create a VPC, so it always needs the module.
    """
    if EC2_REGIONS_MODULE in sys.modules:
        return
    import boto3
    from moto.core.base_backend import AccountSpecificBackend

    real = boto3.Session

    def session(*args: Any, **kwargs: Any) -> Any:
        return AccountSpecificBackend.get_session() if not args and not kwargs else real(*args, **kwargs)

    boto3.Session = session  # type: ignore[assignment,misc]
    try:
        module: Any = importlib.import_module(EC2_REGIONS_MODULE)
    finally:
        boto3.Session = real  # type: ignore[misc]
    module.Session = real  # what `from boto3 import Session` bound while it was patched


def close_server_socket(server: Any) -> None:
    """ThreadedMotoServer.stop() shuts the loop down but leaves the listening socket open."""
    inner = getattr(server, "_server", None)
    if inner is not None:
        inner.server_close()


# ----------------------------------------------------------------------------- patching


_ABSENT = object()


class ApiError(Exception):
    """An AWS error a simulator answers with: its code and message, as the API names them."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Patches:
    """Methods replaced on moto's classes; restore() puts the originals back."""

    _saved: list[tuple[type, str, Any]] = field(default_factory=list)
    _keys: list[tuple[str, str, str]] = field(default_factory=list)

    def provide(
        self, owner: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]
    ) -> None:
        """Add an action moto lacks (or wrap the one a hook for another account added already);
        `make` receives what answers when the request is not the simulator's: moto's own refusal."""
        original = owner.__dict__.get(name)
        if original is None:

            def not_implemented(self: Any) -> Any:
                raise NotImplementedError(f"The {name} action has not been implemented")

            self._saved.append((owner, name, _ABSENT))
            setattr(owner, name, make(not_implemented))
            return
        self._saved.append((owner, name, original))
        setattr(owner, name, make(original))

    def replace(
        self, owner: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]
    ) -> None:
        original = owner.__dict__.get(name)
        if original is None:
            raise EnvironmentProblem(
                f"moto's {owner.__name__}.{name} is gone; the sandbox cannot hook it",
                hint=f"install moto {PINNED_MOTO} exactly",
            )
        self._saved.append((owner, name, original))
        setattr(owner, name, make(original))

    def claim(self, service: str, region: str, account: str = ACCOUNT_ID) -> None:
        """One simulator per backend (service, account, region) per process: two would fight over
        the same requests."""
        key = (service, account, region)
        with _install_lock:
            if key in _installed:
                raise EnvironmentProblem(
                    f"a sandbox already simulates {service} in {region} (account {account}) in this process",
                    hint="stop the other sandbox first",
                )
            _installed.add(key)
        self._keys.append(key)

    def restore(self) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        with _install_lock:
            for key in self._keys:
                _installed.discard(key)
        self._keys.clear()


# ----------------------------------------------------------------------------- ECS


class EcsHandlers(Protocol):
    """What the ECS simulator answers; moto serves everything else."""

    lock: threading.RLock

    def on_service_created(self, service: Any) -> None: ...

    def on_service_configured(self, service: Any) -> None: ...

    def on_update_service(
        self, service: Any, *, task_definition: str | None, desired_count: int | None, force: bool
    ) -> None: ...

    def list_tasks(
        self,
        *,
        cluster: str,
        service_name: str | None,
        started_by: str | None,
        desired_status: str | None,
        family: str | None,
    ) -> list[str] | None: ...

    def describe_tasks(self, *, cluster: str, tasks: Sequence[str]) -> list[dict[str, Any]]: ...

    def stop_task(self, *, cluster: str, task: str, reason: str | None) -> dict[str, Any] | None: ...

    def task_counts(self, *, cluster: str) -> tuple[int, int]:
        """(running, pending) of the simulator's tasks in the cluster."""
        ...

    def list_service_deployments(
        self,
        *,
        cluster: str,
        service: str,
        statuses: Sequence[str] | None,
        created_after: datetime | None,
        created_before: datetime | None,
    ) -> list[dict[str, Any]]: ...

    def describe_service_deployments(self, arns: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]: ...

    def stop_service_deployment(self, arn: str, stop_type: str) -> None: ...

    def describe_service_revisions(self, arns: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]: ...

    def rule_exists(self, rule_arn: str) -> bool: ...


@dataclass(frozen=True)
class TaskRef:
    """What moto's list_tasks response reads from each item."""

    task_arn: str


def _ours(backend_obj: Any, region: str, account: str) -> bool:
    # By account and region rather than identity: a reset (POST /moto-api/reset) rebuilds backends.
    return (
        getattr(backend_obj, "region_name", None) == region
        and getattr(backend_obj, "account_id", None) == account
    )


def hook_ecs(patches: Patches, handlers: EcsHandlers, region: str, account: str = ACCOUNT_ID) -> None:
    """Serve service rollouts and tasks from the simulator for one account and region.

    Hooks for several accounts or regions stack: each passes on what is not its own."""
    from moto.core.responses import ActionResult
    from moto.ecs.exceptions import EcsClientException, ECSException, InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    from releasectl_sandbox.ecs_traffic import validation_error

    patches.claim("ecs", region, account)

    def create_service(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(
            self: Any, cluster_str: str, service_name: str, desired_count: int, *args: Any, **kwargs: Any
        ) -> Any:
            if not _ours(self, region, account):
                return original(self, cluster_str, service_name, desired_count, *args, **kwargs)
            with handlers.lock:
                # moto replaces an existing service of the same name, which would leave its tasks
                # running unseen; ECS answers the same request again with the service it has and
                # refuses a different one.
                cluster = self._get_cluster(cluster_str)
                existing = self.services.get(f"{cluster.name}:{service_name}")
                if existing is not None and existing.status == "ACTIVE":
                    asked = args[0] if args else kwargs.get("task_definition_str")
                    same = asked is None or (
                        self.describe_task_definition(asked).arn == existing.task_definition
                    )
                    if same and existing.desired_count == desired_count:
                        return existing
                    raise InvalidParameterException("Creation of service was not idempotent.")
                service = original(self, cluster_str, service_name, desired_count, *args, **kwargs)
                handlers.on_service_created(service)
                return service

        return wrapper

    def create_service_request(original: Callable[..., Any]) -> Callable[..., Any]:
        """moto's create_service drops deploymentConfiguration (circuit breaker, percentages,
        alarms) and healthCheckGracePeriodSeconds; the service keeps them here, as on AWS. Under
        the simulator's lock, so its scheduler never sees the service without them."""

        def wrapper(self: Any) -> Any:
            backend_obj = self.ecs_backend
            if not _ours(backend_obj, region, account):
                return original(self)
            asked = {attr: self._get_param(param) for param, attr in _KEPT_ON_CREATE.items()}
            refused = validation_error(
                asked["deployment_configuration"] or {},
                self._get_param("loadBalancers") or [],
                rule_exists=handlers.rule_exists,
            )
            if refused:
                raise InvalidParameterException(refused)
            with handlers.lock:
                result = original(self)
                service = backend_obj._get_service(
                    self._get_param("cluster", "default"), self._get_param("serviceName")
                )
                for attr, value in asked.items():
                    if value is not None:
                        setattr(service, attr, value)
                handlers.on_service_configured(service)
                return result

        return wrapper

    def update_service(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, service_properties: dict[str, Any]) -> Any:
            if not _ours(self, region, account):
                return original(self, service_properties)
            props = dict(service_properties)
            task_definition = props.pop("task_definition", None)
            desired = props.pop("desired_count", None)
            force = bool(props.pop("force_new_deployment", False))
            with handlers.lock:
                # moto's own not-found error first; then AWS's refusal of a deregistered revision,
                # which moto does not make (docs/design.md §5).
                if task_definition and self.describe_task_definition(task_definition).status == "INACTIVE":
                    raise EcsClientException("TaskDefinition is inactive")
                current = self._get_service(
                    props.get("cluster", "default"), str(props.get("service", "")).split("/")[-1]
                )
                refused = validation_error(
                    props.get("deployment_configuration")
                    or getattr(current, "deployment_configuration", None)
                    or {},
                    props.get("load_balancers") or getattr(current, "load_balancers", None) or [],
                    rule_exists=handlers.rule_exists,
                )
                if refused:
                    raise InvalidParameterException(refused)
                service = original(self, props)
                handlers.on_update_service(
                    service,
                    task_definition=task_definition,
                    desired_count=int(desired) if desired is not None else None,
                    force=force,
                )
                return service

        return wrapper

    def describe_services(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not _ours(self, region, account):
                return original(self, *args, **kwargs)
            with handlers.lock:
                return original(self, *args, **kwargs)

        return wrapper

    def list_tasks(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(
            self: Any,
            cluster_str: str | None = None,
            container_instance: str | None = None,
            family: str | None = None,
            started_by: str | None = None,
            service_name: str | None = None,
            desiredStatus: str | None = None,  # moto's parameter name
        ) -> Any:
            theirs = original(
                self, cluster_str, container_instance, family, started_by, service_name, desiredStatus
            )
            if not _ours(self, region, account):
                return theirs
            with handlers.lock:
                ours = handlers.list_tasks(
                    cluster=cluster_str or "default",
                    service_name=service_name,
                    started_by=started_by,
                    desired_status=desiredStatus,
                    family=family,
                )
            if ours is None:
                return theirs
            # moto ignores serviceName; tasks it ran itself (run_task) belong to no service.
            kept = [] if service_name else list(theirs)
            return kept + [TaskRef(arn) for arn in ours]

        return wrapper

    def describe_tasks(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, cluster_str: str, tasks: list[str]) -> Any:
            if not _ours(self, region, account):
                return original(self, cluster_str, tasks)
            self._get_cluster(cluster_str)  # moto's ClusterNotFoundException for a wrong cluster
            with handlers.lock:
                ours = handlers.describe_tasks(cluster=cluster_str, tasks=tasks)
            known = {item["taskArn"].rsplit("/", 1)[-1] for item in ours}
            rest = [t for t in tasks if t.rsplit("/", 1)[-1] not in known]
            theirs = original(self, cluster_str, rest) if rest else []
            return list(theirs) + ours

        return wrapper

    def stop_task(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
            if not _ours(self, region, account):
                return original(self, cluster_str, task_str, reason)
            with handlers.lock:
                stopped = handlers.stop_task(cluster=cluster_str, task=task_str, reason=reason)
            return stopped if stopped is not None else original(self, cluster_str, task_str, reason)

        return wrapper

    def describe_clusters(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, cluster_names: list[str]) -> Any:
            clusters, failures = original(self, cluster_names)
            if not _ours(self, region, account):
                return clusters, failures
            with handlers.lock:
                return [_counted_cluster(self, cluster, handlers) for cluster in clusters], failures

        return wrapper

    def list_service_deployments(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any) -> Any:
            backend_obj = self.ecs_backend
            if not _ours(backend_obj, region, account):
                return original(self)
            created = self._get_param("createdAt") or {}
            limit = int(self._get_param("maxResults") or 20)
            if not 1 <= limit <= 100:
                raise InvalidParameterException("maxResults must be between 1 and 100.")
            with handlers.lock:
                service = backend_obj._get_service(
                    self._get_param("cluster", "default"), str(self._get_param("service")).split("/")[-1]
                )
                found = handlers.list_service_deployments(
                    cluster=service.cluster_name,
                    service=service.name,
                    statuses=self._get_param("status"),
                    created_after=_timestamp(created.get("after")),
                    created_before=_timestamp(created.get("before")),
                )
            start = _page_start(self._get_param("nextToken"))
            page: dict[str, Any] = {"serviceDeployments": found[start : start + limit]}
            if start + limit < len(found):
                page["nextToken"] = str(start + limit)
            return ActionResult(page)

        return wrapper

    def describe_service_deployments(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any) -> Any:
            if not _ours(self.ecs_backend, region, account):
                return original(self)
            arns = list(self._get_param("serviceDeploymentArns") or ())
            if len(arns) > 20:
                raise InvalidParameterException(
                    "serviceDeploymentArns can name at most 20 service deployments."
                )
            with handlers.lock:
                found, missing = handlers.describe_service_deployments(arns)
            failures = [{"arn": arn, "reason": "MISSING"} for arn in missing]
            return ActionResult({"serviceDeployments": found, "failures": failures})

        return wrapper

    def stop_service_deployment(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any) -> Any:
            if not _ours(self.ecs_backend, region, account):
                return original(self)
            arn = str(self._get_param("serviceDeploymentArn"))
            stop_type = self._get_param("stopType") or "ROLLBACK"
            if stop_type not in ("ROLLBACK", "ABORT"):
                raise InvalidParameterException("stopType must be ROLLBACK or ABORT.")
            try:
                with handlers.lock:
                    handlers.stop_service_deployment(arn, stop_type)
            except ApiError as exc:
                raise ECSException(exc.code, exc.message) from None
            return ActionResult({"serviceDeploymentArn": arn})

        return wrapper

    def describe_service_revisions(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any) -> Any:
            if not _ours(self.ecs_backend, region, account):
                return original(self)
            arns = list(self._get_param("serviceRevisionArns") or ())
            if len(arns) > 20:
                raise InvalidParameterException("serviceRevisionArns can name at most 20 service revisions.")
            with handlers.lock:
                found, missing = handlers.describe_service_revisions(arns)
            failures = [{"arn": arn, "reason": "MISSING"} for arn in missing]
            return ActionResult({"serviceRevisions": found, "failures": failures})

        return wrapper

    patches.replace(EC2ContainerServiceBackend, "create_service", create_service)
    patches.replace(EC2ContainerServiceResponse, "create_service", create_service_request)
    patches.replace(EC2ContainerServiceBackend, "update_service", update_service)
    patches.replace(EC2ContainerServiceBackend, "describe_services", describe_services)
    patches.replace(EC2ContainerServiceBackend, "list_tasks", list_tasks)
    patches.replace(EC2ContainerServiceBackend, "describe_tasks", describe_tasks)
    patches.replace(EC2ContainerServiceBackend, "stop_task", stop_task)
    patches.replace(EC2ContainerServiceBackend, "describe_clusters", describe_clusters)
    patches.provide(EC2ContainerServiceResponse, "list_service_deployments", list_service_deployments)
    patches.provide(EC2ContainerServiceResponse, "describe_service_deployments", describe_service_deployments)
    patches.provide(EC2ContainerServiceResponse, "stop_service_deployment", stop_service_deployment)
    patches.provide(EC2ContainerServiceResponse, "describe_service_revisions", describe_service_revisions)


def _timestamp(value: Any) -> datetime | None:
    """A request timestamp as moto hands it over: a datetime, epoch seconds, or ISO 8601 text."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    text = str(value)
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _page_start(token: Any) -> int:
    from moto.ecs.exceptions import InvalidParameterException

    if not token:
        return 0
    if not str(token).isdigit():
        raise InvalidParameterException("The nextToken is not valid.")
    return int(str(token))


def _counted_cluster(backend_obj: Any, cluster: Any, handlers: EcsHandlers) -> Any:
    """A copy of moto's Cluster whose counts say what runs. moto keeps running_tasks_count by adding
    and subtracting service counts as update_service rewrites them (so it drifts negative once the
    simulator publishes counts) and never counts services at all. A copy, because the response is
    written after the lock is released, while another request may be changing the original."""
    import copy

    running, pending = handlers.task_counts(cluster=cluster.name)
    # Tasks moto ran itself (run_task) belong to no service and are not the simulator's.
    own = list((getattr(backend_obj, "tasks", None) or {}).get(cluster.name, {}).values())
    shown = copy.copy(cluster)
    shown.running_tasks_count = running + sum(1 for t in own if t.last_status == "RUNNING")
    shown.pending_tasks_count = pending + sum(1 for t in own if t.last_status in ("PROVISIONING", "PENDING"))
    shown.active_services_count = sum(
        1
        for service in backend_obj.services.values()
        if service.cluster_name == cluster.name and service.status == "ACTIVE"
    )
    return shown


@dataclass(frozen=True)
class ServiceView:
    """A moto Service as plain values."""

    name: str
    arn: str
    cluster_name: str
    cluster_arn: str
    task_definition: str | None
    desired_count: int
    deployments: tuple[Mapping[str, Any], ...]
    deployment_configuration: Mapping[str, Any]
    launch_type: str | None
    load_balancers: tuple[Mapping[str, Any], ...]
    network_configuration: Mapping[str, Any] | None = None


def service_view(service: Any) -> ServiceView:
    return ServiceView(
        name=str(service.name),
        arn=str(service.arn),
        cluster_name=str(service.cluster_name),
        cluster_arn=str(service.cluster_arn),
        task_definition=service.task_definition,
        desired_count=int(service.desired_count or 0),
        deployments=tuple(dict(d) for d in service.deployments or ()),
        deployment_configuration=dict(getattr(service, "deployment_configuration", None) or {}),
        launch_type=getattr(service, "launch_type", None),
        load_balancers=tuple(dict(lb) for lb in getattr(service, "load_balancers", None) or ()),
        network_configuration=getattr(service, "network_configuration", None),
    )


def publish_service(
    service: Any,
    *,
    deployments: list[dict[str, Any]],
    events: list[dict[str, Any]],
    running: int,
    pending: int,
    desired: int,
    task_definition: str | None,
    current_service_deployment: str | None = None,
    current_service_revisions: list[dict[str, Any]] | None = None,
) -> None:
    """Replace (never mutate) what describe_services shows: a response being written from the
    old lists in another thread keeps a consistent snapshot."""
    service.deployments = deployments
    if current_service_deployment:
        service.current_service_deployment = current_service_deployment
        service.current_service_revisions = list(current_service_revisions or ())
    service.events = events
    service.running_count = running
    service.pending_count = pending
    service.desired_count = desired
    if task_definition:
        service.task_definition = task_definition


def _rule(region: str, rule_arn: str, account: str) -> Any | None:
    from moto.elbv2.exceptions import RuleNotFoundError

    try:
        return backend("elbv2", region, account).describe_rules(None, [rule_arn])[0]
    except RuleNotFoundError:
        return None


def rule_exists(region: str, rule_arn: str, account: str = ACCOUNT_ID) -> bool:
    return _rule(region, rule_arn, account) is not None


def rule_weights(region: str, rule_arn: str, account: str = ACCOUNT_ID) -> dict[str, float] | None:
    """A listener rule's forward action as target group ARN -> weight; None without such a rule."""
    rule = _rule(region, rule_arn, account)
    if rule is None:
        return None
    for action in rule.actions:
        data = getattr(action, "data", {}) or {}
        groups = (data.get("ForwardConfig") or {}).get("TargetGroups") or ()
        if groups:
            return {str(g["TargetGroupArn"]): float(g.get("Weight", 1)) for g in groups}
        if data.get("TargetGroupArn"):
            return {str(data["TargetGroupArn"]): 100.0}
    return None


def set_rule_weights(
    region: str, rule_arn: str, weights: Mapping[str, float], account: str = ACCOUNT_ID
) -> None:
    """Replace the rule's forward action by one that splits between these target groups. Every
    target group the rule forwarded to stays listed (weight 0 unless given)."""
    current = rule_weights(region, rule_arn, account) or {}
    merged = {group: 0.0 for group in current} | dict(weights)
    action = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": g, "Weight": round(w)} for g, w in merged.items()]
        },
    }
    backend("elbv2", region, account).modify_rule(rule_arn, [], [action])


def set_alarm_state(region: str, name: str, state: str, reason: str, account: str = ACCOUNT_ID) -> None:
    backend("cloudwatch", region, account).set_alarm_state(name, reason, None, state)


def task_definition(region: str, ref: str, account: str = ACCOUNT_ID) -> dict[str, Any]:
    """A registered revision (ARN, family:revision or family) as ECS's JSON would show it."""
    found = backend("ecs", region, account).describe_task_definition(ref)
    return {
        "taskDefinitionArn": found.arn,
        "family": found.family,
        "revision": found.revision,
        "status": found.status,
        "containerDefinitions": [dict(c) for c in found.container_definitions],
        "cpu": found.cpu,
        "memory": found.memory,
        "networkMode": found.network_mode,
    }


# ----------------------------------------------------------------------------- CloudFormation


def hook_cloudformation(patches: Patches, region: str, account: str = ACCOUNT_ID) -> None:
    """Change sets that honour the template's Conditions, and say what moto would not create.

    moto's ChangeSet lists every resource of the template (Conditions ignored), so `releasectl
    infra diff` against the sandbox showed the NAT gateways and the VPC endpoints, which exclude
    each other. Executing a change set does honour conditions (moto skips a resource whose
    condition is false), so the honest list is the one the conditions leave. Resource types moto
    has no CloudFormation model for are listed in the change set's StatusReason: on execute the
    sandbox records them but creates nothing. A change set moto fails to execute is refused
    with a ValidationError that says so, instead of moto's HTTP 500.
    """
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend
    from moto.core.exceptions import ServiceException, _RESTError

    patches.claim("cloudformation", region, account)

    def create_change_set(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            change_set_id, stack_id = original(self, *args, **kwargs)
            if _ours(self, region, account):
                change_set = self.change_sets.get(change_set_id)
                if change_set is not None and change_set.status == "CREATE_COMPLETE":
                    _honour_conditions(change_set, region, account)
            return change_set_id, stack_id

        return wrapper

    def execute_change_set(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not _ours(self, region, account):
                return original(self, *args, **kwargs)
            try:
                return original(self, *args, **kwargs)
            except (ServiceException, _RESTError):  # moto's own API errors: AWS's answers
                raise
            except Exception as exc:
                # moto's own failure (infra/releasectl.yaml's Fn::Select over Fn::GetAZs, for one)
                # was an HTTP 500 with an HTML page; say what failed, in one line, as an API error.
                raise ValidationError(
                    message=f"sandbox: moto's CloudFormation could not execute this change set "
                    f"({exc.__class__.__name__}: {exc}); the sandbox's resources come from "
                    "`releasectl sandbox up`, not from a stack"
                ) from None

        return wrapper

    patches.replace(CloudFormationBackend, "create_change_set", create_change_set)
    patches.replace(CloudFormationBackend, "execute_change_set", execute_change_set)


def _present(resource_map: Any, resources: Mapping[str, Any]) -> list[str]:
    """Logical ids of `resources` whose Condition (if any) holds in `resource_map`."""
    conditions = resource_map.lazy_condition_map
    return [
        name
        for name, body in resources.items()
        if not (isinstance(body, dict) and body.get("Condition")) or conditions[body["Condition"]]
    ]


def _honour_conditions(change_set: Any, region: str, account: str) -> None:
    """Recompute the change set's changes: Add / Remove follow what the Conditions let exist
    before and after (a flipped condition adds or removes a resource whose text did not change);
    Modify is a resource in both whose text, or a parameter it refers to, changed."""
    from moto.cloudformation.models import Change
    from moto.cloudformation.parsing import ResourceMap, get_references_from_template

    template = change_set.template_dict or {}
    new_resources: dict[str, Any] = dict(template.get("Resources") or {})
    new_parameters = dict(change_set.parameters or {})
    stack = change_set.stack
    try:
        planned = ResourceMap(
            stack.stack_id,
            stack.name,
            new_parameters,
            {},
            region_name=region,
            account_id=account,
            template=template,
            cross_stack_resources=getattr(stack, "cross_stack_resources", None),
        )
        planned.load_mapping()
        planned.load_parameters()
        planned.load_conditions()
        new_ids = _present(planned, new_resources)
        # The stack's template as written (moto rewrites its parsed copy while creating resources).
        old_template = stack.parse_template(stack.template) if isinstance(stack.template, str) else {}
        old_resources: dict[str, Any] = dict((old_template or {}).get("Resources") or {})
        old_ids = _present(stack.resource_map, old_resources) if old_resources else []
        old_parameters = dict(getattr(stack.resource_map, "input_parameters", None) or {})
    except Exception as exc:  # the sandbox says what it could not do rather than failing the change set
        change_set.status_reason = (
            f"sandbox: moto's CloudFormation is partial; the template's Conditions could not be "
            f"evaluated here ({exc.__class__.__name__}: {exc}), so this lists every resource"
        )
        return
    changed = {
        key
        for key in set(old_parameters) | set(new_parameters)
        if old_parameters.get(key) != new_parameters.get(key)
    }

    def modified(name: str) -> bool:
        body = new_resources[name]
        return body != old_resources[name] or bool(changed & set(get_references_from_template(body)))

    changes = [Change("Add", name, new_resources[name]["Type"]) for name in new_ids if name not in old_ids]
    changes += [
        Change("Modify", name, new_resources[name]["Type"])
        for name in new_ids
        if name in old_ids and modified(name)
    ]
    changes += [
        Change("Remove", name, old_resources[name]["Type"]) for name in old_ids if name not in new_ids
    ]
    change_set.changes = changes
    added = [new_resources[c.logical_resource_id]["Type"] for c in changes if c.action in ("Add", "Modify")]
    skipped = sorted({kind for kind in added if not _moto_creates(kind)})
    left_out = len(new_resources) - len(new_ids)
    note = f"sandbox: conditions honoured ({left_out} resource(s) of the template left out)"
    if skipped:
        count = sum(1 for kind in added if kind in skipped)
        note += (
            f"; moto's CloudFormation is partial: it creates no {', '.join(skipped)} "
            f"({count} of the {len(added)} resources to add or change)"
        )
    change_set.status_reason = note


def _moto_creates(resource_type: str) -> bool:
    """Whether moto's CloudFormation has a model for the type (else it skips the resource)."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    if resource_type in NULL_MODELS:
        return False
    return resource_type.startswith("Custom::") or resource_type in get_model_map()


# ----------------------------------------------------------------------------- CodeBuild


class CodeBuildHandlers(Protocol):
    def start_build(self, project: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]: ...

    def batch_get_builds(self, ids: Sequence[str]) -> list[dict[str, Any]]: ...

    def stop_build(self, build_id: str) -> dict[str, Any] | None: ...


_START_BUILD_PARAMS = (
    "idempotencyToken",
    "sourceVersion",
    "environmentVariablesOverride",
    "timeoutInMinutesOverride",
    "buildspecOverride",
)


def hook_codebuild(
    patches: Patches, handlers: CodeBuildHandlers, region: str, account: str = ACCOUNT_ID
) -> None:
    """Serve start_build / batch_get_builds / stop_build from the simulator for one account and region."""
    from moto.codebuild.exceptions import ResourceNotFoundException
    from moto.codebuild.models import CodeBuildBackend
    from moto.codebuild.responses import CodeBuildResponse
    from moto.core.responses import ActionResult

    patches.claim("codebuild", region, account)

    def start_build(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any) -> Any:
            codebuild = self.codebuild_backend
            if not _ours(codebuild, region, account):
                return original(self)
            name = self._get_param("projectName")
            project = codebuild.codebuild_projects.get(name)
            if project is None:
                # The same refusal as moto's own start_build.
                return original(self)
            params = {key: self._get_param(key) for key in _START_BUILD_PARAMS}
            build = handlers.start_build(dict(project.project_metadata), params)
            history = codebuild.build_history.setdefault(name, [])
            if build["id"] not in history:  # a repeated idempotency token answers an earlier build
                history.append(build["id"])
            return ActionResult({"build": build})

        return wrapper

    def batch_get_builds(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, ids: list[str]) -> Any:
            if not _ours(self, region, account):
                return original(self, ids)
            return handlers.batch_get_builds(ids)

        return wrapper

    def stop_build(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, build_id: str) -> Any:
            if not _ours(self, region, account):
                return original(self, build_id)
            build = handlers.stop_build(build_id)
            if build is None:
                raise ResourceNotFoundException(f"Build {build_id} does not exist")
            return build

        return wrapper

    patches.replace(CodeBuildResponse, "start_build", start_build)
    patches.replace(CodeBuildBackend, "batch_get_builds", batch_get_builds)
    patches.replace(CodeBuildBackend, "stop_build", stop_build)


# ----------------------------------------------------------------------------- ECS one-off tasks


class OneOffHandlers(Protocol):
    """What the one-off task simulator (releasectl_sandbox.run_task) answers."""

    lock: threading.RLock

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
    ) -> dict[str, Any]: ...

    def owns(self, cluster: str, task: str) -> bool: ...

    def describe_tasks(self, *, cluster: str, tasks: Sequence[str]) -> list[dict[str, Any]]: ...

    def list_tasks(
        self, *, cluster: str, started_by: str | None, desired_status: str | None, family: str | None
    ) -> list[str]: ...

    def stop_task(self, *, cluster: str, task: str, reason: str | None) -> dict[str, Any] | None: ...

    def target_health(
        self, target_group_arn: str
    ) -> list[tuple[str, int, str, str | None, str | None]] | None: ...


def hook_run_task(patches: Patches, handlers: OneOffHandlers, region: str, account: str = ACCOUNT_ID) -> None:
    """Serve RunTask and the one-off tasks it starts from the simulator for one account and region.

    Relies on: EC2ContainerServiceResponse.run_task reading its request with _get_param /
    _get_int_param and answering an ActionResult of tasks and failures; the backend's
    _get_cluster (ClusterNotFoundException) and describe_task_definition (ClientException for
    an unknown revision); and describe_tasks / list_tasks / stop_task as hook_ecs wraps them.
    These wrappers stack on hook_ecs's: each passes on what is not its own."""
    from moto.core.responses import ActionResult
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    patches.claim("ecs-one-off", region, account)

    def run_task(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any) -> Any:
            backend_obj = self.ecs_backend
            if not _ours(backend_obj, region, account):
                return original(self)
            cluster = backend_obj._get_cluster(self._get_param("cluster", "default"))
            definition = self._get_param("taskDefinition")
            backend_obj.describe_task_definition(definition)  # moto's own error for an unknown one
            if self._get_int_param("count", 1) != 1:
                raise InvalidParameterException("sandbox: RunTask starts one task at a time (count 1)")
            with handlers.lock:
                try:
                    task = handlers.run_task(
                        cluster=cluster.name,
                        cluster_arn=cluster.arn,
                        task_definition=definition,
                        overrides=self._get_param("overrides"),
                        started_by=self._get_param("startedBy"),
                        client_token=self._get_param("clientToken"),
                        tags=self._get_param("tags"),
                    )
                except ValueError as exc:
                    raise InvalidParameterException(f"sandbox: {exc}") from None
            return ActionResult({"tasks": [task], "failures": []})

        return wrapper

    def describe_tasks(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, cluster_str: str, tasks: list[str]) -> Any:
            if not _ours(self, region, account):
                return original(self, cluster_str, tasks)
            self._get_cluster(cluster_str)
            with handlers.lock:
                ours = handlers.describe_tasks(cluster=cluster_str, tasks=tasks)
                rest = [t for t in tasks if not handlers.owns(cluster_str, t)]
            theirs = original(self, cluster_str, rest) if rest else []
            return list(theirs) + ours

        return wrapper

    def list_tasks(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(
            self: Any,
            cluster_str: str | None = None,
            container_instance: str | None = None,
            family: str | None = None,
            started_by: str | None = None,
            service_name: str | None = None,
            desiredStatus: str | None = None,  # moto's parameter name
        ) -> Any:
            theirs = original(
                self, cluster_str, container_instance, family, started_by, service_name, desiredStatus
            )
            if not _ours(self, region, account) or service_name:
                return theirs  # a one-off task belongs to no service
            with handlers.lock:
                ours = handlers.list_tasks(
                    cluster=cluster_str or "default",
                    started_by=started_by,
                    desired_status=desiredStatus,
                    family=family,
                )
            return list(theirs) + [TaskRef(arn) for arn in ours]

        return wrapper

    def stop_task(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
            if not _ours(self, region, account):
                return original(self, cluster_str, task_str, reason)
            with handlers.lock:
                stopped = handlers.stop_task(cluster=cluster_str, task=task_str, reason=reason)
            return stopped if stopped is not None else original(self, cluster_str, task_str, reason)

        return wrapper

    patches.replace(EC2ContainerServiceResponse, "run_task", run_task)
    patches.replace(EC2ContainerServiceBackend, "describe_tasks", describe_tasks)
    patches.replace(EC2ContainerServiceBackend, "list_tasks", list_tasks)
    patches.replace(EC2ContainerServiceBackend, "stop_task", stop_task)


def hook_target_health(
    patches: Patches, handlers: OneOffHandlers, region: str, account: str = ACCOUNT_ID
) -> None:
    """Answer DescribeTargetHealth for the target groups the ECS simulator's services use, from
    their tasks (moto registers no targets itself). Relies on ELBv2Backend.describe_target_health
    (target_group_arn, targets) returning FakeHealthStatus(instance_id, port, health_port, status,
    reason, description) objects; other groups keep moto's answer."""
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus

    patches.claim("elbv2-target-health", region, account)

    def describe_target_health(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, target_group_arn: str, targets: list[dict[str, Any]]) -> Any:
            if not _ours(self, region, account):
                return original(self, target_group_arn, targets)
            found = handlers.target_health(target_group_arn)
            if found is None:
                return original(self, target_group_arn, targets)
            return [
                FakeHealthStatus(task, str(port), str(port), state, reason, description)
                for task, port, state, reason, description in found
            ]

        return wrapper

    patches.replace(ELBv2Backend, "describe_target_health", describe_target_health)
