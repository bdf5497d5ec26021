"""`releasectl deploy/rollback/status` against a moto server (`service_world`), state checked with boto3.

moto does not roll out, so deploys run with --no-wait; what is checked is what ECS was told.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.scripted_ecs import task_definition_body
from tests.support.service_world import CLUSTER, SERVICE, ServiceWorld
from tests.support.service_world import REPOSITORY as REPO


def service_td(service_world: ServiceWorld) -> str:
    services = service_world.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    return str(services[0]["taskDefinition"])


def state(service_world: ServiceWorld) -> Any:
    ecs = service_world.ecs
    return (
        ecs.list_task_definitions(familyPrefix="hello-world")["taskDefinitionArns"],
        service_td(service_world),
        ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["deployments"],
    )


def test_deploy_no_wait_points_the_service_at_the_image_digest(service_world: ServiceWorld) -> None:
    result = service_world.cli("--json", "deploy", "1.2.0", "--no-wait")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    expected = f"{service_world.uri}@{service_world.digests['1.2.0']}"
    assert data["outcome"] == "succeeded"
    assert data["command"] == "deploy"
    assert data["image"] == {"repository": REPO, "digest": service_world.digests["1.2.0"], "uri": expected}
    assert data["service"] == SERVICE
    assert data["verified"] is False
    assert set(data) >= {"task_definition", "deployment_id", "duration_s", "message", "version"}
    now = service_td(service_world)
    assert data["task_definition"] == now
    containers = service_world.ecs.describe_task_definition(taskDefinition=now)["taskDefinition"][
        "containerDefinitions"
    ]
    assert containers[0]["image"] == expected
    assert containers[1]["image"] == task_definition_body()["containerDefinitions"][1]["image"]


def test_deploy_of_an_unknown_version_is_exit_4_and_changes_nothing(service_world: ServiceWorld) -> None:
    before = state(service_world)
    result = service_world.cli("--json", "deploy", "9.9.9", "--no-wait")
    assert result.code == 4
    assert "9.9.9" in result.stderr
    assert json.loads(result.stdout)["outcome"] == "error"
    assert state(service_world) == before


def test_deploy_to_a_missing_service_is_exit_4_and_changes_nothing(service_world: ServiceWorld) -> None:
    before = state(service_world)
    result = service_world.cli("deploy", "1.2.0", "--no-wait", RELEASECTL_ECS_SERVICE="no-such-service")
    assert result.code == 4
    assert "no-such-service" in result.stderr
    assert result.stderr.count("\n") == 1  # one line, no traceback
    assert state(service_world) == before


def test_deploy_of_a_malformed_version_is_exit_2_and_changes_nothing(service_world: ServiceWorld) -> None:
    before = state(service_world)
    result = service_world.cli("deploy", "1.2", "--no-wait")
    assert result.code == 2
    assert "1.2" in result.stderr
    assert state(service_world) == before


def test_rollback_to_reuses_the_revision_that_ran_that_digest(service_world: ServiceWorld) -> None:
    assert service_world.cli("deploy", "1.2.0", "--no-wait").code == 0
    result = service_world.cli("--json", "rollback", "--to", "1.1.0", "--no-wait")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["command"] == "rollback"
    assert data["task_definition"] == service_world.first
    assert service_td(service_world) == service_world.first


def test_status_reports_the_running_version_and_digest(service_world: ServiceWorld) -> None:
    assert service_world.cli("deploy", "1.2.0", "--no-wait").code == 0
    result = service_world.cli("--json", "status")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["version"] == "1.2.0"
    assert data["digest"] == service_world.digests["1.2.0"]
    assert data["task_definition"] == service_td(service_world)
    assert data["desired"] == 1
    assert isinstance(data["deployments"], list) and data["deployments"]
    assert "rollout_state" in data and "events" in data


def test_status_prints_a_table_for_people(service_world: ServiceWorld) -> None:
    result = service_world.cli("status")
    assert result.code == 0, result.stderr
    assert "1.1.0" in result.stdout
    assert "Deployments" in result.stdout


def test_status_of_a_missing_service_is_exit_4(service_world: ServiceWorld) -> None:
    result = service_world.cli("status", RELEASECTL_ECS_SERVICE="no-such-service")
    assert result.code == 4
    assert "no-such-service" in result.stderr
