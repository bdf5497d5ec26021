"""Rolling deployments in the sandbox, as the service-deployments API reports them: each status the
ECS developer guide documents and the transitions between them, rollbacks with their reason and
the revision they return to, StopServiceDeployment, superseded deployments, bake time while the
alarms watch, and early success criteria.

One sandbox and one service (ROLLING) for the module; the tests run in file order and each leaves
the service steady. Everything is read back through boto3 on the sandbox's endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from releasectl_sandbox.sandbox import Sandbox, SandboxEnvironment
from tests.sandbox.deployments_support import (
    CLUSTER,
    SERVICE,
    Releases,
    Traffic,
    Watcher,
    configuration,
    create_service,
    describe,
    ecs,
    register,
    start_sandbox,
    steady,
    update,
    versions,
    wait_alarm_ok,
    wait_done,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with start_sandbox(tmp_path_factory.mktemp("rolling")) as running:
        yield running


@pytest.fixture(scope="module")
def env(sandbox: Sandbox) -> SandboxEnvironment:
    return sandbox.environment("staging")


@pytest.fixture(scope="module")
def releases(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Releases:
    healthy = ("1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0")
    return Releases.pushed(sandbox, tmp_path_factory.mktemp("releases"), healthy)


@pytest.fixture(scope="module")
def first(sandbox: Sandbox, env: SandboxEnvironment, releases: Releases) -> dict[str, Any]:
    """The service, rolling, on 1.0.0."""
    created = create_service(env, register(env, releases.images["1.0.0"]), configuration(env))
    steady(sandbox)
    return created


def running_version(env: SandboxEnvironment) -> set[tuple[int, str]]:
    return set(versions(env.alb_url, 4))


def service(env: SandboxEnvironment) -> dict[str, Any]:
    return dict(ecs(env).describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0])


def tasks(env: SandboxEnvironment, status: str) -> list[dict[str, Any]]:
    client = ecs(env)
    arns = client.list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus=status)["taskArns"]
    return list(client.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]) if arns else []


def stop_when(watcher: Watcher, stage: str) -> None:
    while not watcher.seen or watcher.seen[-1][1] != stage:
        assert watcher._thread.is_alive(), watcher.seen
        watcher._stop.wait(0.05)


# ----------------------------------------------------------------------------- success


def test_a_rolling_deployment_is_reported_from_pending_to_successful_with_its_revisions(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    previous = wait_done(env, first["currentServiceDeployment"])
    arn = update(env, register(env, releases.images["1.1.0"]))
    assert describe(env, arn)["status"] in ("PENDING", "IN_PROGRESS")
    with Watcher(env, arn) as watcher:
        found = watcher.wait()
    steady(sandbox)
    assert watcher.statuses[-2:] == ["IN_PROGRESS", "SUCCESSFUL"]
    assert found["startedAt"] >= found["createdAt"] and found["finishedAt"] >= found["startedAt"]
    assert "stoppedAt" not in found and "rollback" not in found
    assert [r["arn"] for r in found["sourceServiceRevisions"]] == [previous["targetServiceRevision"]["arn"]]
    target = found["targetServiceRevision"]
    assert (target["requestedTaskCount"], target["runningTaskCount"], target["pendingTaskCount"]) == (2, 2, 0)
    assert target["requestedProductionTrafficWeight"] == 100.0
    assert found["deploymentCircuitBreaker"] == {
        "status": "MONITORING_COMPLETE",
        "failureCount": 0,
        "threshold": 2,
    }
    assert found["alarms"]["status"] == "MONITORING_COMPLETE"
    assert service(env)["currentServiceDeployment"] == arn
    (revision,) = ecs(env).describe_service_revisions(serviceRevisionArns=[target["arn"]])["serviceRevisions"]
    assert revision["containerImages"][0]["imageDigest"] == releases.digests["1.1.0"]
    assert revision["taskDefinition"] == service(env)["taskDefinition"]
    listed = ecs(env).list_service_deployments(cluster=CLUSTER, service=SERVICE)["serviceDeployments"]
    assert [(d["serviceDeploymentArn"], d["status"]) for d in listed] == [
        (arn, "SUCCESSFUL"),
        (first["currentServiceDeployment"], "SUCCESSFUL"),
    ]
    assert running_version(env) == {(200, "1.1.0")}


def test_list_service_deployments_filters_by_status_and_creation_time_and_pages(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    client = ecs(env)
    cut = datetime.now().astimezone()
    time.sleep(0.05)
    arn = update(env, register(env, releases.images["1.2.0"]))
    wait_done(env, arn)
    steady(sandbox)
    newer = client.list_service_deployments(cluster=CLUSTER, service=SERVICE, createdAt={"after": cut})
    assert [d["serviceDeploymentArn"] for d in newer["serviceDeployments"]] == [arn]
    older = client.list_service_deployments(cluster=CLUSTER, service=SERVICE, createdAt={"before": cut})
    assert arn not in [d["serviceDeploymentArn"] for d in older["serviceDeployments"]]
    assert len(older["serviceDeployments"]) == 2
    none = client.list_service_deployments(cluster=CLUSTER, service=SERVICE, status=["ROLLBACK_FAILED"])
    assert none["serviceDeployments"] == []
    page = client.list_service_deployments(
        cluster=f"arn:aws:ecs:us-east-1:123456789012:cluster/{CLUSTER}", service=SERVICE, maxResults=2
    )
    rest = client.list_service_deployments(
        cluster=CLUSTER, service=SERVICE, maxResults=2, nextToken=page["nextToken"]
    )
    assert (
        len(page["serviceDeployments"]) == 2
        and len(rest["serviceDeployments"]) == 1
        and "nextToken" not in rest
    )
    with pytest.raises(client.exceptions.ServiceNotFoundException):
        client.list_service_deployments(cluster=CLUSTER, service="nothing")


def test_a_rolling_deployment_watched_by_alarms_bakes_before_it_completes(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    arn = update(env, register(env, releases.images["1.3.0"]), configuration(env, bakeTimeInMinutes=2))
    with Watcher(env, arn) as watcher:
        found = watcher.wait()
    steady(sandbox)
    assert found["status"] == "SUCCESSFUL", found
    assert watcher.stages[-1] == "BAKE_TIME" or "BAKE_TIME" in watcher.stages, watcher.stages
    assert watcher.stages[0] == "SCALE_UP"
    assert (found["finishedAt"] - found["startedAt"]).total_seconds() >= 2.0


# ----------------------------------------------------------------------------- rollbacks and stops


def test_the_circuit_breaker_rolls_back_and_the_service_deployment_says_why_and_to_what(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    good = service(env)["taskDefinition"]
    source = describe(env, service(env)["currentServiceDeployment"])["targetServiceRevision"]["arn"]
    arn = update(env, register(env, releases.images["3.0.0"]), configuration(env))
    with Watcher(env, arn) as watcher:
        found = watcher.wait()
    steady(sandbox)
    assert found["status"] == "ROLLBACK_SUCCESSFUL", found
    assert watcher.statuses[-2:] == ["ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    assert "IN_PROGRESS" in watcher.statuses
    assert found["statusReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert found["rollback"]["reason"] == found["statusReason"]
    assert found["rollback"]["serviceRevisionArn"] == source
    assert found["rollback"]["startedAt"] <= found["finishedAt"]
    breaker = found["deploymentCircuitBreaker"]
    assert breaker["status"] == "TRIGGERED" and breaker["failureCount"] >= breaker["threshold"] == 2
    assert service(env)["taskDefinition"] == good
    assert running_version(env) == {(200, "1.3.0")}


def test_a_tripped_circuit_breaker_without_rollback_stops_the_deployment(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    no_rollback = configuration(env, deploymentCircuitBreaker={"enable": True, "rollback": False})
    arn = update(env, register(env, releases.images["3.0.0"]), no_rollback)
    found = wait_done(env, arn)
    assert found["status"] == "STOPPED", found
    assert found["stoppedAt"] == found["finishedAt"] and "rollback" not in found
    assert found["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    # The old tasks were never replaced; the next deployment moves on from here.
    assert running_version(env) == {(200, "1.3.0")}
    recovered = update(env, register(env, releases.images["1.3.0"]), configuration(env))
    assert wait_done(env, recovered)["status"] == "SUCCESSFUL"
    steady(sandbox)


def test_stop_service_deployment_with_rollback_returns_a_rolling_deployment_to_the_source_revision(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    good = service(env)["taskDefinition"]
    arn = update(env, register(env, releases.images["1.4.0"]), configuration(env, bakeTimeInMinutes=60))
    with Watcher(env, arn) as watcher:
        stop_when(watcher, "BAKE_TIME")
        ecs(env).stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
        found = watcher.wait()
    steady(sandbox)
    assert found["status"] == "ROLLBACK_SUCCESSFUL", found
    assert watcher.statuses[-3:] in (
        ["ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"],
        ["IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"],
    )
    assert "StopServiceDeployment" in found["rollback"]["reason"]
    assert service(env)["taskDefinition"] == good
    assert running_version(env) == {(200, "1.3.0")}


def test_stop_service_deployment_with_abort_stops_a_rolling_deployment_where_it_stands(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    arn = update(env, register(env, releases.images["1.4.0"]), configuration(env, bakeTimeInMinutes=60))
    with Watcher(env, arn) as watcher:
        stop_when(watcher, "BAKE_TIME")
        ecs(env).stop_service_deployment(serviceDeploymentArn=arn, stopType="ABORT")
        found = watcher.wait()
    assert found["status"] == "STOPPED", found
    assert watcher.statuses[-2:] in (["STOP_REQUESTED", "STOPPED"], ["IN_PROGRESS", "STOPPED"])
    assert "ABORT" in found["statusReason"] and "rollback" not in found
    # Nothing more happens: the new revision's tasks stay, the service is not rolled back.
    assert running_version(env) == {(200, "1.4.0")}
    recovered = update(env, register(env, releases.images["1.3.0"]), configuration(env))
    assert wait_done(env, recovered)["status"] == "SUCCESSFUL"
    steady(sandbox)


def test_stopping_a_finished_deployment_is_a_conflict_and_an_unknown_one_is_not_found(
    env: SandboxEnvironment, first: dict[str, Any]
) -> None:
    client = ecs(env)
    with pytest.raises(client.exceptions.ConflictException, match="SUCCESSFUL"):
        client.stop_service_deployment(
            serviceDeploymentArn=first["currentServiceDeployment"], stopType="ROLLBACK"
        )
    unknown = first["currentServiceDeployment"].rsplit("/", 1)[0] + "/nosuchdeployment"
    with pytest.raises(client.exceptions.ServiceDeploymentNotFoundException):
        client.stop_service_deployment(serviceDeploymentArn=unknown)
    found = client.describe_service_deployments(serviceDeploymentArns=[unknown])
    assert found == {**found, "serviceDeployments": [], "failures": [{"arn": unknown, "reason": "MISSING"}]}


def test_a_newer_deployment_supersedes_one_in_progress_which_stops(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    older = update(env, register(env, releases.images["1.4.0"]), configuration(env, bakeTimeInMinutes=60))
    with Watcher(env, older) as watcher:
        stop_when(watcher, "BAKE_TIME")
        newer = update(env, register(env, releases.images["1.2.0"]), configuration(env))
        superseded = watcher.wait()
    found = wait_done(env, newer)
    steady(sandbox)
    assert watcher.statuses[-2:] == ["STOP_REQUESTED", "STOPPED"] or watcher.statuses[-1] == "STOPPED"
    assert superseded["status"] == "STOPPED" and newer in superseded["statusReason"]
    assert found["status"] == "SUCCESSFUL"
    assert running_version(env) == {(200, "1.2.0")}


def test_an_alarm_in_alarm_during_the_bake_time_rolls_a_rolling_deployment_back(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    with Traffic(env.alb_url):
        arn = update(env, register(env, releases.images["2.0.0"]), configuration(env, bakeTimeInMinutes=30))
        found = wait_done(env, arn)
        steady(sandbox)
    wait_alarm_ok(env)
    assert found["status"] == "ROLLBACK_SUCCESSFUL", found
    assert found["alarms"]["status"] == "TRIGGERED"
    assert found["alarms"]["triggeredAlarmNames"] == [env.outputs["Target5xxAlarm"]]
    assert (
        found["rollback"]["reason"] == f"CloudWatch alarm(s) {env.outputs['Target5xxAlarm']} in ALARM state."
    )
    assert found["lifecycleStage"] == "BAKE_TIME"
    assert running_version(env) == {(200, "1.2.0")}


# ----------------------------------------------------------------------------- early success


@pytest.mark.parametrize("cleanup", ["DEFERRED", "BLOCKING"])
def test_early_success_criteria_complete_a_deployment_with_part_of_its_tasks_healthy(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any], cleanup: str
) -> None:
    # 50/100 %: one old task goes, one new one starts, and so on; the first new one healthy is 50 %.
    early = configuration(
        env,
        minimumHealthyPercent=50,
        maximumPercent=100,
        earlySuccessCriteria={"enable": True, "healthyPercent": 50, "sourceServiceRevisionCleanup": cleanup},
    )
    version = "1.3.0" if cleanup == "DEFERRED" else "1.4.0"
    arn = update(env, register(env, releases.images[version]), early)
    found = wait_done(env, arn)
    steady(sandbox)
    assert found["status"] == "SUCCESSFUL", found
    reason = "Service deployment completed by its early success criteria: {} of 2 tasks healthy."
    if cleanup == "DEFERRED":
        # One of the two new tasks ran when it ended; ECS scaled the rest outside the deployment.
        assert found["statusReason"] == reason.format(1)
        assert found["targetServiceRevision"]["runningTaskCount"] == 1
    else:
        assert found["statusReason"] in (reason.format(1), reason.format(2))
    assert running_version(env) == {(200, version)}
    source = found["sourceServiceRevisions"][0]["arn"]
    (revision,) = ecs(env).describe_service_revisions(serviceRevisionArns=[source])["serviceRevisions"]
    replaced = [t for t in tasks(env, "STOPPED") if t["taskDefinitionArn"] == revision["taskDefinition"]]
    last_stop = max(t["stoppedAt"] for t in replaced)
    if cleanup == "BLOCKING":
        assert last_stop <= found["finishedAt"], "BLOCKING: the source tasks are gone before success"
    else:
        assert last_stop > found["finishedAt"], "DEFERRED: the source tasks go after success"


def test_a_rollback_that_cannot_start_the_source_revision_is_rollback_failed(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any], tmp_path: Path
) -> None:
    flag = tmp_path / "may-start"
    flag.touch()
    # Starts only while the flag exists: once it is gone, the rollback's new tasks exit 3.
    fragile = register(
        env,
        releases.images["1.1.0"],
        command=[
            "python",
            "-c",
            f"import os, runpy, sys; os.path.exists({str(flag)!r}) or sys.exit(3); "
            "sys.argv = ['service/hello_world.py']; "
            "runpy.run_path('service/hello_world.py', run_name='__main__')",
        ],
    )
    assert wait_done(env, update(env, fragile, configuration(env)))["status"] == "SUCCESSFUL"
    steady(sandbox)
    flag.unlink()
    arn = update(env, register(env, releases.images["3.0.0"]), configuration(env))
    found = wait_done(env, arn)
    assert found["status"] == "ROLLBACK_FAILED", found
    assert found["statusReason"].startswith("The rollback failed: ECS deployment circuit breaker")
    assert "Manual action is needed" in found["statusReason"]
    assert found["finishedAt"] >= found["rollback"]["startedAt"]
    # The tasks that ran before the rollback still answer.
    assert running_version(env) == {(200, "1.1.0")}
    flag.touch()
    recovered = update(env, register(env, releases.images["1.2.0"]), configuration(env))
    assert wait_done(env, recovered)["status"] == "SUCCESSFUL"
    steady(sandbox)
