"""Create, through the sandbox endpoint, the resources the configuration names.

The same shapes infra/releasectl.yaml gives them on AWS, within what moto stores:
- ECR release repository IMMUTABLE_WITH_EXCLUSION with the configured floating_tags excluded, cache
  repository MUTABLE;
- CloudWatch log groups `/aws/codebuild/<project>` and, per environment, `/ecs/<service>-<env>`
  (`/ecs/<service>` without environments);
- a CodeBuild project whose source is the local git repository (source type GITHUB because moto
  insists on one of AWS's types; the location is the repository's path, which the simulator clones),
  with the RELEASECTL_* environment variables the template sets;
- for each environment of [tool.releasectl.environments], in the account its role_arn names
  (moto's default account without one): a platform stack named by its `stack`, made by the
  sandbox's CloudFormation from a small template (PLATFORM_TEMPLATE: network, security group,
  the target group and its alternate, a load balancer with a production and a test listener and
  a rule on each, the infrastructure role ECS shifts traffic with, cluster, app log group, task
  roles) whose Outputs carry the names service.toml reads, plus the two alarms it names (moto's
  CloudFormation has no model for alarms). No ECS service: the first `releasectl deploy` to the
  environment creates it;
- without environments (a config of ecs_cluster / ecs_service only): an ECS cluster, a first task
  definition (Fargate, awsvpc, port 8080, a health check on /healthz, awslogs) and the service
  with the circuit breaker and rollback enabled, minimumHealthyPercent 100 and maximumPercent 200.
"""

from __future__ import annotations

import json
import re
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
# The outputs of a platform stack (docs/design.md §7): what service.toml reads, and what
# `releasectl infra outputs` maps onto the config.
PLATFORM_OUTPUTS = (
    "TaskExecutionRoleArn",
    "TaskRoleArn",
    "PrivateSubnets",
    "TaskSecurityGroup",
    "TargetGroupArn",
    "AppLogGroup",
    "Target5xxAlarm",
    "UnhealthyHostsAlarm",
    "EcsCluster",
    "ContainerName",
    "ServiceUrl",
    "Region",
    # What blue/green, canary and linear deployments need (the service's advancedConfiguration).
    "AlternateTargetGroupArn",
    "ProductionListenerRuleArn",
    "TestListenerRuleArn",
    "InfrastructureRoleArn",
    "TestListenerUrl",
)
# The 5xx alarm as infra/releasectl.yaml defines it: more than 5 % of requests answered 5xx by the
# tasks in 2 of the last 3 one-minute periods (sandbox minutes: docs/sandbox.md).
TARGET_5XX_PERCENT, TARGET_5XX_PERIODS, TARGET_5XX_DATAPOINTS, ALARM_PERIOD_S = 5.0, 3, 2, 60
_ROLE_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/")


@dataclass(frozen=True)
class EnvironmentResources:
    """Where one environment's service runs: the names its config gives, the account and region."""

    name: str | None  # None: the config has no environments (ecs_cluster / ecs_service only)
    cluster: str
    service: str
    region: str
    container_name: str
    account: str = ACCOUNT_ID
    role_arn: str | None = None  # assumed to reach an environment in another account
    stack: str | None = None  # its platform stack; None: the sandbox makes the service itself

    @property
    def label(self) -> str:
        return self.name or self.service

    @property
    def app_log_group(self) -> str:
        return f"/ecs/{self.service}-{self.name}" if self.name else f"/ecs/{self.service}"

    @property
    def target_group_name(self) -> str:
        # Target group names are unique per account and region, at most 32 characters.
        return (f"{self.service}-{self.name}" if self.name else TARGET_GROUP)[:32].rstrip("-")

    @property
    def alternate_target_group_name(self) -> str:
        """The second target group blue/green, canary and linear deployments put the new tasks in."""
        return f"{self.target_group_name[:30].rstrip('-')}-b"

    @property
    def target_group_arn(self) -> str:
        """The target group of an environment without a stack (with one, the stack's output says)."""
        name = f"targetgroup/{TARGET_GROUP}/0123456789abcdef"
        return f"arn:aws:elasticloadbalancing:{self.region}:{self.account}:{name}"

    @property
    def alarm_names(self) -> tuple[str, str]:
        prefix = f"{self.service}-{self.name}" if self.name else self.service
        return f"{prefix}-target-5xx", f"{prefix}-unhealthy-hosts"

    @property
    def other_account(self) -> bool:
        return self.account != ACCOUNT_ID


