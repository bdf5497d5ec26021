"""`deploy` against ECS with the service-deployments API: ECS's status decides, stage by stage.

The scripted fake (tests/support/scripted_deployments.py) answers DescribeServiceDeployments with
one frame per poll; every status of botocore's model and every lifecycle stage appears in some
sequence here, and each sequence ends in the outcome ECS's last status means.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest

from releasectl.commands.deploy import run_definition_deploy, run_deploy
from releasectl.core.errors import EnvironmentProblem, ExitCode, UsageError
from releasectl.core.result import CommandResult, Outcome
from releasectl.core.service_definition import parse, resolve
from releasectl.core.service_deployment import ABORT_TAG, STAGES, STATUSES
from releasectl.core.verification import Answer
from tests.support.scripted_deployments import (
    CANARY,
    ScriptedServiceDeployments,
    at,
)
from tests.support.scripted_ecs import (
    REPO_URI,
    Rollout,
    client_error,
    deployment,
    make_context,
    release,
    service_frame,
)
from tests.support.service_definitions import EXAMPLE, OUTPUTS

RELEASES = [release("1.1.0", 1), release("1.2.0", 2)]
WATCHED = re.compile(r"^deployment sd\d+: ")  # the live line's changes, one line each
ELB = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
LB = {
    "alternate_target_group_arn": f"{ELB}:targetgroup/shop-green/1",
    "production_listener_rule_arn": f"{ELB}:listener-rule/app/shop/1/2/3",
    "test_listener_rule_arn": f"{ELB}:listener-rule/app/shop/1/9/4",
    "infrastructure_role_arn": "arn:aws:iam::123456789012:role/shop-ecs-infrastructure",
}


def world(**options: Any) -> ScriptedServiceDeployments:
    fake = ScriptedServiceDeployments(**options)
    current = fake.add_revision(tags={"releasectl:version": "1.1.0", "releasectl:outcome": "succeeded"})
    fake.start_service(current)
    return fake


def api(fake: ScriptedServiceDeployments) -> Any:
    from releasectl.adapters.aws.ecs import EcsApi

    return EcsApi(fake, cluster=fake.cluster, service=fake.service_name)


def deploy(
    fake: ScriptedServiceDeployments,
    *,
    ctx: Any = None,
    timeout: int | None = None,
    strategy: str | None = None,
) -> tuple[CommandResult, Any]:
    ctx = ctx or make_context()
    result = run_deploy(
        ctx,
        api(fake),
        RELEASES,
        version="1.2.0",
        timeout=timeout,
        wait=True,
        repository_uri=lambda: REPO_URI,
        rng=random.Random(3),
        strategy=strategy,
    )
    return result, ctx


def definition(deployment_fields: str = "", service_fields: str = "", verify: str = "") -> dict[str, Any]:
    text = EXAMPLE.replace("maximum_percent = 200\n", "maximum_percent = 200\n" + deployment_fields)
    text = text.replace(
        'target_group_arn = "${stack:TargetGroupArn}"\n',
        'target_group_arn = "${stack:TargetGroupArn}"\n' + service_fields,
    )
    if verify:
        text = text.replace("[containers.app]\n", f"[service.verify]\n{verify}\n[containers.app]\n")
    return resolve(
        parse("service.toml", text), env="staging", region="us-east-1", outputs=OUTPUTS, stack="shop-staging"
    )


LB_FIELDS = "".join(f'{key} = "{value}"\n' for key, value in LB.items())


def definition_deploy(
    fake: ScriptedServiceDeployments, spec: dict[str, Any], *, ctx: Any = None, strategy: str | None = None
) -> tuple[CommandResult, Any]:
    ctx = ctx or make_context()
    result = run_definition_deploy(
        ctx,
        api(fake),
        RELEASES[1],
        spec=spec,
        region="us-east-1",
        repository_uri=REPO_URI,
        timeout=None,
        wait=True,
        rng=random.Random(3),
        strategy=strategy,
    )
    return result, ctx


# ----------------------------------------------------------------------------- outcomes


def test_success_comes_from_the_service_deployment_and_the_choice_is_said_with_v() -> None:
    fake = world(sd_script=[at("PENDING"), at("IN_PROGRESS"), at("SUCCESSFUL")])
    result, ctx = deploy(fake)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.extra["followed"] == "service_deployments"
    assert result.extra["service_deployment"] == fake.run.arn  # type: ignore[union-attr]
    assert any("DescribeServiceDeployments" in line for line in ctx.reporter.texts("detail"))
    assert fake.tags[result.extra["task_definition"]]["releasectl:outcome"] == "succeeded"


def draining_old_tasks(r: Rollout) -> dict[str, Any]:
    """ECS's deployments list after an early success: ours COMPLETED, the old one still running."""
    return service_frame(
        r,
        [
            deployment(r.new_id, r.new_td, rollout="COMPLETED", running=r.desired, desired=r.desired),
            deployment(
                r.old_id, r.old_td, status="ACTIVE", rollout="COMPLETED", running=r.desired, desired=0
            ),
        ],
        running=2 * r.desired,
    )


