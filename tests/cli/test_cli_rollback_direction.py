"""`releasectl rollback --to` only goes back, as a user runs it: a subprocess against a moto server.

The service's history is made with the CLI itself (`deploy --no-wait`; moto does not roll out),
then the outcome tags deploy would have recorded are set where a scenario needs them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliResult, run_cli
from tests.support.ecr_fixtures import push_image
from tests.support.moto_fixtures import create_fargate_service

CLUSTER, SERVICE, REPO = "shop", "shop", "shop"
VERSIONS = ("0.1.0", "0.1.1", "0.1.2")


@pytest.fixture
def world(moto_endpoint: str, tmp_path: Path) -> dict[str, Any]:
    """ECR holding 0.1.0, 0.1.1 and 0.1.2 (released with --no-deploy); the service runs 0.1.0."""
    import boto3

    ecr = boto3.client("ecr", endpoint_url=moto_endpoint, region_name="us-east-1")
    ecs = boto3.client("ecs", endpoint_url=moto_endpoint, region_name="us-east-1")
    uri = ecr.create_repository(repositoryName=REPO)["repository"]["repositoryUri"]
    digests = {v: push_image(ecr, REPO, tags=[v, f"git-{n}" + "0" * 39]) for n, v in enumerate(VERSIONS, 1)}
    create_fargate_service(
        ecs,
        cluster=CLUSTER,
        service=SERVICE,
        image=f"{uri}@{digests['0.1.0']}",
        tags={"releasectl:version": "0.1.0", "releasectl:outcome": "succeeded"},
    )
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.releasectl]\necr_repository = "{REPO}"\necs_cluster = "{CLUSTER}"\n'
        f'ecs_service = "{SERVICE}"\ncontainer_name = "app"\n'
    )
    return {"ecs": ecs, "cwd": tmp_path, "env": {"AWS_ENDPOINT_URL": moto_endpoint}}


def cli(world: dict[str, Any], *args: str) -> CliResult:
    return run_cli(*args, cwd=world["cwd"], env=world["env"])


def state(world: dict[str, Any]) -> Any:
    ecs = world["ecs"]
    arns = ecs.list_task_definitions(familyPrefix="hello-world")["taskDefinitionArns"]
    tags = [ecs.describe_task_definition(taskDefinition=a, include=["TAGS"]).get("tags") for a in arns]
    service = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    return arns, tags, service["taskDefinition"], service["deployments"]


def deployed(world: dict[str, Any], version: str, *, outcome: str = "succeeded") -> str:
    """`releasectl deploy VERSION`, then the outcome a waiting deploy would have recorded."""
    result = cli(world, "--json", "deploy", version, "--no-wait")
    assert result.code == 0, result.stderr
    arn = str(json.loads(result.stdout)["task_definition"])
    world["ecs"].tag_resource(resourceArn=arn, tags=[{"key": "releasectl:outcome", "value": outcome}])
    return arn


def test_rollback_to_a_release_never_deployed_after_deploying_an_older_one_is_exit_4(
    world: dict[str, Any],
) -> None:
    deployed(world, "0.1.1")
    deployed(world, "0.1.0")
    before = state(world)

    result = cli(world, "rollback", "--to", "0.1.2", "--no-wait")

    assert result.code == 4, result.stdout + result.stderr
    assert "rollback: succeeded" not in result.stdout
    assert "releasectl deploy 0.1.2" in result.stderr
    assert state(world) == before


def test_rollback_to_a_version_newer_than_the_running_one_is_exit_4(world: dict[str, Any]) -> None:
    deployed(world, "0.1.1")
    deployed(world, "0.1.0")
    before = state(world)

    result = cli(world, "--json", "rollback", "--to", "0.1.1", "--no-wait")

    assert result.code == 4
    assert json.loads(result.stdout)["outcome"] == "error"
    assert "newer" in result.stderr and "releasectl deploy 0.1.1" in result.stderr
    assert state(world) == before


def test_rollback_to_a_rolled_back_version_needs_force_and_then_says_so(world: dict[str, Any]) -> None:
    bad = deployed(world, "0.1.1", outcome="rolled_back")
    deployed(world, "0.1.2")
    before = state(world)

    refused = cli(world, "rollback", "--to", "0.1.1", "--no-wait")
    assert refused.code == 4
    assert "rolled back" in refused.stderr and "--force" in refused.stderr
    assert state(world) == before

    forced = cli(world, "--json", "rollback", "--to", "0.1.1", "--no-wait", "--force")
    assert forced.code == 0, forced.stderr
    data = json.loads(forced.stdout)
    assert data["task_definition"] == bad
    assert data["forced"] is True and data["target_recorded_outcome"] == "rolled_back"
    assert "rolled_back" in data["message"] and "--force" in data["message"]
    assert "--force" in forced.stderr  # the warning people see
