"""Two environments on the moto server: staging and prod clusters without services yet, each with a
platform stack whose outputs the service definition reads, ECR holding releases, and a project
configured with both environments and tests.support.service_definitions.EXAMPLE as service.toml."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.cli import CliResult, run_cli
from tests.support.ecr_fixtures import push_image
from tests.support.service_definitions import EXAMPLE, OUTPUTS

REPOSITORY, SERVICE = "shop", "shop"
ENVIRONMENTS = ("staging", "prod")
RELEASES = {"1.1.0": ["1.1.0", "git-" + "1" * 40], "1.2.0": ["1.2.0", "git-" + "2" * 40]}

PYPROJECT = f"""\
[tool.releasectl]
ecr_repository = "{REPOSITORY}"
container_name = "app"

[tool.releasectl.environments.staging]
cluster = "shop-staging"
service = "{SERVICE}"
stack = "shop-staging"

[tool.releasectl.environments.prod]
cluster = "shop-prod"
service = "{SERVICE}"
stack = "shop-prod"
after = "staging"
"""


def platform_stack(environment: str, network: dict[str, str]) -> str:
    """A stack with the app log group and the outputs infra/releasectl.yaml gives each environment;
    the network is made beforehand, since moto's ECS checks the subnets a service names."""
    outputs = {
        **OUTPUTS,
        **network,
        "AppLogGroup": f"/ecs/shop-{environment}",
        "EcsCluster": f"shop-{environment}",
    }
    return json.dumps(
        {
            "Resources": {
                "AppLogGroup": {
                    "Type": "AWS::Logs::LogGroup",
                    "Properties": {"LogGroupName": f"/ecs/shop-{environment}"},
                }
            },
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
    )


@dataclass
class EnvWorld:
    ecr: Any
    ecs: Any
    digests: dict[str, str]
    cwd: Path
    env: dict[str, str]

    def cli(self, *args: str, **env: str) -> CliResult:
        return run_cli(*args, cwd=self.cwd, env={**self.env, **env})

    def service(self, environment: str) -> dict[str, Any] | None:
        found = self.ecs.describe_services(cluster=f"shop-{environment}", services=[SERVICE])["services"]
        return found[0] if found and found[0]["status"] == "ACTIVE" else None

    def running(self, environment: str) -> dict[str, Any]:
        service = self.service(environment)
        assert service is not None, f"no service in {environment}"
        return self.ecs.describe_task_definition(taskDefinition=service["taskDefinition"], include=["TAGS"])

    def write_definition(self, text: str) -> None:
        (self.cwd / "service.toml").write_text(text)

    def state(self) -> dict[str, Any]:
        """Everything a deploy could write: services, revisions and their tags, per environment."""
        snapshot: dict[str, Any] = {}
        for environment in ENVIRONMENTS:
            family = f"shop-{environment}"
            arns = self.ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
            tags = {arn: self.ecs.list_tags_for_resource(resourceArn=arn)["tags"] for arn in arns}
            service = self.service(environment)
            snapshot[environment] = {
                "revisions": tags,
                "service": (service["taskDefinition"], service["desiredCount"]) if service else None,
            }
        return snapshot


def make_env_world(endpoint: str, cwd: Path) -> EnvWorld:
    import boto3

    ecr = boto3.client("ecr", endpoint_url=endpoint, region_name="us-east-1")
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name="us-east-1")
    cloudformation = boto3.client("cloudformation", endpoint_url=endpoint, region_name="us-east-1")
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    group = ec2.create_security_group(GroupName="shop-tasks", Description="tasks", VpcId=vpc)["GroupId"]
    network = {"PrivateSubnets": ",".join(subnets), "TaskSecurityGroup": group}
    ecr.create_repository(repositoryName=REPOSITORY)
    digests = {
        version: push_image(ecr, REPOSITORY, tags=list(tags), config_bytes=f"config of {version}".encode())
        for version, tags in RELEASES.items()
    }
    for environment in ENVIRONMENTS:
        ecs.create_cluster(clusterName=f"shop-{environment}")
        cloudformation.create_stack(
            StackName=f"shop-{environment}", TemplateBody=platform_stack(environment, network)
        )
    (cwd / "pyproject.toml").write_text(PYPROJECT)
    (cwd / "service.toml").write_text(EXAMPLE)
    return EnvWorld(ecr, ecs, digests, cwd, {"AWS_ENDPOINT_URL": endpoint})


def keep_what_create_service_is_given(monkeypatch: Any) -> None:
    """moto 5.2.5's create_service drops deploymentConfiguration and healthCheckGracePeriodSeconds,
    which ECS keeps; without this a deploy right after the service's creation would see them
    "changed". The sandbox does the same for its services (releasectl_sandbox.moto_internals)."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    original = EC2ContainerServiceResponse.create_service

    def create_service(self: Any) -> Any:
        result = original(self)
        service = self.ecs_backend._get_service(
            self._get_param("cluster", "default"), self._get_param("serviceName")
        )
        for param, attr in (
            ("deploymentConfiguration", "deployment_configuration"),
            ("healthCheckGracePeriodSeconds", "health_check_grace_period_seconds"),
        ):
            if self._get_param(param) is not None:
                setattr(service, attr, self._get_param(param))
        return result

    monkeypatch.setattr(EC2ContainerServiceResponse, "create_service", create_service)