def test_early_success_is_success_while_the_old_tasks_still_drain() -> None:
    early = {
        "strategy": "ROLLING",
        "earlySuccessCriteria": {
            "enable": True,
            "healthyPercent": 50,
            "sourceServiceRevisionCleanup": "DEFERRED",
        },
    }
    fake = world(
        deployment_configuration=early,
        script=[draining_old_tasks],
        sd_script=[at("IN_PROGRESS"), at("SUCCESSFUL")],
    )
    result, _ = deploy(fake, timeout=60)
    assert result.outcome is Outcome.SUCCEEDED
    assert "early success at 50% healthy" in result.message


def test_early_success_is_success_in_the_deployments_list_fallback_too() -> None:
    early = {
        "strategy": "ROLLING",
        "earlySuccessCriteria": {
            "enable": True,
            "healthyPercent": 50,
            "sourceServiceRevisionCleanup": "DEFERRED",
        },
    }
    fake = world(api=False, deployment_configuration=early, script=[draining_old_tasks])
    result, _ = deploy(fake, timeout=60)
    assert result.outcome is Outcome.SUCCEEDED and result.extra["followed"] == "deployments_list"
    assert "completed early" in result.message


def test_without_early_success_old_tasks_still_running_is_not_yet_success() -> None:
    fake = world(api=False, script=[draining_old_tasks])
    result, _ = deploy(fake, timeout=60)
    assert result.outcome is Outcome.TIMED_OUT


def test_a_circuit_breaker_rollback_is_rolled_back_exit_1_and_polls_never_list_tasks() -> None:
    fake = world(
        sd_script=[
            at("IN_PROGRESS"),
            at("ROLLBACK_REQUESTED", breaker=("TRIGGERED", 3, 2)),
            at("ROLLBACK_IN_PROGRESS", breaker=("TRIGGERED", 3, 2)),
            at(
                "ROLLBACK_SUCCESSFUL",
                breaker=("TRIGGERED", 3, 2),
                rollback_reason="Circuit breaker triggered",
            ),
        ]
    )
    result, _ = deploy(fake)
    assert result.outcome is Outcome.ROLLED_BACK and result.exit_code is ExitCode.FAILED
    assert "circuit breaker tripped: 3 failed tasks (threshold 2)" in result.message
    assert "(ECS: Circuit breaker triggered)" in result.message
    ops = fake.operations()
    polling = ops[ops.index("update_service") + 1 : ops.index("tag_resource")]
    assert set(polling) <= {"describe_service_deployments", "describe_services", "describe_task_definition"}


def test_an_alarm_rollback_names_the_alarm() -> None:
    fake = world(
        sd_script=[
            at("IN_PROGRESS"),
            at("ROLLBACK_SUCCESSFUL", alarms=("TRIGGERED", ["shop-staging-target-5xx"])),
        ]
    )
    result, _ = deploy(fake)
    assert result.outcome is Outcome.ROLLED_BACK
    assert "alarm shop-staging-target-5xx went into ALARM" in result.message


