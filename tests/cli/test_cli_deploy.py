"""`releasectl deploy/rollback/status` in a subprocess against a moto server, state checked with boto3.

moto does not roll out, so deploys run with --no-wait; what is checked is what ECS was told.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.support.ecr_fixtures import push_image
from tests.support.moto_fixtures import create_fargate_service
from tests.support.scripted_ecs import task_definition_body

CLUSTER, SERVICE, REPO = "web", "hello-world", "hello-world"
COMMITS = {"1.1.0": "1" * 40, "1.2.0": "2" * 40}


@pytest.fixture
def world(moto_endpoint: str, tmp_path: Path) -> dict[str, Any]:
    """ECR holding 1.1.0 and 1.2.0, and a service running 1.1.0 by digest with a sidecar."""
    import boto3

    ecr = boto3.client("ecr", endpoint_url=moto_endpoint, region_name="us-east-1")
    ecs = boto3.client("ecs", endpoint_url=moto_endpoint, region_name="us-east-1")
    uri = ecr.create_repository(repositoryName=REPO)["repository"]["repositoryUri"]
    digests = {
        version: push_image(ecr, REPO, tags=[version, f"git-{commit}"]) for version, commit in COMMITS.items()
    }
    first = create_fargate_service(
        ecs,
        cluster=CLUSTER,
        service=SERVICE,
        image=f"{uri}@{digests['1.1.0']}",
        tags={"releasectl:version": "1.1.0", "releasectl:outcome": "succeeded"},
    )
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.releasectl]\necr_repository = "{REPO}"\necs_cluster = "{CLUSTER}"\n'
        f'ecs_service = "{SERVICE}"\ncontainer_name = "app"\n'
    )
    return {
        "ecr": ecr,
        "ecs": ecs,
        "uri": uri,
        "digests": digests,
        "first": first,
        "cwd": tmp_path,
        "env": {"AWS_ENDPOINT_URL": moto_endpoint},
    }


def cli(world: dict[str, Any], *args: str, **env: str) -> Any:
    return run_cli(*args, cwd=world["cwd"], env={**world["env"], **env})


def service_td(world: dict[str, Any]) -> str:
    return str(
        world["ecs"].describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["taskDefinition"]
    )


def state(world: dict[str, Any]) -> Any:
    ecs = world["ecs"]
    return (
        ecs.list_task_definitions(familyPrefix="hello-world")["taskDefinitionArns"],
        service_td(world),
        ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["deployments"],
    )


def test_deploy_no_wait_points_the_service_at_the_image_digest(world: dict[str, Any]) -> None:
    result = cli(world, "--json", "deploy", "1.2.0", "--no-wait")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    expected = f"{world['uri']}@{world['digests']['1.2.0']}"
    assert data["outcome"] == "succeeded"
    assert data["command"] == "deploy"
    assert data["image"] == {"repository": REPO, "digest": world["digests"]["1.2.0"], "uri": expected}
    assert data["service"] == SERVICE
    assert data["verified"] is False
    assert set(data) >= {"task_definition", "deployment_id", "duration_s", "message", "version"}
    now = service_td(world)
    assert data["task_definition"] == now
    containers = world["ecs"].describe_task_definition(taskDefinition=now)["taskDefinition"][
        "containerDefinitions"
    ]
    assert containers[0]["image"] == expected
    assert containers[1]["image"] == task_definition_body()["containerDefinitions"][1]["image"]


def test_deploy_of_an_unknown_version_is_exit_4_and_changes_nothing(world: dict[str, Any]) -> None:
    before = state(world)
    result = cli(world, "--json", "deploy", "9.9.9", "--no-wait")
    assert result.code == 4
    assert "9.9.9" in result.stderr
    assert json.loads(result.stdout)["outcome"] == "error"
    assert state(world) == before


def test_deploy_to_a_missing_service_is_exit_4_and_changes_nothing(world: dict[str, Any]) -> None:
    before = state(world)
    result = cli(world, "deploy", "1.2.0", "--no-wait", RELEASECTL_ECS_SERVICE="no-such-service")
    assert result.code == 4
    assert "no-such-service" in result.stderr
    assert result.stderr.count("\n") == 1  # one line, no traceback
    assert state(world) == before


def test_deploy_of_a_malformed_version_is_exit_2_and_changes_nothing(world: dict[str, Any]) -> None:
    before = state(world)
    result = cli(world, "deploy", "1.2", "--no-wait")
    assert result.code == 2
    assert "1.2" in result.stderr
    assert state(world) == before


def test_rollback_to_reuses_the_revision_that_ran_that_digest(world: dict[str, Any]) -> None:
    assert cli(world, "deploy", "1.2.0", "--no-wait").code == 0
    result = cli(world, "--json", "rollback", "--to", "1.1.0", "--no-wait")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["command"] == "rollback"
    assert data["task_definition"] == world["first"]
    assert service_td(world) == world["first"]


def test_status_reports_the_running_version_and_digest(world: dict[str, Any]) -> None:
    assert cli(world, "deploy", "1.2.0", "--no-wait").code == 0
    result = cli(world, "--json", "status")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["version"] == "1.2.0"
    assert data["digest"] == world["digests"]["1.2.0"]
    assert data["task_definition"] == service_td(world)
    assert data["desired"] == 1
    assert isinstance(data["deployments"], list) and data["deployments"]
    assert "rollout_state" in data and "events" in data


def test_status_prints_a_table_for_people(world: dict[str, Any]) -> None:
    result = cli(world, "status")
    assert result.code == 0, result.stderr
    assert "1.1.0" in result.stdout
    assert "Deployments" in result.stdout


def test_status_of_a_missing_service_is_exit_4(world: dict[str, Any]) -> None:
    result = cli(world, "status", RELEASECTL_ECS_SERVICE="no-such-service")
    assert result.code == 4
    assert "no-such-service" in result.stderr
