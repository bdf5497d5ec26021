"""`sandbox up` with environments: each gets its platform stack, cluster, log group and load balancer,
in the account its role names, and no ECS service until a deploy creates one, which the simulators
then run and the environment's load balancer serves.

One sandbox for the module, prod in a second account (a role_arn in another account), staging in
moto's default one. Services are created here the way `releasectl deploy` creates them: from the
repository's service.toml, its placeholders filled from the stack's outputs
(releasectl.core.service_definition), rendered by releasectl.core.service_shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from releasectl.core.service_definition import parse, resolve
from releasectl.core.service_shape import create_service_input, to_task_definition
from releasectl_sandbox.images import SandboxImage, build_image, push
from releasectl_sandbox.moto_internals import ACCOUNT_ID
from releasectl_sandbox.provision import PLATFORM_OUTPUTS
from releasectl_sandbox.sandbox import Sandbox, SandboxEnvironment
from releasectl_sandbox.state import read_env_file
from tests.support.paths import ROOT
from tests.support.sandbox_projects import ENVIRONMENTS_CONFIG as CONFIG
from tests.support.sandbox_projects import (
    PROD_ACCOUNT,
    copy_context,
    get,
    init_repo,
    project_config,
    service_files,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("environments")
    files = {"pyproject.toml": CONFIG, "service.toml": (ROOT / "service.toml").read_text(), **service_files()}
    project = init_repo(root / "project", files)
    with Sandbox(
        project, config=project_config(project), state_dir=root / "state", env_file=root / "sandbox.env"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def image(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> SandboxImage:
    """Release 1.0.0 in the release repository (staging's account), as a release pushes it."""
    context = copy_context(tmp_path_factory.mktemp("context") / "context")
    built = build_image(
        context, None, {"APP_VERSION": "1.0.0", "GIT_COMMIT": "a" * 40}, store=sandbox.state.blobs
    )
    push(sandbox.clients().client("ecr"), "hello-world", built, tags=["1.0.0", f"git-{'a' * 40}"])
    return built


def ecs(env: SandboxEnvironment) -> Any:
    return env.clients().client("ecs")


def service_of(env: SandboxEnvironment) -> dict[str, Any] | None:
    found = ecs(env).describe_services(cluster=env.resources.cluster, services=[env.resources.service])
    return found["services"][0] if found["services"] else None


def create_service(sandbox: Sandbox, env: SandboxEnvironment, image: SandboxImage) -> dict[str, Any]:
    """What `releasectl deploy` does the first time in an environment: a revision from service.toml
    plus the image's digest, then create_service with the file's service settings."""
    text = (sandbox.project_dir / "service.toml").read_text()
    cfn = env.clients().client("cloudformation")
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName=env.resources.stack)["Stacks"][0]["Outputs"]
    }
    spec = resolve(
        parse("service.toml", text),
        env=env.name,
        region=env.resources.region,
        outputs=outputs,
        stack=env.resources.stack,
    )
    uri = sandbox.clients().client("ecr").describe_repositories(repositoryNames=["hello-world"])
    pinned = f"{uri['repositories'][0]['repositoryUri']}@{image.digest}"
    client = ecs(env)
    registered = client.register_task_definition(
        **to_task_definition(spec, container_name="app", image=pinned, region=env.resources.region)
    )["taskDefinition"]
    created = client.create_service(
        **create_service_input(
            spec,
            cluster=env.resources.cluster,
            service=env.resources.service,
            task_definition=registered["taskDefinitionArn"],
            container_name="app",
        )
    )
    return dict(created["service"])


# ----------------------------------------------------------------------------- provisioned at `sandbox up`


def test_every_configured_environment_is_provisioned_default_first(sandbox: Sandbox) -> None:
    assert [(e.name, e.resources.account) for e in sandbox.environments] == [
        ("staging", ACCOUNT_ID),
        ("prod", PROD_ACCOUNT),
    ]
    assert sandbox.alb_url == sandbox.environment("staging").alb_url