@dataclass(frozen=True)
class Resources:
    region: str
    ecr_repository: str
    cache_repository: str
    codebuild_project: str
    ecs_cluster: str  # the default environment's
    ecs_service: str
    container_name: str
    source: Path
    account: str = ACCOUNT_ID
    floating_tags: tuple[str, ...] = DEFAULT_FLOATING_TAGS
    environments: tuple[EnvironmentResources, ...] = ()  # the default one first

    @classmethod
    def from_config(cls, config: Config, source: Path) -> Resources:
        repository = config.require("ecr_repository")
        region = config.region or "us-east-1"
        container = config.require("container_name")
        cluster, service = config.require("ecs_cluster"), config.require("ecs_service")
        if config.environments:
            found = [
                EnvironmentResources(
                    name=env.name,
                    cluster=env.cluster,
                    service=env.service,
                    region=env.region or region,
                    container_name=container,
                    account=role_account(env.role_arn),
                    role_arn=env.role_arn,
                    stack=env.stack or f"{env.service}-{env.name}",
                )
                for env in config.environments.values()
            ]
            found.sort(key=lambda env: env.name != config.env)
        else:
            found = [EnvironmentResources(None, cluster, service, region, container)]
        return cls(
            region=region,
            ecr_repository=repository,
            cache_repository=config.cache_repository_name or f"{repository}-cache",
            codebuild_project=config.require("codebuild_project"),
            ecs_cluster=cluster,
            ecs_service=service,
            container_name=container,
            source=source,
            floating_tags=config.floating_tags,
            environments=tuple(found),
        )

    @property
    def with_environments(self) -> bool:
        return any(env.name for env in self.environments)

    @property
    def build_log_group(self) -> str:
        return f"/aws/codebuild/{self.codebuild_project}"

    @property
    def app_log_group(self) -> str:
        return self.default.app_log_group if self.environments else f"/ecs/{self.ecs_service}"

    @property
    def target_group_arn(self) -> str:
        return self.default.target_group_arn

    @property
    def default(self) -> EnvironmentResources:
        if self.environments:
            return self.environments[0]
        return EnvironmentResources(
            None, self.ecs_cluster, self.ecs_service, self.region, self.container_name
        )

    def environment(self, name: str | None) -> EnvironmentResources:
        """An environment by name (None: the default one)."""
        for env in self.environments:
            if name is None or env.name == name:
                return env
        raise KeyError(f"no sandbox environment {name!r}; known: {[e.name for e in self.environments]}")

    def config_env(self) -> dict[str, str]:
        """The names as RELEASECTL_* variables (what the template puts in the CodeBuild project).
        With environments the cluster and service are left out: the selected environment sets
        them, and an exported one would name one environment's cluster for every environment."""
        names = {
            "RELEASECTL_REGION": self.region,
            "RELEASECTL_ECR_REPOSITORY": self.ecr_repository,
            "RELEASECTL_CACHE_REPOSITORY": self.cache_repository,
            "RELEASECTL_CODEBUILD_PROJECT": self.codebuild_project,
            "RELEASECTL_ECS_CLUSTER": self.ecs_cluster,
            "RELEASECTL_ECS_SERVICE": self.ecs_service,
            "RELEASECTL_CONTAINER_NAME": self.container_name,
            "RELEASECTL_BUILDER": "sandbox",
        }
        if self.with_environments:
            del names["RELEASECTL_ECS_CLUSTER"], names["RELEASECTL_ECS_SERVICE"]
        return names


def role_account(role_arn: str | None) -> str:
    """The account an environment lives in: its role's, else moto's default account."""
    found = _ROLE_ACCOUNT.match(role_arn or "")
    return found.group(1) if found else ACCOUNT_ID


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


def create_log_groups(clients: AwsClients, res: Resources, *, app: bool = True) -> None:
    """The build log group, and the service's unless a platform stack makes it (`app=False`)."""
    logs = clients.client("logs")
    with aws_errors("creating sandbox log groups"):
        for group in (res.build_log_group, res.app_log_group) if app else (res.build_log_group,):
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


