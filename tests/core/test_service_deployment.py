"""What one DescribeServiceDeployments answer means: every status, every stage, the split, the bake."""

from __future__ import annotations

from typing import Any

import pytest

from releasectl.core.rollout import RolloutDecision
from releasectl.core.service_deployment import (
    FINISHED,
    STAGES,
    STATUSES,
    STOPPING,
    bake_left,
    decide,
    read,
)
from tests.support.scripted_deployments import BLUE_GREEN, CANARY, LINEAR, Run, sd_frame


def run(config: dict[str, Any] | None = None) -> Run:
    config = dict(CANARY if config is None else config)
    return Run(
        arn="arn:aws:ecs:us-east-1:123456789012:service-deployment/web/hello-world/abcDEF123",
        service_arn="arn:aws:ecs:us-east-1:123456789012:service/web/hello-world",
        cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/web",
        target_revision="arn:aws:ecs:us-east-1:123456789012:service-revision/web/hello-world/2",
        source_revision="arn:aws:ecs:us-east-1:123456789012:service-revision/web/hello-world/1",
        desired=2,
        strategy=str(config.get("strategy", "ROLLING")),
        config=config,
    )


def model_enum(shape: str) -> list[str]:
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    return list(model.shape_for(shape).enum)


def test_the_statuses_and_stages_known_are_exactly_botocores() -> None:
    assert sorted(STATUSES) == sorted(model_enum("ServiceDeploymentStatus"))
    assert sorted(STAGES) == sorted(model_enum("ServiceDeploymentLifecycleStage"))


EXPECTED = {
    "PENDING": RolloutDecision.IN_PROGRESS,
    "IN_PROGRESS": RolloutDecision.IN_PROGRESS,
    "STOP_REQUESTED": RolloutDecision.IN_PROGRESS,
    "ROLLBACK_REQUESTED": RolloutDecision.IN_PROGRESS,
    "ROLLBACK_IN_PROGRESS": RolloutDecision.IN_PROGRESS,
    "SUCCESSFUL": RolloutDecision.SUCCEEDED,
    "ROLLBACK_SUCCESSFUL": RolloutDecision.ROLLED_BACK,
    "ROLLBACK_FAILED": RolloutDecision.FAILED,
    "STOPPED": RolloutDecision.SUPERSEDED,
}


def test_every_status_in_botocores_model_has_a_decision() -> None:
    assert set(EXPECTED) == set(model_enum("ServiceDeploymentStatus"))


@pytest.mark.parametrize(("status", "decision"), sorted(EXPECTED.items()))
def test_each_status_decides_the_outcome(status: str, decision: RolloutDecision) -> None:
    assert decide(sd_frame(run(), status)).decision is decision


@pytest.mark.parametrize("status", sorted(FINISHED))
def test_a_finished_status_is_final_and_an_unfinished_one_is_not(status: str) -> None:
    assert decide(sd_frame(run(), status)).decision.final
    unfinished = set(STATUSES) - FINISHED
    assert not any(decide(sd_frame(run(), s)).decision.final for s in unfinished)


def test_successful_is_success_and_names_the_strategy() -> None:
    verdict = decide(sd_frame(run(), "SUCCESSFUL", "CLEAN_UP", new=100))
    assert verdict.decision is RolloutDecision.SUCCEEDED
    assert "abcDEF123 succeeded: 2/2 tasks running (canary)" in verdict.message


def test_early_success_is_success_while_the_old_tasks_still_drain() -> None:
    config = {
        "strategy": "ROLLING",
        "earlySuccessCriteria": {
            "enable": True,
            "healthyPercent": 50,
            "sourceServiceRevisionCleanup": "DEFERRED",
        },
    }
    verdict = decide(sd_frame(run(config), "SUCCESSFUL", running=1))
    assert verdict.decision is RolloutDecision.SUCCEEDED
    assert "early success at 50% healthy, the old tasks are stopped after it" in verdict.message


def test_a_circuit_breaker_rollback_says_so_with_the_failure_count() -> None:
    sd = sd_frame(
        run(),
        "ROLLBACK_SUCCESSFUL",
        breaker=("TRIGGERED", 3, 2),
        rollback_reason="Circuit breaker triggered",
    )
    verdict = decide(sd)
    assert verdict.decision is RolloutDecision.ROLLED_BACK
    assert "rolled back to service revision 1" in verdict.message
    assert "the deployment circuit breaker tripped: 3 failed tasks (threshold 2)" in verdict.message
    assert "(ECS: Circuit breaker triggered)" in verdict.message


def test_an_alarm_rollback_names_the_alarm_that_fired() -> None:
    sd = sd_frame(run(), "ROLLBACK_SUCCESSFUL", alarms=("TRIGGERED", ["hello-world-staging-target-5xx"]))
    assert "alarm hello-world-staging-target-5xx went into ALARM" in decide(sd).message


def test_a_rollback_nobody_here_asked_for_is_a_stop_request() -> None:
    sd = sd_frame(run(), "ROLLBACK_SUCCESSFUL", rollback_reason="Rollback requested by user")
    message = decide(sd).message
    assert "a stop request (StopServiceDeployment) releasectl did not make" in message
    assert "(ECS: Rollback requested by user)" in message


def test_a_rollback_releasectl_abort_asked_for_says_stopped_by_abort() -> None:
    sd = sd_frame(run(), "ROLLBACK_SUCCESSFUL")
    assert "stopped by abort" in decide(sd, stopped_by="abort").message