def test_rollback_failed_is_exit_1_and_says_manual_action_is_needed() -> None:
    fake = world(
        sd_script=[
            at("IN_PROGRESS"),
            at("ROLLBACK_IN_PROGRESS"),
            at("ROLLBACK_FAILED", breaker=("TRIGGERED", 2, 2)),
        ]
    )
    result, _ = deploy(fake)
    assert result.outcome is Outcome.FAILED and result.exit_code is ExitCode.FAILED
    assert "manual action is needed" in result.message
    assert result.extra["manual_action"] is True


def test_stopped_by_someone_else_is_superseded_exit_5() -> None:
    fake = world(
        sd_script=[
            at("IN_PROGRESS"),
            at("STOP_REQUESTED"),
            at("STOPPED", reason="a newer deployment started"),
        ]
    )
    result, _ = deploy(fake)
    assert result.outcome is Outcome.SUPERSEDED and result.exit_code is ExitCode.CONFLICT
    assert "a newer deployment started" in result.message


def test_superseded_names_the_deployment_that_now_leads_as_the_deployments_list_calls_it() -> None:
    from tests.commands.test_deploy_scripted import someone_else_deploys

    fake = world(script=[someone_else_deploys], sd_script=[at("IN_PROGRESS"), at("STOPPED")])
    result, _ = deploy(fake)
    assert result.outcome is Outcome.SUPERSEDED
    assert "deployment ecs-svc/9999999999999999999 of" in result.message
    assert result.message.endswith("now leads, which this run did not start")


def test_a_rollback_stopped_by_releasectl_abort_says_stopped_by_abort() -> None:
    fake = world(sd_script=[at("IN_PROGRESS"), at("ROLLBACK_IN_PROGRESS"), at("ROLLBACK_SUCCESSFUL")])

    original = fake.update_service

    def update_then_abort(**kwargs: Any) -> dict[str, Any]:
        # What `releasectl abort`, in another process, does before it stops the deployment.
        answer = original(**kwargs)
        ident = fake.run.arn.rsplit("/", 1)[-1]  # type: ignore[union-attr]
        fake.tags[kwargs["taskDefinition"]][ABORT_TAG] = ident
        return answer

    fake.update_service = update_then_abort  # type: ignore[method-assign]
    result, _ = deploy(fake)
    assert result.outcome is Outcome.ROLLED_BACK
    assert "stopped by abort" in result.message
    assert result.extra["stopped_by"] == "abort"


