"""`releasectl status` shows the deployment in flight: its stage and traffic split, from ECS."""

from __future__ import annotations

from typing import Any

from releasectl.commands.deploy import run_deploy
from releasectl.commands.status import read_status
from releasectl.core.view import Lines
from tests.support.scripted_deployments import CANARY, ScriptedServiceDeployments, at
from tests.support.scripted_ecs import REPO_URI, make_context, release


def api(fake: ScriptedServiceDeployments) -> Any:
    from releasectl.adapters.aws.ecs import EcsApi

    return EcsApi(fake, cluster=fake.cluster, service=fake.service_name)


def canary_at_ten_percent(**options: Any) -> ScriptedServiceDeployments:
    options.setdefault("sd_script", [at("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=10, test=100)])
    fake = ScriptedServiceDeployments(deployment_configuration=CANARY, **options)
    fake.start_service(fake.add_revision(tags={"releasectl:version": "1.1.0"}))
    run_deploy(
        make_context(),
        api(fake),
        [release("1.1.0", 1), release("1.2.0", 2)],
        version="1.2.0",
        timeout=None,
        wait=False,
        repository_uri=lambda: REPO_URI,
    )
    fake.calls.clear()
    return fake


def text_lines(view: Any) -> list[str]:
    return [
        line
        for block in view.text(width=200, unicode=False)
        if isinstance(block, Lines)
        for line in block.lines
    ]


def test_status_shows_the_stage_and_split_of_the_deployment_in_flight() -> None:
    fake = canary_at_ten_percent()
    view = read_status(api(fake), container_name="app")
    data = view.to_json()["service_deployment"]
    assert data["in_flight"] is True
    assert (data["status"], data["stage"], data["strategy"]) == (
        "IN_PROGRESS",
        "PRODUCTION_TRAFFIC_SHIFT",
        "CANARY",
    )
    assert data["traffic"] == {"new": 10.0, "old": 90.0}
    deploying = [line for line in text_lines(view) if line.startswith("deploying")]
    assert deploying == [
        "deploying sd0000000000000001 (canary) IN_PROGRESS PRODUCTION_TRAFFIC_SHIFT: "
        "traffic new 10% / old 90%, test traffic new 100% / old 0%, running 2/2"
    ]
    assert fake.operations() == [
        "describe_services",
        "describe_task_definition",
        "describe_service_deployments",
    ]


def test_status_after_the_deployment_shows_how_it_ended() -> None:
    fake = canary_at_ten_percent(sd_script=[at("ROLLBACK_SUCCESSFUL", new=0)])
    view = read_status(api(fake), container_name="app")
    assert view.to_json()["service_deployment"]["in_flight"] is False
    assert any(
        line.startswith("last      sd0000000000000001 (canary) ROLLBACK_SUCCESSFUL")
        for line in text_lines(view)
    )


def test_status_where_ecs_reports_no_service_deployments_stays_at_two_calls() -> None:
    fake = canary_at_ten_percent(api=False)
    view = read_status(api(fake), container_name="app")
    assert view.to_json()["service_deployment"] is None
    assert fake.operations() == ["describe_services", "describe_task_definition"]
