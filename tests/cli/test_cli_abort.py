"""`releasectl abort` and `deploy --strategy` through the CLI, against a moto server (`service_world`).

moto has no service-deployments API, so what is checked here is the refusals: they are one line,
the right exit code, and change nothing.
"""

from __future__ import annotations

import json

from tests.support.service_world import CLUSTER, SERVICE, ServiceWorld


def deployments(service_world: ServiceWorld) -> object:
    return service_world.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0][
        "deployments"
    ]


def test_abort_where_ecs_reports_no_service_deployments_is_exit_4_in_json(
    service_world: ServiceWorld,
) -> None:
    before = deployments(service_world)
    result = service_world.cli("--json", "abort")
    assert result.code == 4, result.stderr
    data = json.loads(result.stdout)
    assert data["outcome"] == "error" and data["exit_code"] == 4
    assert "does not report service deployments" in data["message"]
    assert deployments(service_world) == before


def test_deploy_with_an_unknown_strategy_is_exit_2_before_any_aws_call(service_world: ServiceWorld) -> None:
    result = service_world.cli("deploy", "1.2.0", "--strategy", "big-bang", "--no-wait")
    assert result.code == 2
    assert "--strategy 'big-bang' is not a deployment strategy" in result.stderr


def test_deploy_canary_on_a_service_without_blue_green_load_balancing_is_exit_4(
    service_world: ServiceWorld,
) -> None:
    before = deployments(service_world)
    result = service_world.cli("deploy", "1.2.0", "--strategy", "canary", "--no-wait")
    assert result.code == 4, result.stderr
    assert "cannot be deployed CANARY" in result.stderr
    assert deployments(service_world) == before


def test_abort_help_lists_its_exit_codes(service_world: ServiceWorld) -> None:
    result = service_world.cli("abort", "--help")
    assert result.code == 0
    assert "--any" in result.stdout and "nothing in flight" in result.stdout
