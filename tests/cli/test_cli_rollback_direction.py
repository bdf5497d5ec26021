"""`releasectl rollback --to` only goes back, through the CLI against a moto server (`service_world`).

The service's history is made with the CLI itself (`deploy --no-wait`; moto does not roll out),
then the outcome tags deploy would have recorded are set where a scenario needs them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.service_world import CLUSTER, SERVICE, ServiceWorld

VERSIONS = ("0.1.0", "0.1.1", "0.1.2")
# ECR holding 0.1.0, 0.1.1 and 0.1.2 (released with --no-deploy); the service runs 0.1.0.
pytestmark = pytest.mark.releases(
    {v: [v, f"git-{n}" + "0" * 39] for n, v in enumerate(VERSIONS, 1)}, running="0.1.0"
)


def state(service_world: ServiceWorld) -> Any:
    ecs = service_world.ecs
    arns = ecs.list_task_definitions(familyPrefix="hello-world")["taskDefinitionArns"]
    tags = [ecs.describe_task_definition(taskDefinition=a, include=["TAGS"]).get("tags") for a in arns]
    service = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    return arns, tags, service["taskDefinition"], service["deployments"]


def deployed(service_world: ServiceWorld, version: str, *, outcome: str = "succeeded") -> str:
    """`releasectl deploy VERSION`, then the outcome a waiting deploy would have recorded."""
    result = service_world.cli("--json", "deploy", version, "--no-wait")
    assert result.code == 0, result.stderr
    arn = str(json.loads(result.stdout)["task_definition"])
    service_world.ecs.tag_resource(resourceArn=arn, tags=[{"key": "releasectl:outcome", "value": outcome}])
    return arn


def test_rollback_to_a_release_never_deployed_after_deploying_an_older_one_is_exit_4(
    service_world: ServiceWorld,
) -> None:
    deployed(service_world, "0.1.1")
    deployed(service_world, "0.1.0")
    before = state(service_world)

    result = service_world.cli("rollback", "--to", "0.1.2", "--no-wait")

    assert result.code == 4, result.stdout + result.stderr
    assert "rollback: succeeded" not in result.stdout
    assert "releasectl deploy 0.1.2" in result.stderr
    assert state(service_world) == before


def test_rollback_to_a_version_newer_than_the_running_one_is_exit_4(service_world: ServiceWorld) -> None:
    deployed(service_world, "0.1.1")
    deployed(service_world, "0.1.0")
    before = state(service_world)

    result = service_world.cli("--json", "rollback", "--to", "0.1.1", "--no-wait")

    assert result.code == 4
    assert json.loads(result.stdout)["outcome"] == "error"
    assert "newer" in result.stderr and "releasectl deploy 0.1.1" in result.stderr
    assert state(service_world) == before


def test_rollback_to_a_rolled_back_version_needs_force_and_then_says_so(service_world: ServiceWorld) -> None:
    bad = deployed(service_world, "0.1.1", outcome="rolled_back")
    deployed(service_world, "0.1.2")
    before = state(service_world)

    refused = service_world.cli("rollback", "--to", "0.1.1", "--no-wait")
    assert refused.code == 4
    assert "rolled back" in refused.stderr and "--force" in refused.stderr
    assert state(service_world) == before

    forced = service_world.cli("--json", "rollback", "--to", "0.1.1", "--no-wait", "--force")
    assert forced.code == 0, forced.stderr
    data = json.loads(forced.stdout)
    assert data["task_definition"] == bad
    assert data["forced"] is True and data["target_recorded_outcome"] == "rolled_back"
    assert "rolled_back" in data["message"] and "--force" in data["message"]
    assert "--force" in forced.stderr  # the warning people see
