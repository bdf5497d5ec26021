"""Blue/green, canary and linear deployments in the sandbox: the lifecycle stages in the order the
ECS developer guide gives them, the production listener rule's weights moving between the two
target groups (and the sandbox's load balancer following them), the test listener on its own
port, bake times, and the rollbacks: the 5xx alarm, the circuit breaker, StopServiceDeployment.

One sandbox and one service for the module; the tests run in file order and each leaves the
service steady with its 5xx alarm OK. Everything is read back through boto3 on the sandbox's
endpoint and through the environment's load balancer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from releasectl_sandbox.sandbox import Sandbox, SandboxEnvironment
from tests.sandbox.deployments_support import (
    CLUSTER,
    SERVICE,
    Releases,
    Traffic,
    Watcher,
    alarm_states,
    configuration,
    create_service,
    ecs,
    load_balancers,
    register,
    rule_weights,
    start_sandbox,
    steady,
    update,
    versions,
    wait_alarm_ok,
    wait_done,
)

pytestmark = pytest.mark.e2e

STAGES = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with start_sandbox(tmp_path_factory.mktemp("progressive")) as running:
        yield running


@pytest.fixture(scope="module")
def env(sandbox: Sandbox) -> SandboxEnvironment:
    return sandbox.environment("staging")


@pytest.fixture(scope="module")
def releases(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Releases:
    healthy = ("1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0")
    return Releases.pushed(sandbox, tmp_path_factory.mktemp("releases"), healthy)


@pytest.fixture(scope="module")
def first(sandbox: Sandbox, env: SandboxEnvironment, releases: Releases) -> dict[str, Any]:
    """The service, created with the blue/green strategy on 1.0.0."""
    created = create_service(
        env,
        register(env, releases.images["1.0.0"]),
        configuration(env, strategy="BLUE_GREEN", bakeTimeInMinutes=0),
    )
    steady(sandbox)
    return created


def in_order(seen: list[str]) -> bool:
    """The stages seen are the documented ones, in the documented order (a poller may miss a
    stage that lasts one scheduler pass)."""
    positions = [STAGES.index(stage) for stage in seen]
    return positions == sorted(positions)


def source_revision(env: SandboxEnvironment) -> str:
    """The revision the service runs: the target of its newest successful service deployment."""
    found = ecs(env).list_service_deployments(cluster=CLUSTER, service=SERVICE, status=["SUCCESSFUL"])
    return str(found["serviceDeployments"][0]["targetServiceRevisionArn"])


# ----------------------------------------------------------------------------- refusals


def test_create_service_answers_with_its_first_service_deployment_which_succeeds(
    env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    found = wait_done(env, first["currentServiceDeployment"])
    assert found["status"] == "SUCCESSFUL"
    assert found["sourceServiceRevisions"] == []
    assert found["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    (revision,) = ecs(env).describe_service_revisions(
        serviceRevisionArns=[found["targetServiceRevision"]["arn"]]
    )["serviceRevisions"]
    assert revision["containerImages"] == [
        {"containerName": "app", "image": releases.images["1.0.0"], "imageDigest": releases.digests["1.0.0"]}
    ]
    assert revision["loadBalancers"] == load_balancers(env)
    assert versions(env.alb_url, 4) == {(200, "1.0.0"): 4}
    # Between deployments the test listener serves what production serves.
    assert versions(env.test_url, 4) == {(200, "1.0.0"): 4}


def test_a_strategy_the_load_balancer_setup_cannot_support_is_refused_and_changes_nothing(
    env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    client = ecs(env)
    before = client.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    with pytest.raises(client.exceptions.InvalidParameterException, match="alternateTargetGroupArn"):
        client.update_service(
            cluster=CLUSTER,
            service=SERVICE,
            taskDefinition=register(env, releases.images["1.1.0"]),
            loadBalancers=load_balancers(env, advanced=False),
            deploymentConfiguration=configuration(env, strategy="CANARY"),
        )
    for wrong, message in (
        ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.0}}, "canaryPercent"),
        ({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 1.0}}, "stepPercent"),
        (
            {
                "strategy": "BLUE_GREEN",
                "earlySuccessCriteria": {
                    "enable": True,
                    "healthyPercent": 100,
                    "sourceServiceRevisionCleanup": "DEFERRED",
                },
            },
            "ROLLING",
        ),
    ):
        with pytest.raises(client.exceptions.InvalidParameterException, match=message):
            client.update_service(
                cluster=CLUSTER,
                service=SERVICE,
                taskDefinition=register(env, releases.images["1.1.0"]),
                deploymentConfiguration=configuration(env, **wrong),
            )
    after = client.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    assert after["taskDefinition"] == before["taskDefinition"]
    assert after["currentServiceDeployment"] == before["currentServiceDeployment"]
    assert after["deploymentConfiguration"] == before["deploymentConfiguration"]


# ----------------------------------------------------------------------------- success


def test_blue_green_passes_the_lifecycle_stages_in_order_and_makes_the_alternate_target_group_production(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    assert rule_weights(env, "ProductionListenerRuleArn") == {
        "TargetGroupArn": 100,
        "AlternateTargetGroupArn": 0,
    }
    source = source_revision(env)
    with Traffic(env.alb_url) as production, Traffic(env.test_url) as test:
        arn = update(
            env,
            register(env, releases.images["1.1.0"]),
            configuration(env, strategy="BLUE_GREEN", bakeTimeInMinutes=1),
        )
        with Watcher(env, arn) as watcher:
            found = watcher.wait()
        steady(sandbox)
    assert found["status"] == "SUCCESSFUL", found
    assert watcher.statuses[-2:] == ["IN_PROGRESS", "SUCCESSFUL"]
    assert in_order(watcher.stages), watcher.stages
    assert {"SCALE_UP", "PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"} <= set(watcher.stages)
    assert [r["arn"] for r in found["sourceServiceRevisions"]] == [source]
    # Nobody saw an error; the test listener had the new revision before production did.
    assert {status for status, _ in production.answers} == {200} == {status for status, _ in test.answers}
    assert test.first_seen["1.1.0"] < production.first_seen["1.1.0"]
    assert versions(env.alb_url, 4) == {(200, "1.1.0"): 4}
    # The alternate target group is production now, for both listeners, and the new revision says so.
    assert rule_weights(env, "ProductionListenerRuleArn") == {
        "TargetGroupArn": 0,
        "AlternateTargetGroupArn": 100,
    }
    assert rule_weights(env, "TestListenerRuleArn") == {"TargetGroupArn": 0, "AlternateTargetGroupArn": 100}
    (revision,) = ecs(env).describe_service_revisions(
        serviceRevisionArns=[found["targetServiceRevision"]["arn"]]
    )["serviceRevisions"]
    assert (
        revision["resolvedConfiguration"]["loadBalancers"][0]["targetGroupArn"]
        == (env.outputs["AlternateTargetGroupArn"])
    )


def test_a_canary_sends_its_percentage_of_production_traffic_to_the_new_revision_then_all_of_it(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    config = configuration(
        env, strategy="CANARY", canaryConfiguration={"canaryPercent": 20.0, "canaryBakeTimeInMinutes": 3}
    )
    arn = update(env, register(env, releases.images["1.2.0"]), config)
    with Watcher(env, arn) as watcher:
        while not watcher.seen or watcher.seen[-1][1:3] != ("PRODUCTION_TRAFFIC_SHIFT", 20.0):
            assert watcher._thread.is_alive(), watcher.seen
            watcher._stop.wait(0.05)
        during = versions(env.alb_url, 50)
        weights = rule_weights(env, "ProductionListenerRuleArn")
        found = watcher.wait()
    steady(sandbox)
    assert found["status"] == "SUCCESSFUL", found
    # Smooth weighted round robin: one request in five during the canary bake time.
    assert 8 <= during[(200, "1.2.0")] <= 12 and during[(200, "1.1.0")] + during[(200, "1.2.0")] == 50, during
    assert weights == {"AlternateTargetGroupArn": 80, "TargetGroupArn": 20}
    assert watcher.weights == [0.0, 20.0, 100.0]
    assert versions(env.alb_url, 4) == {(200, "1.2.0"): 4}


def test_a_linear_deployment_shifts_production_traffic_in_equal_steps(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    config = configuration(
        env, strategy="LINEAR", linearConfiguration={"stepPercent": 34.0, "stepBakeTimeInMinutes": 1}
    )
    arn = update(env, register(env, releases.images["1.3.0"]), config)
    with Watcher(env, arn) as watcher:
        found = watcher.wait()
    steady(sandbox)
    assert found["status"] == "SUCCESSFUL", found
    assert watcher.weights == [0.0, 34.0, 68.0, 100.0]
    assert versions(env.alb_url, 4) == {(200, "1.3.0"): 4}


# ----------------------------------------------------------------------------- rollbacks


def test_a_canary_whose_new_revision_answers_5xx_trips_the_alarm_and_is_rolled_back(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    source, live = source_revision(env), rule_weights(env, "ProductionListenerRuleArn")
    config = configuration(
        env, strategy="CANARY", canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 30}
    )
    with Traffic(env.alb_url) as traffic:
        arn = update(env, register(env, releases.images["2.0.0"]), config)
        with Watcher(env, arn) as watcher:
            found = watcher.wait()
        steady(sandbox)
    wait_alarm_ok(env)
    assert found["status"] == "ROLLBACK_SUCCESSFUL", found
    assert watcher.statuses[-2:] == ["ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    assert found["alarms"] == {
        "status": "TRIGGERED",
        "alarmNames": [env.outputs["Target5xxAlarm"]],
        "triggeredAlarmNames": [env.outputs["Target5xxAlarm"]],
    }
    assert env.outputs["Target5xxAlarm"] in found["rollback"]["reason"]
    assert found["rollback"]["serviceRevisionArn"] == source
    assert any(state == "ALARM" and "5xx rate above 5%" in reason for state, reason in alarm_states(env))
    # Caught at 10 %: the bad revision answered a small share of what was sent, then nothing.
    bad = traffic.answers[(500, "2.0.0")]
    assert 0 < bad <= 0.15 * traffic.total, traffic.answers
    assert traffic.served("2.0.0") == bad
    assert versions(env.alb_url, 4) == {(200, "1.3.0"): 4}
    assert rule_weights(env, "ProductionListenerRuleArn") == live


def test_a_new_revision_that_never_turns_healthy_is_rolled_back_before_any_request_reaches_it(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    with Traffic(env.alb_url) as traffic:
        arn = update(env, register(env, releases.images["3.0.0"]), configuration(env, strategy="BLUE_GREEN"))
        with Watcher(env, arn) as watcher:
            found = watcher.wait()
        steady(sandbox)
    assert found["status"] == "ROLLBACK_SUCCESSFUL", found
    assert found["lifecycleStage"] == "SCALE_UP"
    breaker = found["deploymentCircuitBreaker"]
    assert breaker["status"] == "TRIGGERED" and breaker["failureCount"] >= breaker["threshold"] > 0
    assert "circuit breaker" in found["rollback"]["reason"]
    assert traffic.served("3.0.0") == 0 and set(traffic.answers) == {(200, "1.3.0")}


def test_stop_service_deployment_rolls_a_canary_back_to_the_source_revision_at_once(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    config = configuration(
        env, strategy="CANARY", canaryConfiguration={"canaryPercent": 50.0, "canaryBakeTimeInMinutes": 60}
    )
    live = rule_weights(env, "ProductionListenerRuleArn")
    arn = update(env, register(env, releases.images["1.4.0"]), config)
    with Watcher(env, arn) as watcher:
        while not watcher.seen or watcher.seen[-1][1:3] != ("PRODUCTION_TRAFFIC_SHIFT", 50.0):
            assert watcher._thread.is_alive(), watcher.seen
            watcher._stop.wait(0.05)
        stopped = ecs(env).stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
        weights = rule_weights(env, "ProductionListenerRuleArn")
        found = watcher.wait()
    steady(sandbox)
    assert stopped["serviceDeploymentArn"] == arn
    assert weights == live
    assert found["status"] == "ROLLBACK_SUCCESSFUL", found
    assert "StopServiceDeployment" in found["rollback"]["reason"]
    assert versions(env.alb_url, 4) == {(200, "1.3.0"): 4}


def test_a_deployment_that_supersedes_a_canary_in_flight_reconciles_the_service_first(
    sandbox: Sandbox, env: SandboxEnvironment, releases: Releases, first: dict[str, Any]
) -> None:
    canary = configuration(
        env, strategy="CANARY", canaryConfiguration={"canaryPercent": 50.0, "canaryBakeTimeInMinutes": 60}
    )
    with Traffic(env.alb_url) as traffic:
        older = update(env, register(env, releases.images["1.4.0"]), canary)
        with Watcher(env, older) as watcher:
            while not watcher.seen or watcher.seen[-1][1:3] != ("PRODUCTION_TRAFFIC_SHIFT", 50.0):
                assert watcher._thread.is_alive(), watcher.seen
                watcher._stop.wait(0.05)
            newer = update(
                env, register(env, releases.images["1.5.0"]), configuration(env, strategy="BLUE_GREEN")
            )
            superseded = watcher.wait()
        with Watcher(env, newer) as watcher:
            found = watcher.wait()
        steady(sandbox)
    assert superseded["status"] == "STOPPED" and newer in superseded["statusReason"], superseded
    assert found["status"] == "SUCCESSFUL", found
    assert watcher.stages[0] == "RECONCILE_SERVICE" and in_order(watcher.stages), watcher.stages
    assert {status for status, _ in traffic.answers} == {200}
    assert versions(env.alb_url, 4) == {(200, "1.5.0"): 4}
    listed = ecs(env).list_service_deployments(cluster=CLUSTER, service=SERVICE, status=["STOPPED"])
    assert [d["serviceDeploymentArn"] for d in listed["serviceDeployments"]] == [older]
