"""Create, through the sandbox endpoint, the resources the configuration names.

The same shapes infra/releasectl.yaml gives them on AWS, within what moto stores:
- ECR release repository IMMUTABLE_WITH_EXCLUSION with the configured floating_tags excluded, cache
  repository MUTABLE;
- CloudWatch log groups `/aws/codebuild/<project>` and `/ecs/<service>`;
- a CodeBuild project whose source is the local git repository (source type GITHUB because moto
  insists on one of AWS's types; the location is the repository's path, which the simulator clones),
  with the RELEASECTL_* environment variables the template sets;
- an ECS cluster, a first task definition (Fargate, awsvpc, port 8080, a health check on
  /healthz, awslogs) and the service with the circuit breaker and rollback enabled,
  minimumHealthyPercent 100 and maximumPercent 200.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releasectl.adapters.aws.clients import AwsClients, aws_errors
from releasectl.core.config import DEFAULT_FLOATING_TAGS, Config
from releasectl_sandbox.moto_internals import ACCOUNT_ID

CONTAINER_PORT = 8080
PLACEHOLDER_IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"
TARGET_GROUP = "sandbox-alb"


@dataclass(frozen=True)
class Resources:
    region: str
    ecr_repository: str
    cache_repository: str
    codebuild_project: str
    ecs_cluster: str
    ecs_service: str
    container_name: str
    source: Path
    account: str = ACCOUNT_ID
    floating_tags: tuple[str, ...] = DEFAULT_FLOATING_TAGS

    @classmethod
    def from_config(cls, config: Config, source: Path) -> Resources:
        repository = config.require("ecr_repository")
        return cls(
            region=config.region or "us-east-1",
            ecr_repository=repository,
            cache_repository=config.cache_repository_name or f"{repository}-cache",
            codebuild_project=config.require("codebuild_project"),
            ecs_cluster=config.require("ecs_cluster"),
            ecs_service=config.require("ecs_service"),
            container_name=config.require("container_name"),
            source=source,
            floating_tags=config.floating_tags,
        )

    @property
    def build_log_group(self) -> str:
        return f"/aws/codebuild/{self.codebuild_project}"

    @property
    def app_log_group(self) -> str:
        return f"/ecs/{self.ecs_service}"

    @property
    def target_group_arn(self) -> str:
        name = f"targetgroup/{TARGET_GROUP}/0123456789abcdef"
        return f"arn:aws:elasticloadbalancing:{self.region}:{self.account}:{name}"

    def config_env(self) -> dict[str, str]:
        """The names as RELEASECTL_* variables (what the template puts in the CodeBuild project)."""
        return {
            "RELEASECTL_REGION": self.region,
            "RELEASECTL_ECR_REPOSITORY": self.ecr_repository,
            "RELEASECTL_CACHE_REPOSITORY": self.cache_repository,
            "RELEASECTL_CODEBUILD_PROJECT": self.codebuild_project,
            "RELEASECTL_ECS_CLUSTER": self.ecs_cluster,
            "RELEASECTL_ECS_SERVICE": self.ecs_service,
            "RELEASECTL_CONTAINER_NAME": self.container_name,
            "RELEASECTL_BUILDER": "sandbox",
        }


def create_repositories(clients: AwsClients, res: Resources) -> str:
    """Both ECR repositories; returns the release repository's URI."""
    ecr = clients.client("ecr")
    with aws_errors(f"creating sandbox ECR repositories {res.ecr_repository}, {res.cache_repository}"):
        # Created the way tests/support/ecr_fixtures.create_repository does: moto 5.2.5 stores the filters
        # (and fails on a `*` filter, which floating tags never are: they are literal tag names).
        created = ecr.create_repository(
            repositoryName=res.ecr_repository,
            imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
            imageTagMutabilityExclusionFilters=[
                {"filterType": "WILDCARD", "filter": tag} for tag in res.floating_tags
            ],
            imageScanningConfiguration={"scanOnPush": True},
        )["repository"]
        ecr.create_repository(repositoryName=res.cache_repository, imageTagMutability="MUTABLE")
    return str(created["repositoryUri"])