def test_each_environment_has_its_cluster_in_its_own_account(sandbox: Sandbox) -> None:
    staging, prod = sandbox.environment("staging"), sandbox.environment("prod")
    assert ecs(staging).list_clusters()["clusterArns"] == [
        f"arn:aws:ecs:us-east-1:{ACCOUNT_ID}:cluster/hello-world-staging"
    ]
    assert ecs(prod).list_clusters()["clusterArns"] == [
        f"arn:aws:ecs:us-east-1:{PROD_ACCOUNT}:cluster/hello-world-prod"
    ]


def test_each_platform_stack_outputs_exactly_the_names_the_service_definition_reads(sandbox: Sandbox) -> None:
    for env in sandbox.environments:
        stack = env.clients().client("cloudformation").describe_stacks(StackName=env.resources.stack)
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Stacks"][0]["Outputs"]}
        assert sorted(outputs) == sorted(PLATFORM_OUTPUTS)
        assert outputs["EcsCluster"] == env.resources.cluster
        assert outputs["ContainerName"] == "app"
        assert outputs["ServiceUrl"] == env.alb_url
        assert outputs["Region"] == "us-east-1"
        assert outputs["AppLogGroup"] == f"/ecs/hello-world-{env.name}"
        assert outputs == env.outputs


def test_the_stack_outputs_name_resources_that_exist_in_the_environments_account(sandbox: Sandbox) -> None:
    for env in sandbox.environments:
        out, session, url = env.outputs, env.session, sandbox.endpoint
        subnets = out["PrivateSubnets"].split(",")
        assert (
            len(session.client("ec2", endpoint_url=url).describe_subnets(SubnetIds=subnets)["Subnets"]) == 2
        )
        groups = session.client("ec2", endpoint_url=url).describe_security_groups(
            GroupIds=[out["TaskSecurityGroup"]]
        )
        assert len(groups["SecurityGroups"]) == 1
        target_group = session.client("elbv2", endpoint_url=url).describe_target_groups(
            TargetGroupArns=[out["TargetGroupArn"]]
        )["TargetGroups"][0]
        assert (target_group["Port"], target_group["TargetType"]) == (8080, "ip")
        assert f":{env.resources.account}:" in out["TargetGroupArn"]
        alarms = session.client("cloudwatch", endpoint_url=url).describe_alarms(
            AlarmNames=[out["Target5xxAlarm"], out["UnhealthyHostsAlarm"]]
        )["MetricAlarms"]
        assert len(alarms) == 2
        groups = env.clients().client("logs").describe_log_groups(logGroupNamePrefix=out["AppLogGroup"])
        assert [g["logGroupName"] for g in groups["logGroups"]] == [out["AppLogGroup"]]
        for role in ("TaskExecutionRoleArn", "TaskRoleArn"):
            assert out[role].startswith(f"arn:aws:iam::{env.resources.account}:role/")


def test_the_env_file_leaves_the_cluster_and_service_to_the_selected_environment(sandbox: Sandbox) -> None:
    assert sandbox.env_file is not None
    written = read_env_file(sandbox.env_file)
    assert "RELEASECTL_ECS_CLUSTER" not in written and "RELEASECTL_ECS_SERVICE" not in written
    assert written["RELEASECTL_SANDBOX_ALB_URL"] == sandbox.environment("staging").alb_url
    assert written["RELEASECTL_SANDBOX_ALB_URL_STAGING"] == sandbox.environment("staging").alb_url
    assert written["RELEASECTL_SANDBOX_ALB_URL_PROD"] == sandbox.environment("prod").alb_url
    for env in sandbox.environments:
        # Each test listener on a port of its own, named by the stack and the env file alike.
        test_url = written[f"RELEASECTL_SANDBOX_TEST_URL_{str(env.name).upper()}"]
        assert test_url == env.test_url == env.outputs["TestListenerUrl"] != env.alb_url
    variables = sandbox.clients().client("codebuild").batch_get_projects(names=["hello-world-release"])
    names = {v["name"] for v in variables["projects"][0]["environment"]["environmentVariables"]}
    assert "RELEASECTL_ECS_CLUSTER" not in names and "RELEASECTL_ECR_REPOSITORY" in names


