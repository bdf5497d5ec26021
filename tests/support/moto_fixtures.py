"""Resources the tests create in moto (in-process or the server), made the same way everywhere."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from releasectl.commands.context import Context, RecordingReporter
from releasectl.core.clock import FakeClock
from releasectl.core.config import Config
from tests.support.scripted_ecs import task_definition_body

CODEBUILD_PROJECT = "hello-world-release"


def create_codebuild_project(client: Any, name: str = CODEBUILD_PROJECT) -> None:
    """A CodeBuild project as `releasectl infra` would create it (moto runs nothing in it)."""
    client.create_project(
        name=name,
        source={"type": "GITHUB", "location": "https://github.com/example/hello-world.git"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole="arn:aws:iam::123456789012:role/service-role/codebuild-hello-world",
    )


def create_fargate_service(
    ecs: Any, *, cluster: str, service: str, image: str, tags: dict[str, str] | None = None, **options: Any
) -> str:
    """A cluster whose `service` runs one FARGATE task of a new revision of task_definition_body(image),
    registered with `tags`; returns that revision's ARN. `options` go to create_service."""
    ecs.create_cluster(clusterName=cluster)
    body = task_definition_body(image=image)
    if tags:
        body["tags"] = [{"key": key, "value": value} for key, value in tags.items()]
    arn = str(ecs.register_task_definition(**body)["taskDefinition"]["taskDefinitionArn"])
    ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=arn,
        desiredCount=1,
        launchType="FARGATE",
        **options,
    )
    return arn


def put_log_lines(client: Any, group: str, stream: str, lines: Sequence[str]) -> None:
    """Create the log group and stream and write `lines` into it, one event each, in order."""
    # CloudWatch (and moto) reject events older than the retention window, so stamp them now.
    now_ms = int(time.time() * 1000)
    client.create_log_group(logGroupName=group)
    client.create_log_stream(logGroupName=group, logStreamName=stream)
    client.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now_ms + i, "message": line + "\n"} for i, line in enumerate(lines)],
    )


@contextmanager
def infra_context(cwd: Path, template: str) -> Iterator[Context]:
    """In-process moto and a Context whose project holds `template` as infra/releasectl.yaml."""
    from moto import mock_aws

    (cwd / "infra").mkdir()
    (cwd / "infra" / "releasectl.yaml").write_text(template)
    with mock_aws():
        yield Context(
            config=Config(region="us-east-1"), cwd=cwd, reporter=RecordingReporter(), clock=FakeClock()
        )