def _trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def _template() -> dict[str, Any]:
    """The platform stack's template: what infra/releasectl.yaml gives an environment, cut to what
    moto's CloudFormation creates (it cannot run that template: Fn::Select over Fn::GetAZs fails
    inside moto) and the service needs to exist: subnets and a security group that create_service
    checks, the two target groups, the load balancer with its production and test listener rules
    (moto's ELBv2 keeps their weights; the sandbox's load balancers route by them), the
    infrastructure role, the cluster, the log group, the task roles."""
    trust = _trust("ecs-tasks.amazonaws.com")

    def target_group(name: Any) -> dict[str, Any]:
        return {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {
                "Name": name,
                "Port": CONTAINER_PORT,
                "Protocol": "HTTP",
                "TargetType": "ip",
                "VpcId": {"Ref": "Vpc"},
                "HealthCheckPath": "/healthz",
            },
        }

    def listener(port: int) -> dict[str, Any]:
        return {
            "Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Properties": {
                "LoadBalancerArn": {"Ref": "LoadBalancer"},
                "Port": port,
                "Protocol": "HTTP",
                "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}],
            },
        }

    def rule(listener_id: str) -> dict[str, Any]:
        # All of a listener's traffic, forwarded with weights ECS changes during a deployment.
        return {
            "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
            "Properties": {
                "ListenerArn": {"Ref": listener_id},
                "Priority": 1,
                "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
                "Actions": [
                    {
                        "Type": "forward",
                        "ForwardConfig": {
                            "TargetGroups": [
                                {"TargetGroupArn": {"Ref": "TargetGroup"}, "Weight": 100},
                                {"TargetGroupArn": {"Ref": "AlternateTargetGroup"}, "Weight": 0},
                            ]
                        },
                    }
                ],
            },
        }

    def subnet(cidr: str, zone: str) -> dict[str, Any]:
        return {
            "Type": "AWS::EC2::Subnet",
            "Properties": {
                "VpcId": {"Ref": "Vpc"},
                "CidrBlock": cidr,
                "AvailabilityZone": {"Fn::Sub": "${AWS::Region}" + zone},
            },
        }

    def output(value: Any) -> dict[str, Any]:
        return {"Value": value}

    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "releasectl sandbox: an environment's platform (network, target group, cluster, "
        "log group, task roles); the sandbox's stand-in for infra/releasectl.yaml",
        "Parameters": {
            name: {"Type": "String"}
            for name in (
                "ClusterName",
                "AppLogGroupName",
                "TargetGroupName",
                "ContainerName",
                "ServiceUrl",
                "Target5xxAlarmName",
                "UnhealthyHostsAlarmName",
                "AlternateTargetGroupName",
                "TestListenerUrl",
            )
        },
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "PrivateSubnetA": subnet("10.0.1.0/24", "a"),
            "PrivateSubnetB": subnet("10.0.2.0/24", "b"),
            "TaskSecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {"GroupDescription": "the service's tasks", "VpcId": {"Ref": "Vpc"}},
            },
            "TargetGroup": target_group({"Ref": "TargetGroupName"}),
            "AlternateTargetGroup": target_group({"Ref": "AlternateTargetGroupName"}),
            "LoadBalancer": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {
                    "Name": {"Ref": "TargetGroupName"},
                    "Scheme": "internal",
                    "Type": "application",
                    "Subnets": [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}],
                },
            },
            # The sandbox serves them on local ports of its own (ServiceUrl, TestListenerUrl).
            "ProductionListener": listener(80),
            "TestListener": listener(8080),
            "ProductionListenerRule": rule("ProductionListener"),
            "TestListenerRule": rule("TestListener"),
            # What ECS assumes to change the listener rules' weights.
            "InfrastructureRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": _trust("ecs.amazonaws.com"),
                    "ManagedPolicyArns": [
                        "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
                    ],
                },
            },
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": {"Ref": "ClusterName"}}},
            "AppLogGroup": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": {"Ref": "AppLogGroupName"}, "RetentionInDays": 7},
            },
            "TaskExecutionRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": trust},
            },
            "TaskRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
        },
        "Outputs": {
            "TaskExecutionRoleArn": output({"Fn::GetAtt": ["TaskExecutionRole", "Arn"]}),
            "TaskRoleArn": output({"Fn::GetAtt": ["TaskRole", "Arn"]}),
            "PrivateSubnets": output(
                {"Fn::Join": [",", [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]]}
            ),
            "TaskSecurityGroup": output({"Fn::GetAtt": ["TaskSecurityGroup", "GroupId"]}),
            "TargetGroupArn": output({"Ref": "TargetGroup"}),
            "AppLogGroup": output({"Ref": "AppLogGroup"}),
            "Target5xxAlarm": output({"Ref": "Target5xxAlarmName"}),
            "UnhealthyHostsAlarm": output({"Ref": "UnhealthyHostsAlarmName"}),
            "EcsCluster": output({"Ref": "Cluster"}),
            "ContainerName": output({"Ref": "ContainerName"}),
            "ServiceUrl": output({"Ref": "ServiceUrl"}),
            "Region": output({"Ref": "AWS::Region"}),
            "AlternateTargetGroupArn": output({"Ref": "AlternateTargetGroup"}),
            "ProductionListenerRuleArn": output({"Ref": "ProductionListenerRule"}),
            "TestListenerRuleArn": output({"Ref": "TestListenerRule"}),
            "InfrastructureRoleArn": output({"Fn::GetAtt": ["InfrastructureRole", "Arn"]}),
            "TestListenerUrl": output({"Ref": "TestListenerUrl"}),
        },
    }


