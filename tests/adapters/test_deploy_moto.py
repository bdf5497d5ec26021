"""deploy/rollback against moto in-process: the arguments ECS receives and the state it ends in.

moto does not roll anything out (no new deployment, rolloutState frozen), so these tests run
with --no-wait and check registration, tags and the service's task definition; rollouts over
time are covered by the scripted tests. Faults are injected with a before-send hook.
"""

from __future__ import annotations

from typing import Any

import pytest

from releasectl.adapters.aws.clients import AwsClients
from releasectl.commands.context import Context, RecordingReporter
from releasectl.commands.deploy import run_deploy
from releasectl.commands.rollback import run_rollback
from releasectl.core.clock import FakeClock
from releasectl.core.config import Config
from releasectl.core.errors import EnvironmentProblem, ExitCode, OperationFailed
from releasectl.core.result import Outcome
from tests.support.moto_fixtures import create_fargate_service
from tests.support.scripted_ecs import FaultInjector, digest, release, task_definition_body

CLUSTER, SERVICE, REPO = "web", "hello-world", "hello-world"
LEDGER = [release("1.1.0", 1), release("1.2.0", 2), release("1.3.0", 3)]


pytestmark = pytest.mark.usefixtures("fast_retries")  # botocore's own sleeps between retries


@pytest.fixture
def deployed(aws: AwsClients) -> dict[str, Any]:
    """A cluster with a two-container service running 1.1.0, and the ECR repository."""
    ecs, ecr = aws.client("ecs"), aws.client("ecr")
    uri = ecr.create_repository(repositoryName=REPO)["repository"]["repositoryUri"]
    first = create_fargate_service(
        ecs,
        cluster=CLUSTER,
        service=SERVICE,
        image=f"{uri}@{digest(1)}",
        tags={"releasectl:version": "1.1.0", "team": "web"},
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    return {"ecs": ecs, "ecr": ecr, "uri": uri, "first": first}


def context(**config: Any) -> Context:
    settings = {
        "region": "us-east-1",
        "ecr_repository": REPO,
        "ecs_cluster": CLUSTER,
        "ecs_service": SERVICE,
        "container_name": "app",
        "max_attempts": 3,
        **config,
    }
    return Context(config=Config(**settings), reporter=RecordingReporter(), clock=FakeClock())


def boundary(ctx: Context) -> tuple[Any, Any]:
    from releasectl.commands.deploy import boundary as _boundary

    return _boundary(ctx)


def deploy_no_wait(ctx: Context, version: str = "1.2.0") -> Any:
    ecs, repository_uri = boundary(ctx)
    return run_deploy(
        ctx, ecs, LEDGER, version=version, timeout=None, wait=False, repository_uri=repository_uri
    )


def rollback_no_wait(ctx: Context, to: str | None) -> Any:
    ecs, repository_uri = boundary(ctx)
    return run_rollback(ctx, ecs, LEDGER, to=to, timeout=None, wait=False, repository_uri=repository_uri)


def service_td(deployed: dict[str, Any]) -> str:
    services = deployed["ecs"].describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    return str(services[0]["taskDefinition"])


def snapshot(deployed: dict[str, Any]) -> Any:
    ecs = deployed["ecs"]
    arns = ecs.list_task_definitions(familyPrefix="hello-world")["taskDefinitionArns"]
    inactive = ecs.list_task_definitions(familyPrefix="hello-world", status="INACTIVE")["taskDefinitionArns"]
    return arns, inactive, service_td(deployed)


# ----------------------------------------------------------------------------- arguments and state


def test_deploy_points_the_service_at_a_new_revision_pinned_by_digest(deployed: dict[str, Any]) -> None:
    result = deploy_no_wait(context())
    assert result.outcome is Outcome.SUCCEEDED
    new = service_td(deployed)
    assert new.endswith("task-definition/hello-world:2")
    assert result.extra["task_definition"] == new
    described = deployed["ecs"].describe_task_definition(taskDefinition=new, include=["TAGS"])
    app, sidecar = described["taskDefinition"]["containerDefinitions"]
    assert app["image"] == f"{deployed['uri']}@{digest(2)}"
    assert sidecar["image"] == task_definition_body()["containerDefinitions"][1]["image"]
    assert {t["key"]: t["value"] for t in described["tags"]} == {
        "team": "web",
        "releasectl:version": "1.2.0",
        "releasectl:commit": f"{2:040x}",
    }


def test_deploy_copies_the_running_definitions_settings(deployed: dict[str, Any]) -> None:
    deploy_no_wait(context())
    old = deployed["ecs"].describe_task_definition(taskDefinition=deployed["first"])["taskDefinition"]
    new = deployed["ecs"].describe_task_definition(taskDefinition=service_td(deployed))["taskDefinition"]
    for key in ("cpu", "memory", "networkMode", "taskRoleArn", "executionRoleArn", "requiresCompatibilities"):
        assert new[key] == old[key]
    assert new["containerDefinitions"][0]["environment"] == old["containerDefinitions"][0]["environment"]


def test_rollback_to_reuses_the_active_revision_with_that_digest(deployed: dict[str, Any]) -> None:
    deploy_no_wait(context(), "1.2.0")
    result = rollback_no_wait(context(), "1.1.0")
    assert result.extra["action"] == "reuse"
    assert service_td(deployed) == deployed["first"]
    assert len(deployed["ecs"].list_task_definitions(familyPrefix="hello-world")["taskDefinitionArns"]) == 2


def test_rollback_to_a_deregistered_revision_registers_a_fresh_one_instead(deployed: dict[str, Any]) -> None:
    # moto would accept the INACTIVE revision; AWS would not. releasectl must not try.
    deploy_no_wait(context(), "1.2.0")
    deployed["ecs"].deregister_task_definition(taskDefinition=deployed["first"])
    result = rollback_no_wait(context(), "1.1.0")
    assert result.extra["action"] == "register"
    now = service_td(deployed)
    assert now != deployed["first"]
    described = deployed["ecs"].describe_task_definition(taskDefinition=now)["taskDefinition"]
    assert described["status"] == "ACTIVE"
    assert described["containerDefinitions"][0]["image"] == f"{deployed['uri']}@{digest(1)}"


def test_missing_service_is_exit_4_and_nothing_changes(deployed: dict[str, Any]) -> None:
    before = snapshot(deployed)
    with pytest.raises(EnvironmentProblem) as caught:
        deploy_no_wait(context(ecs_service="nope"))
    assert caught.value.exit_code is ExitCode.ENVIRONMENT
    assert snapshot(deployed) == before


def test_missing_repository_is_exit_4_and_the_service_is_untouched(deployed: dict[str, Any]) -> None:
    before = snapshot(deployed)
    with pytest.raises(EnvironmentProblem, match="does-not-exist"):
        deploy_no_wait(context(ecr_repository="does-not-exist"))
    assert snapshot(deployed) == before


# ----------------------------------------------------------------------------- faults


OPERATIONS = ["DescribeServices", "DescribeTaskDefinition", "RegisterTaskDefinition", "UpdateService"]
FAULTS = [(400, "ThrottlingException"), (503, "ServiceUnavailableException"), (500, "ServerException")]


def faulty_context(injector: FaultInjector) -> Context:
    """A context allowing 3 attempts a call, whose ECS client meets the injector's faults."""
    ctx = context(max_attempts=3)
    ctx.aws.client("ecs").meta.events.register_first("before-send.ecs", injector)
    return ctx


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("status", "code"), FAULTS)
def test_transient_faults_are_retried_and_the_deploy_goes_through(
    deployed: dict[str, Any], operation: str, status: int, code: str
) -> None:
    injector = FaultInjector(operation, status=status, code=code, times=2)
    result = deploy_no_wait(faulty_context(injector))
    assert result.outcome is Outcome.SUCCEEDED
    assert injector.attempts == 3
    assert service_td(deployed).endswith(":2")


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("status", "code"), FAULTS)
def test_persistent_faults_surface_as_one_clear_error(
    deployed: dict[str, Any], operation: str, status: int, code: str
) -> None:
    injector = FaultInjector(operation, status=status, code=code, times=99)
    with pytest.raises(OperationFailed) as caught:
        deploy_no_wait(faulty_context(injector))
    assert injector.attempts == 3  # bounded: max_attempts, then give up
    line = caught.value.one_line()
    assert "\n" not in line
    assert code in line or "throttling" in line
    if operation != "UpdateService":
        assert service_td(deployed) == deployed["first"]