def create_log_groups(clients: AwsClients, res: Resources) -> None:
    logs = clients.client("logs")
    with aws_errors("creating sandbox log groups"):
        for group in (res.build_log_group, res.app_log_group):
            logs.create_log_group(logGroupName=group)
            logs.put_retention_policy(logGroupName=group, retentionInDays=7)


def create_build_project(clients: AwsClients, res: Resources, extra_env: Mapping[str, str]) -> None:
    # The sandbox's "build image" has releasectl and its test tools already, and nothing is
    # downloaded: buildspec.yml's documented setting for such an image. A project variable, as
    # on CodeBuild, so it takes precedence over the buildspec's default.
    variables = {**res.config_env(), "RELEASECTL_INSTALL": "preinstalled", **extra_env}
    with aws_errors(f"creating sandbox CodeBuild project {res.codebuild_project}"):
        clients.client("codebuild").create_project(
            name=res.codebuild_project,
            description="releasectl sandbox: runs buildspec.yml of the local repository on this machine",
            source={"type": "GITHUB", "location": str(res.source), "buildspec": "buildspec.yml"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": "releasectl-sandbox",
                "computeType": "BUILD_GENERAL1_SMALL",
                "privilegedMode": False,
                "environmentVariables": [
                    {"name": k, "value": v, "type": "PLAINTEXT"} for k, v in variables.items()
                ],
            },
            serviceRole=f"arn:aws:iam::{res.account}:role/{res.codebuild_project}-sandbox",
            timeoutInMinutes=60,
            logsConfig={"cloudWatchLogs": {"status": "ENABLED", "groupName": res.build_log_group}},
        )


def task_definition_input(res: Resources, image: str) -> dict[str, Any]:
    return {
        "family": res.ecs_service,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [
            {
                "name": res.container_name,
                "image": image,
                "essential": True,
                "portMappings": [{"containerPort": CONTAINER_PORT, "protocol": "tcp"}],
                "healthCheck": {
                    "command": [
                        "CMD",
                        "python",
                        "-c",
                        "import urllib.request; "
                        f"urllib.request.urlopen('http://127.0.0.1:{CONTAINER_PORT}/healthz', timeout=3)",
                    ],
                    "interval": 15,
                    "timeout": 5,
                    "retries": 3,
                    "startPeriod": 10,
                },
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": res.app_log_group,
                        "awslogs-region": res.region,
                        "awslogs-stream-prefix": res.container_name,
                    },
                },
            }
        ],
    }


def create_service(clients: AwsClients, res: Resources, *, image: str, desired_count: int) -> str:
    """Cluster, first task definition, service; returns the task definition's ARN."""
    ecs = clients.client("ecs")
    with aws_errors(f"creating sandbox ECS service {res.ecs_service}"):
        ecs.create_cluster(clusterName=res.ecs_cluster)
        arn = str(
            ecs.register_task_definition(**task_definition_input(res, image))["taskDefinition"][
                "taskDefinitionArn"
            ]
        )
        ecs.create_service(
            cluster=res.ecs_cluster,
            serviceName=res.ecs_service,
            taskDefinition=arn,
            desiredCount=desired_count,
            launchType="FARGATE",
            deploymentController={"type": "ECS"},
            loadBalancers=[
                {
                    "targetGroupArn": res.target_group_arn,
                    "containerName": res.container_name,
                    "containerPort": CONTAINER_PORT,
                }
            ],
        )
        # moto's create_service drops deploymentConfiguration; update_service keeps it.
        ecs.update_service(
            cluster=res.ecs_cluster,
            service=res.ecs_service,
            deploymentConfiguration={
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
            },
        )
    return arn
