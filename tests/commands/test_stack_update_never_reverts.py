"""No stack update changes what the service runs (docs/design.md §9): the platform stack holds no ECS
service and no task definition, so `releasectl infra deploy`, succeeded or rolled back, leaves the
service on the revision and digest the last `releasectl deploy` gave it.

The service and its releases are on the moto server (`service_world`); CloudFormation is scripted,
and applies to that ECS what the template it was given says about services, as CloudFormation
would: a stack that owned the service would put its own task definition back, on an update and on
an update's rollback alike. The last test shows that happening, so the first one could fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from releasectl.adapters.aws.clients import AwsClients
from releasectl.commands import infra
from releasectl.commands.context import Context, RecordingReporter
from releasectl.core.clock import FakeClock
from releasectl.core.config import Config
from releasectl.core.result import Outcome
from tests.adapters.test_infra_changeset import ScriptedCloudFormation, event, stack_event
from tests.project.test_template import TEMPLATE, CfnLoader
from tests.support.scripted_ecs import task_definition_body
from tests.support.service_world import CLUSTER, SERVICE, ServiceWorld

pytestmark = pytest.mark.releases(
    {"0.1.0": ["0.1.0", "git-" + "1" * 40], "0.2.0": ["0.2.0", "git-" + "2" * 40]}, running="0.1.0"
)

# How the stack looked when it owned the service: its task definition ran ImageUri.
OWNING_TEMPLATE = f"""\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  ImageUri:
    Type: String
    Default: public.ecr.aws/docker/library/python:3.12-slim
  LogRetentionDays:
    Type: Number
    Default: 30
Resources:
  TaskDefinition:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: hello-world
      ContainerDefinitions: [{{Name: app, Image: !Ref ImageUri}}]
  Service:
    Type: AWS::ECS::Service
    Properties:
      Cluster: {CLUSTER}
      ServiceName: {SERVICE}
      TaskDefinition: !Ref TaskDefinition
"""
SUCCEEDS = [
    ("UPDATE_IN_PROGRESS", [stack_event(1, "UPDATE_IN_PROGRESS", "User Initiated")]),
    ("UPDATE_COMPLETE", [event(2, "AppLogGroup", "UPDATE_COMPLETE"), stack_event(3, "UPDATE_COMPLETE")]),
]
ROLLS_BACK = [
    ("UPDATE_IN_PROGRESS", [stack_event(11, "UPDATE_IN_PROGRESS", "User Initiated")]),
    (
        "UPDATE_ROLLBACK_IN_PROGRESS",
        [
            event(12, "HttpsListener", "CREATE_FAILED", "Certificate not found"),
            stack_event(
                13, "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed: [HttpsListener]"
            ),
        ],
    ),
    ("UPDATE_ROLLBACK_COMPLETE", [stack_event(14, "UPDATE_ROLLBACK_COMPLETE")]),
]


class ApplyingCloudFormation(ScriptedCloudFormation):
    """Scripted CloudFormation that, when a change set runs, applies the ECS services of its template
    to `ecs`; when the update rolls back, it applies them again with the stack's previous
    parameters, as CloudFormation's rollback restores the previous configuration."""

    def __init__(self, ecs: Any, s3: Any, template: str, steps: list[tuple[str, list[dict]]]) -> None:
        self.defaults_of = yaml.load(template, Loader=CfnLoader).get("Parameters") or {}  # SafeLoader
        super().__init__(
            declared=tuple(self.defaults_of),
            defaults={k: str(v.get("Default", "")) for k, v in self.defaults_of.items()},
            parameters={k: str(v.get("Default", "")) for k, v in self.defaults_of.items()},
            changes=[],
            steps=steps,
        )
        self.ecs, self.s3 = ecs, s3
        self.template_text = ""

    def create_change_set(self, **kwargs: Any) -> dict:
        if "TemplateURL" in kwargs:  # staged in S3: read it back as CloudFormation would
            bucket, key = kwargs["TemplateURL"].removeprefix("https://").split("/", 1)
            body = self.s3.get_object(Bucket=bucket.split(".")[0], Key=key)["Body"].read().decode()
        else:
            body = kwargs["TemplateBody"]
        self.template_text = body
        return super().create_change_set(**kwargs)

    def execute_change_set(self, **kwargs: Any) -> dict:
        previous = dict(self.parameters)
        given = {
            p["ParameterKey"]: p["ParameterValue"] for p in self.created_parameters if "ParameterValue" in p
        }
        self._apply({**previous, **given})
        if any(status == "UPDATE_ROLLBACK_COMPLETE" for status, _ in self.steps):
            self._apply(previous)
        else:
            self.parameters = {**previous, **given}
        return super().execute_change_set(**kwargs)

    def _apply(self, parameters: dict[str, str]) -> None:
        resources = yaml.load(self.template_text, Loader=CfnLoader)["Resources"]  # SafeLoader
        arns: dict[str, str] = {}

        def value(raw: Any) -> Any:
            if isinstance(raw, dict) and "Ref" in raw:
                return parameters.get(raw["Ref"]) or arns[raw["Ref"]]
            return raw

        for logical_id, resource in resources.items():
            if resource["Type"] == "AWS::ECS::TaskDefinition":
                (container,) = resource["Properties"]["ContainerDefinitions"]
                body = task_definition_body(
                    value(resource["Properties"]["Family"]), image=value(container["Image"])
                )
                arns[logical_id] = self.ecs.register_task_definition(**body)["taskDefinition"][
                    "taskDefinitionArn"
                ]
        for resource in resources.values():
            if resource["Type"] == "AWS::ECS::Service":
                properties = resource["Properties"]
                self.ecs.update_service(
                    cluster=value(properties["Cluster"]),
                    service=value(properties["ServiceName"]),
                    taskDefinition=value(properties["TaskDefinition"]),
                )