def test_no_ecs_service_exists_until_a_deploy_creates_it(sandbox: Sandbox) -> None:
    prod = sandbox.environment("prod")
    assert service_of(prod) is None
    status, body = get(prod.alb_url)
    assert status == 503 and "sandbox ALB" in body
    assert get(prod.test_url)[0] == 503


# ----------------------------------------------------------------------------- services created later


def test_a_service_created_after_sandbox_up_runs_and_answers_through_its_environments_load_balancer(
    sandbox: Sandbox, image: SandboxImage
) -> None:
    staging = sandbox.environment("staging")
    create_service(sandbox, staging, image)

    assert sandbox.wait_until_steady(30), "staging's new service did not reach a steady state"
    found = service_of(staging)
    assert found is not None
    assert (found["runningCount"], found["desiredCount"]) == (2, 2)
    assert get(staging.alb_url) == (200, "Hello from CI/CD! (version 1.0.0)\n")
    assert get(sandbox.environment("prod").alb_url)[0] == 503  # another environment's target group


def test_create_service_keeps_the_deployment_configuration_that_moto_drops(sandbox: Sandbox) -> None:
    found = service_of(sandbox.environment("staging"))
    assert found is not None
    configuration = found["deploymentConfiguration"]
    assert configuration["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert (configuration["minimumHealthyPercent"], configuration["maximumPercent"]) == (100, 200)
    assert configuration["alarms"]["alarmNames"] == [
        "hello-world-staging-target-5xx",
        "hello-world-staging-unhealthy-hosts",
    ]
    assert found["healthCheckGracePeriodSeconds"] == 10
    assert found["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == (
        sandbox.environment("staging").outputs["PrivateSubnets"].split(",")
    )


def test_a_service_created_in_the_second_account_runs_the_release_from_the_first(
    sandbox: Sandbox, image: SandboxImage
) -> None:
    prod = sandbox.environment("prod")
    created = create_service(sandbox, prod, image)
    assert (
        created["serviceArn"] == f"arn:aws:ecs:us-east-1:{PROD_ACCOUNT}:service/hello-world-prod/hello-world"
    )

    assert sandbox.wait_until_steady(30), "prod's new service did not reach a steady state"
    found = service_of(prod)
    assert found is not None and (found["runningCount"], found["desiredCount"]) == (3, 3)
    assert get(prod.alb_url) == (200, "Hello from CI/CD! (version 1.0.0)\n")
    client = ecs(prod)
    arns = client.list_tasks(cluster="hello-world-prod", serviceName="hello-world")["taskArns"]
    digests = {
        t["containers"][0]["imageDigest"]
        for t in client.describe_tasks(cluster="hello-world-prod", tasks=arns)["tasks"]
    }
    assert digests == {image.digest}
    # Its tasks log to prod's log group, in prod's account.
    streams = prod.clients().client("logs").describe_log_streams(logGroupName="/ecs/hello-world-prod")
    assert streams["logStreams"]


def test_creating_a_running_service_again_with_other_settings_is_refused_as_on_aws(sandbox: Sandbox) -> None:
    staging = sandbox.environment("staging")
    client = ecs(staging)
    before = service_of(staging)
    assert before is not None
    with pytest.raises(client.exceptions.InvalidParameterException, match="not idempotent"):
        client.create_service(
            cluster="hello-world-staging",
            serviceName="hello-world",
            taskDefinition=before["taskDefinition"],
            desiredCount=5,
            launchType="FARGATE",
        )
    after = service_of(staging)
    assert after is not None and after["desiredCount"] == 2
    assert get(staging.alb_url)[0] == 200


def test_the_repository_config_gives_two_environments_in_one_account_staging_first(tmp_path: Path) -> None:
    from releasectl.core.config import load_config
    from releasectl_sandbox.provision import Resources

    resources = Resources.from_config(load_config(env={}, cwd=ROOT), ROOT)
    assert [(e.name, e.cluster, e.service, e.stack, e.account) for e in resources.environments] == [
        ("staging", "hello-world-staging", "hello-world", "hello-world-staging", ACCOUNT_ID),
        ("prod", "hello-world-prod", "hello-world", "hello-world-prod", ACCOUNT_ID),
    ]
    assert "RELEASECTL_ECS_CLUSTER" not in resources.config_env()