TERMINAL_SEQUENCES = {
    "SUCCESSFUL": (["PENDING", "IN_PROGRESS", "SUCCESSFUL"], Outcome.SUCCEEDED),
    "STOPPED": (["IN_PROGRESS", "STOP_REQUESTED", "STOPPED"], Outcome.SUPERSEDED),
    "ROLLBACK_SUCCESSFUL": (
        ["IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"],
        Outcome.ROLLED_BACK,
    ),
    "ROLLBACK_FAILED": (
        ["PENDING", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED"],
        Outcome.FAILED,
    ),
}


def test_the_sequences_cover_every_status_in_botocores_model() -> None:
    seen = {status for sequence, _ in TERMINAL_SEQUENCES.values() for status in sequence}
    assert seen == set(STATUSES)


@pytest.mark.parametrize("name", sorted(TERMINAL_SEQUENCES))
def test_each_status_sequence_ends_in_the_outcome_its_last_status_means(name: str) -> None:
    sequence, outcome = TERMINAL_SEQUENCES[name]
    fake = world(sd_script=[at(status) for status in sequence])
    result, ctx = deploy(fake)
    assert result.outcome is outcome
    shown = [line for line in ctx.reporter.texts("info") if WATCHED.match(line)]
    assert [line.split(": ", 1)[1].split(":")[0] for line in shown] == sequence


# ----------------------------------------------------------------------------- a canary, stage by stage

CANARY_STAGES = [
    at("PENDING"),
    at("IN_PROGRESS", "RECONCILE_SERVICE", new=0, test=0),
    at("IN_PROGRESS", "PRE_SCALE_UP", new=0, test=0, running=0),
    at("IN_PROGRESS", "SCALE_UP", new=0, test=0, running=1, pending=1),
    at("IN_PROGRESS", "POST_SCALE_UP", new=0, test=0),
    at("IN_PROGRESS", "TEST_TRAFFIC_SHIFT", new=0, test=50),
    at("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", new=0, test=100),
    at("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=10, test=100),
    at("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=10, test=100),
    at("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=100, test=100),
    at("IN_PROGRESS", "POST_PRODUCTION_TRAFFIC_SHIFT", new=100, test=100),
    at("IN_PROGRESS", "BAKE_TIME", new=100, test=100),
    at("IN_PROGRESS", "CLEAN_UP", new=100, test=100),
    at("SUCCESSFUL", "CLEAN_UP", new=100, test=100),
]


def test_a_canary_shows_each_stage_its_split_and_the_bake_time_left_once_per_change() -> None:
    fake = world(deployment_configuration=CANARY, sd_script=CANARY_STAGES)
    result, ctx = deploy(fake, timeout=3600)
    assert result.outcome is Outcome.SUCCEEDED
    lines = [line for line in ctx.reporter.texts("info") if WATCHED.match(line)]
    stages = [stage for stage in STAGES if any(f" {stage}:" in line for line in lines)]
    assert stages == list(STAGES)
    canary = [line for line in lines if "PRODUCTION_TRAFFIC_SHIFT: traffic new 10% / old 90%" in line]
    assert len(canary) == 1 and "bake time 3m00s left" in canary[0]
    assert any(
        "BAKE_TIME: traffic new 100% / old 0%" in line and "bake time 2m00s left" in line for line in lines
    )


def test_with_json_the_changes_are_json_events_on_stderr() -> None:
    fake = world(deployment_configuration=CANARY, sd_script=CANARY_STAGES)
    ctx = make_context()
    ctx.json_output = True
    deploy(fake, ctx=ctx, timeout=3600)
    events = [json.loads(line) for line in ctx.reporter.texts("log")]
    canary = next(e for e in events if e["traffic"] == {"new": 10.0, "old": 90.0})
    assert canary["event"] == "service_deployment"
    assert canary["stage"] == "PRODUCTION_TRAFFIC_SHIFT" and canary["bake_time_left_s"] == 180.0
    assert [e["status"] for e in events][-1] == "SUCCESSFUL"


def test_each_poll_makes_two_calls_and_waiting_averages_at_most_one_call_a_second() -> None:
    fake = world(deployment_configuration=CANARY, sd_script=CANARY_STAGES)
    _, ctx = deploy(fake, timeout=3600)
    ops = fake.operations()
    waiting = ops[ops.index("update_service") + 1 : ops.index("tag_resource")]
    polls = waiting.count("describe_service_deployments")
    assert polls == len(CANARY_STAGES)
    assert len(waiting) == 2 * polls
    assert set(waiting) == {"describe_service_deployments", "describe_services"}
    assert len(waiting) <= sum(ctx.clock.sleeps) + 2  # the last poll sleeps no more


# ----------------------------------------------------------------------------- where the API is absent


def test_without_current_service_deployment_the_deployments_list_decides() -> None:
    from tests.commands.test_deploy_scripted import completed

    fake = world(api=False, script=[completed])
    result, ctx = deploy(fake)
    assert result.outcome is Outcome.SUCCEEDED and result.extra["followed"] == "deployments_list"
    assert "describe_service_deployments" not in fake.operations()
    assert any("no service deployments" in line for line in ctx.reporter.texts("detail"))


def test_an_endpoint_that_names_a_deployment_but_cannot_describe_it_falls_back_once() -> None:
    from tests.commands.test_deploy_scripted import completed

    fake = world(script=[completed])
    fake.failures["describe_service_deployments"] = lambda: client_error(
        "DescribeServiceDeployments", "UnknownOperationException", "Unknown operation"
    )
    result, ctx = deploy(fake)
    assert result.outcome is Outcome.SUCCEEDED and result.extra["followed"] == "deployments_list"
    assert fake.count("describe_service_deployments") == 1
    assert any("deployments list instead" in line for line in ctx.reporter.texts("detail"))


# ----------------------------------------------------------------------------- strategies


def test_a_canary_from_the_service_definition_sends_its_strategy_and_load_balancer_setup() -> None:
    spec = definition(
        'strategy = "CANARY"\nbake_time = 2\ncanary_percent = 10\ncanary_bake_time = 3\n', LB_FIELDS
    )
    fake = world(sd_script=[at("IN_PROGRESS"), at("SUCCESSFUL")])
    result, _ = definition_deploy(fake, spec)
    assert result.outcome is Outcome.SUCCEEDED
    sent = next(kw for name, kw in fake.calls if name == "update_service")
    config = sent["deploymentConfiguration"]
    assert config["strategy"] == "CANARY" and config["bakeTimeInMinutes"] == 2
    assert config["canaryConfiguration"] == {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 3}
    assert sent["loadBalancers"][0]["advancedConfiguration"] == {
        "alternateTargetGroupArn": LB["alternate_target_group_arn"],
        "productionListenerRule": LB["production_listener_rule_arn"],
        "testListenerRule": LB["test_listener_rule_arn"],
        "roleArn": LB["infrastructure_role_arn"],
    }


def test_strategy_per_run_replaces_the_files() -> None:
    fake = world(sd_script=[at("SUCCESSFUL")])
    definition_deploy(fake, definition("", LB_FIELDS), strategy="LINEAR")
    sent = next(kw for name, kw in fake.calls if name == "update_service")
    assert sent["deploymentConfiguration"]["strategy"] == "LINEAR"
    assert sent["deploymentConfiguration"]["linearConfiguration"] == {
        "stepPercent": 10.0,
        "stepBakeTimeInMinutes": 6,
    }


def test_blue_green_without_the_load_balancer_setup_is_exit_4_before_any_write() -> None:
    fake = world()
    with pytest.raises(EnvironmentProblem) as caught:
        definition_deploy(fake, definition('strategy = "BLUE_GREEN"\n'))
    assert caught.value.exit_code is ExitCode.ENVIRONMENT
    assert "alternate_target_group_arn" in caught.value.message
    assert "production_listener_rule_arn" in caught.value.message
    assert "infrastructure_role_arn" in caught.value.message
    assert fake.calls == []


def test_strategy_on_a_running_service_without_blue_green_load_balancing_is_exit_4_before_any_write() -> None:
    fake = world()
    with pytest.raises(EnvironmentProblem) as caught:
        deploy(fake, strategy="CANARY")
    assert "a load balancer (the service has none)" in caught.value.message
    assert fake.operations() == ["describe_services"]


def test_strategy_on_a_running_service_with_blue_green_load_balancing_switches_it() -> None:
    fake = world(sd_script=[at("SUCCESSFUL")])
    fake.service["loadBalancers"] = [
        {
            "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop/0",
            "containerName": "app",
            "containerPort": 8080,
            "advancedConfiguration": {
                "alternateTargetGroupArn": LB["alternate_target_group_arn"],
                "productionListenerRule": LB["production_listener_rule_arn"],
                "roleArn": LB["infrastructure_role_arn"],
            },
        }
    ]
    result, _ = deploy(fake, strategy="CANARY")
    assert result.outcome is Outcome.SUCCEEDED
    sent = next(kw for name, kw in fake.calls if name == "update_service")
    assert sent["deploymentConfiguration"]["strategy"] == "CANARY"
    assert sent["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}


def test_an_unknown_strategy_is_exit_2() -> None:
    from releasectl.core.service_shape import strategy_argument

    with pytest.raises(UsageError):
        strategy_argument("big-bang")
    assert strategy_argument("blue-green") == "BLUE_GREEN"


# ----------------------------------------------------------------------------- the test listener

VERIFY = 'url = "http://shop-test.example:9000"\nattempts = 2\n'
BLUE_GREEN_STAGES = [
    at("IN_PROGRESS", "SCALE_UP", new=0, test=0),
    at("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", new=0, test=100),
    at("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=100, test=100),
    at("IN_PROGRESS", "BAKE_TIME", new=100, test=100),
    at("SUCCESSFUL", "CLEAN_UP", new=100, test=100),
]


def service_answers(version: str, commit: str, *, health: int = 200) -> Any:
    asked: list[str] = []

    def fetch(url: str, timeout: float) -> Answer:
        asked.append(url)
        if url.endswith("/healthz"):
            return Answer(status=health, body=b'{"status": "ok"}')
        return Answer(status=200, body=json.dumps({"version": version, "commit": commit}).encode())

    fetch.asked = asked  # type: ignore[attr-defined]
    return fetch


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Install what the test listener answers (instead of the network)."""
    import releasectl.commands.verify as verify

    def install(fetch: Any) -> Any:
        monkeypatch.setattr(verify, "http_fetch", fetch)
        return fetch

    return install


def verified_deploy(fake: ScriptedServiceDeployments) -> tuple[CommandResult, Any]:
    return definition_deploy(fake, definition('strategy = "BLUE_GREEN"\n', LB_FIELDS, VERIFY))


def test_the_new_version_is_verified_through_the_test_listener(answers: Any) -> None:
    fake = world(sd_script=BLUE_GREEN_STAGES)
    fetch = answers(service_answers("1.2.0", RELEASES[1].commit))
    result, ctx = verified_deploy(fake)
    assert result.outcome is Outcome.SUCCEEDED and result.extra["test_listener_verified"] is True
    assert fetch.asked == ["http://shop-test.example:9000/healthz", "http://shop-test.example:9000/version"]
    assert any(line.startswith("verified through the test listener") for line in ctx.reporter.texts("info"))


def test_a_wrong_version_on_the_test_listener_stops_the_deployment_with_a_rollback(answers: Any) -> None:
    fake = world(
        sd_script=BLUE_GREEN_STAGES,
        on_stop=[
            at("ROLLBACK_REQUESTED", new=100),
            at("ROLLBACK_IN_PROGRESS", new=0),
            at("ROLLBACK_SUCCESSFUL", new=0),
        ],
    )
    answers(service_answers("1.1.0", RELEASES[0].commit))
    result, ctx = verified_deploy(fake)
    stops = [kw for name, kw in fake.calls if name == "stop_service_deployment"]
    assert stops == [{"serviceDeploymentArn": fake.run.arn, "stopType": "ROLLBACK"}]  # type: ignore[union-attr]
    assert result.outcome is Outcome.ROLLED_BACK and result.exit_code is ExitCode.FAILED
    assert "stopped by releasectl: verification failed" in result.message
    assert "reports version '1.1.0', not 1.2.0" in result.message
    assert sum("test listener check" in line for line in ctx.reporter.texts("warn")) == 2


def test_verification_runs_only_once_the_test_listener_carries_the_new_revision(answers: Any) -> None:
    fake = world(
        sd_script=[at("IN_PROGRESS", "SCALE_UP", new=0, test=0), at("SUCCESSFUL", "CLEAN_UP", new=100)]
    )
    fetch = answers(service_answers("1.1.0", RELEASES[0].commit))
    result, ctx = verified_deploy(fake)
    assert fetch.asked == []
    assert result.outcome is Outcome.SUCCEEDED and result.extra["test_listener_verified"] is False
    assert any("was not verified there" in line for line in ctx.reporter.texts("warn"))


def test_a_rolling_deployment_has_no_test_listener_to_check(answers: Any) -> None:
    fake = world(sd_script=[at("IN_PROGRESS"), at("SUCCESSFUL")])
    fetch = answers(service_answers("1.1.0", RELEASES[0].commit))
    result, ctx = definition_deploy(fake, definition('strategy = "ROLLING"\n', LB_FIELDS, VERIFY))
    assert result.outcome is Outcome.SUCCEEDED and result.extra["test_listener_verified"] is None
    assert fetch.asked == [] and ctx.reporter.texts("warn") == []