def running(world: ServiceWorld) -> tuple[str, str]:
    """The service's task definition revision and the image its app container runs."""
    (service,) = world.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    definition = world.ecs.describe_task_definition(taskDefinition=service["taskDefinition"])[
        "taskDefinition"
    ]
    (app,) = [c for c in definition["containerDefinitions"] if c["name"] == "app"]
    return service["taskDefinition"], app["image"]


def platform_context(world: ServiceWorld, cwd: Path, template: str, cfn: ScriptedCloudFormation) -> Context:
    """`releasectl infra` in a checkout holding `template`, its AWS calls (but CloudFormation's) on moto."""
    (cwd / "infra").mkdir(parents=True)
    (cwd / "infra" / "releasectl.yaml").write_text(template)
    clients = AwsClients(region="us-east-1", profile=None, endpoint_url=world.env["AWS_ENDPOINT_URL"])
    clients.set_client("cloudformation", cfn)
    return Context(
        config=Config(region="us-east-1"),
        cwd=cwd,
        reporter=RecordingReporter(),
        clock=FakeClock(),
        _aws=clients,
    )


def deployed_0_2_0(world: ServiceWorld) -> tuple[str, str]:
    ran = world.cli("deploy", "0.2.0", "--no-wait")
    assert ran.code == 0, ran.stderr
    now = running(world)
    assert now[1] == f"{world.uri}@{world.digests['0.2.0']}"
    return now


def test_stack_updates_that_succeed_or_roll_back_leave_the_deployed_revision_running(
    service_world: ServiceWorld, tmp_path: Path
) -> None:
    before = deployed_0_2_0(service_world)
    s3 = AwsClients(
        region="us-east-1", profile=None, endpoint_url=service_world.env["AWS_ENDPOINT_URL"]
    ).client("s3")
    template = TEMPLATE.read_text()
    ecs_calls: list[str] = []

    for steps, change in (
        (SUCCEEDS, "LogRetentionDays=60"),
        (ROLLS_BACK, "CertificateArn=arn:aws:acm:us-east-1:123456789012:certificate/gone"),
    ):
        cfn = ApplyingCloudFormation(service_world.ecs, s3, template, [*steps])
        ctx = platform_context(service_world, tmp_path / change.split("=")[0], template, cfn)
        ctx.aws.call_hooks.append(
            lambda service, operation: ecs_calls.append(operation) if service == "ecs" else None
        )

        result = infra.deploy(ctx, stack_name="hello-world-staging", parameters=[change])

        assert result.outcome is (Outcome.SUCCEEDED if steps is SUCCEEDS else Outcome.ROLLED_BACK)
        assert running(service_world) == before  # the same revision, on 0.2.0's digest
    assert ecs_calls == []  # `infra deploy` does not even look at the service


def test_a_stack_that_owned_the_service_would_put_its_own_image_back(
    service_world: ServiceWorld, tmp_path: Path
) -> None:
    before = deployed_0_2_0(service_world)
    cfn = ApplyingCloudFormation(service_world.ecs, None, OWNING_TEMPLATE, [*SUCCEEDS])
    ctx = platform_context(service_world, tmp_path, OWNING_TEMPLATE, cfn)

    infra.deploy(ctx, stack_name="hello-world-staging", parameters=["LogRetentionDays=60"])

    revision, image = running(service_world)
    assert revision != before[0]
    assert image == "public.ecr.aws/docker/library/python:3.12-slim"  # 0.2.0 reverted to the stack's image