PLATFORM_TEMPLATE = _template()


def create_platform(
    clients: AwsClients, env: EnvironmentResources, *, service_url: str, test_url: str
) -> dict[str, str]:
    """The environment's platform stack and its alarms, in the environment's account (`clients`
    carry its credentials); returns the stack's outputs."""
    assert env.stack is not None
    parameters = {
        "AlternateTargetGroupName": env.alternate_target_group_name,
        "TestListenerUrl": test_url,
        "ClusterName": env.cluster,
        "AppLogGroupName": env.app_log_group,
        "TargetGroupName": env.target_group_name,
        "ContainerName": env.container_name,
        "ServiceUrl": service_url,
        "Target5xxAlarmName": env.alarm_names[0],
        "UnhealthyHostsAlarmName": env.alarm_names[1],
    }
    cfn = clients.client("cloudformation")
    with aws_errors(f"creating sandbox platform stack {env.stack}"):
        cfn.create_stack(
            StackName=env.stack,
            TemplateBody=json.dumps(PLATFORM_TEMPLATE),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Tags=[{"Key": "releasectl:sandbox", "Value": env.label}],
        )
        stack = cfn.describe_stacks(StackName=env.stack)["Stacks"][0]
    outputs = {str(o["OutputKey"]): str(o["OutputValue"]) for o in stack.get("Outputs") or ()}
    _create_alarms(clients, env, outputs)
    return outputs


def _create_alarms(clients: AwsClients, env: EnvironmentResources, outputs: Mapping[str, str]) -> None:
    """The two alarms the service's deployments roll back on, as the template defines them (moto's
    CloudFormation has no AWS::CloudWatch::Alarm). The sandbox evaluates the 5xx one from its load
    balancers' counts (releasectl_sandbox.alarms), over the load balancer rather than one target
    group: during a blue/green, canary or linear deployment the new tasks answer from the
    alternate target group. Nothing feeds the unhealthy-hosts one."""
    target_group = outputs["TargetGroupArn"].split(":")[-1]
    balancer = {"Name": "LoadBalancer", "Value": f"app/{env.target_group_name}/sandbox"}

    def stat(metric_id: str, metric: str) -> dict[str, Any]:
        return {
            "Id": metric_id,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": metric, "Dimensions": [balancer]},
                "Period": ALARM_PERIOD_S,
                "Stat": "Sum",
            },
        }

    cloudwatch = clients.session().client("cloudwatch", endpoint_url=clients.endpoint_url)
    with aws_errors(f"creating sandbox alarms of {env.label}"):
        cloudwatch.put_metric_alarm(
            AlarmName=env.alarm_names[0],
            AlarmDescription=f"More than {TARGET_5XX_PERCENT:g} % of requests answered 5xx by the tasks "
            f"in {TARGET_5XX_DATAPOINTS} of the last {TARGET_5XX_PERIODS} minutes",
            ComparisonOperator="GreaterThanThreshold",
            Threshold=TARGET_5XX_PERCENT,
            EvaluationPeriods=TARGET_5XX_PERIODS,
            DatapointsToAlarm=TARGET_5XX_DATAPOINTS,
            TreatMissingData="notBreaching",
            Metrics=[
                {
                    "Id": "rate",
                    "Label": "Target 5xx, % of requests",
                    "Expression": "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)",
                    "ReturnData": True,
                },
                stat("errors", "HTTPCode_Target_5XX_Count"),
                stat("requests", "RequestCount"),
            ],
        )
        cloudwatch.put_metric_alarm(
            AlarmName=env.alarm_names[1],
            Namespace="AWS/ApplicationELB",
            MetricName="UnHealthyHostCount",
            Dimensions=[balancer, {"Name": "TargetGroup", "Value": target_group}],
            Statistic="Maximum",
            Period=ALARM_PERIOD_S,
            EvaluationPeriods=2,
            Threshold=0.0,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",
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
            # Kept by the sandbox's hook on create_service (moto itself drops it).
            deploymentConfiguration={
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
            },
        )
    return arn