def test_a_stale_deployment_of_the_same_revision_is_not_taken_for_ours(deployed: dict[str, Any]) -> None:
    # moto keeps the deployment create_service made (of revision 1) and lists no new one, like
    # a service still draining revision 1 when the rollback to it starts: that one is not ours.
    services = deployed["ecs"].describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    stale = services[0]["deployments"][0]["id"]
    deploy_no_wait(context(), "1.2.0")
    result = rollback_no_wait(context(), "1.1.0")
    assert result.extra["task_definition"] == deployed["first"]
    assert result.extra["deployment_id"] != stale
    assert result.extra["deployment_id"] is None


@pytest.mark.parametrize(("times", "fails"), [(2, False), (99, True)])
def test_rollback_listing_revisions_is_retried_then_surfaced(
    deployed: dict[str, Any], times: int, fails: bool
) -> None:
    deploy_no_wait(context(), "1.2.0")
    ctx = faulty_context(
        FaultInjector("ListTaskDefinitions", status=503, code="ServiceUnavailableException", times=times)
    )
    if fails:
        with pytest.raises(OperationFailed, match="listing ACTIVE revisions"):
            rollback_no_wait(ctx, "1.1.0")
        assert service_td(deployed).endswith(":2")
    else:
        assert rollback_no_wait(ctx, "1.1.0").extra["action"] == "reuse"
        assert service_td(deployed) == deployed["first"]