def test_a_failed_lifecycle_hook_is_named() -> None:
    hook = {"hookId": "hook-1", "targetType": "AWS_LAMBDA", "status": "FAILED"}
    sd = sd_frame(run(), "ROLLBACK_SUCCESSFUL", hooks=[hook])
    assert "AWS_LAMBDA lifecycle hook hook-1 failed" in decide(sd).message


def test_rollback_failed_is_a_failure_that_asks_for_manual_action() -> None:
    verdict = decide(sd_frame(run(), "ROLLBACK_FAILED", breaker=("TRIGGERED", 2, 2)))
    assert verdict.decision is RolloutDecision.FAILED
    assert verdict.manual_action
    assert "manual action is needed" in verdict.message


def test_stopped_by_someone_else_is_superseded() -> None:
    verdict = decide(sd_frame(run(), "STOPPED", reason="Superseded by a newer deployment"))
    assert verdict.decision is RolloutDecision.SUPERSEDED
    assert "this run did not do" in verdict.message and "Superseded by a newer deployment" in verdict.message


def test_stopped_by_the_circuit_breaker_without_rollback_is_a_failure() -> None:
    verdict = decide(sd_frame(run(), "STOPPED", breaker=("TRIGGERED", 4, 2)))
    assert verdict.decision is RolloutDecision.FAILED
    assert "not rolled back" in verdict.message


@pytest.mark.parametrize("status", sorted(STOPPING))
def test_a_rollback_under_way_is_not_final_and_says_why(status: str) -> None:
    verdict = decide(sd_frame(run(), status, alarms=("TRIGGERED", ["a-5xx"])))
    assert verdict.decision is RolloutDecision.IN_PROGRESS
    assert "a-5xx" in verdict.message


# ----------------------------------------------------------------------------- stages, split, bake


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_is_read_and_shown(stage: str) -> None:
    view = read(sd_frame(run(), "IN_PROGRESS", stage, new=0, test=0))
    assert view.stage == stage
    assert stage in view.summary()
    assert decide(sd_frame(run(), "IN_PROGRESS", stage)).message.endswith(f"IN_PROGRESS at {stage}")


def test_the_test_listener_carries_the_new_revision_from_the_test_shift_on() -> None:
    on_new = {stage for stage in STAGES if read(sd_frame(run(), "IN_PROGRESS", stage)).test_traffic_on_new}
    assert on_new == {
        "POST_TEST_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        "BAKE_TIME",
    }
    assert read(sd_frame(run(), "IN_PROGRESS", "TEST_TRAFFIC_SHIFT", test=100)).test_traffic_on_new
    assert not read(sd_frame(run(), "ROLLBACK_IN_PROGRESS", "BAKE_TIME")).test_traffic_on_new


def test_the_split_is_the_new_revisions_weight_against_the_old_ones() -> None:
    view = read(sd_frame(run(), "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=10, test=100))
    assert (view.production.new, view.production.old) == (10.0, 90.0)  # type: ignore[union-attr]
    assert "traffic new 10% / old 90%" in view.summary()
    assert "test traffic new 100% / old 0%" in view.summary()


def test_the_canary_bake_counts_down_while_the_canary_share_runs() -> None:
    view = read(sd_frame(run(CANARY), "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=10))
    assert view.bake_time_s == 180
    assert bake_left(view, 45) == 135
    assert "bake time 2m15s left" in view.summary(bake_left(view, 45))


def test_the_deployment_bake_time_runs_in_the_bake_time_stage() -> None:
    view = read(sd_frame(run(BLUE_GREEN), "IN_PROGRESS", "BAKE_TIME", new=100))
    assert bake_left(view, 60) == 240
    assert bake_left(view, 999) == 0


def test_a_linear_step_has_the_step_bake_time() -> None:
    view = read(sd_frame(run(LINEAR), "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=25))
    assert view.bake_time_s == 60


def test_canary_and_linear_bake_defaults_are_ecss() -> None:
    canary = read(sd_frame(run({"strategy": "CANARY"}), "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=5))
    linear = read(sd_frame(run({"strategy": "LINEAR"}), "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=10))
    assert (canary.bake_time_s, linear.bake_time_s) == (600, 360)


def test_no_bake_time_outside_a_bake_or_once_rolling_back() -> None:
    assert read(sd_frame(run(), "IN_PROGRESS", "SCALE_UP")).bake_time_s is None
    rolling_back = read(sd_frame(run(BLUE_GREEN), "ROLLBACK_IN_PROGRESS", "BAKE_TIME", new=100))
    assert bake_left(rolling_back, 1) is None


def test_a_phase_changes_with_the_stage_or_the_split() -> None:
    a = read(sd_frame(run(), "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=10))
    b = read(sd_frame(run(), "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=100))
    c = read(sd_frame(run(), "IN_PROGRESS", "BAKE_TIME", new=100))
    assert len({a.phase, b.phase, c.phase}) == 3
    assert (
        a.phase == read(sd_frame(run(), "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=10, running=1)).phase
    )


def test_json_form_carries_stage_split_and_bake_left() -> None:
    view = read(sd_frame(run(), "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=10))
    data = view.to_json(12.34)
    assert data["stage"] == "PRODUCTION_TRAFFIC_SHIFT"
    assert data["traffic"] == {"new": 10.0, "old": 90.0}
    assert data["bake_time_left_s"] == 12.3
