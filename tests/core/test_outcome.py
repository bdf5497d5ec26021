"""The truth about one deployment, decided from describe_services snapshots (docs/design.md §5)."""

from __future__ import annotations

from typing import Any

from releasectl.core.result import Outcome
from releasectl.core.rollout import RolloutDecision, Seen, Target, observe, steady_on
from tests.support.scripted_ecs import deployment, event

OURS = "ecs-svc/2000000000000000001"
OLD = "ecs-svc/1111111111111111111"
NEW_TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/hello-world:8"
OLD_TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/hello-world:7"
TARGET = Target(deployment_id=OURS, task_definition=NEW_TD, previous_task_definition=OLD_TD)


def service(
    *deployments: dict[str, Any],
    running: int = 2,
    desired: int = 2,
    events: list[dict[str, Any]] | None = None,
    rollback: bool = True,
) -> dict[str, Any]:
    return {
        "serviceName": "hello-world",
        "status": "ACTIVE",
        "desiredCount": desired,
        "runningCount": running,
        "pendingCount": 0,
        "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": rollback}},
        "deployments": list(deployments),
        "events": events or [],
    }


def test_our_deployment_primary_completed_and_all_running_is_success() -> None:
    snap = service(deployment(OURS, NEW_TD, rollout="COMPLETED", running=2, desired=2))
    seen = observe(snap, TARGET, Seen())
    assert seen.decision is RolloutDecision.SUCCEEDED
    assert seen.decision.outcome is Outcome.SUCCEEDED
    assert "2/2" in seen.message


def test_completed_but_old_tasks_still_running_is_not_yet_success() -> None:
    snap = service(
        deployment(OURS, NEW_TD, rollout="COMPLETED", running=2, desired=2),
        deployment(OLD, OLD_TD, status="ACTIVE", rollout="COMPLETED", running=1),
        running=3,
    )
    assert observe(snap, TARGET, Seen()).decision is RolloutDecision.IN_PROGRESS


def test_stable_looking_service_whose_rollout_is_not_completed_is_still_in_progress() -> None:
    # What services_stable accepts: one deployment, running == desired. Not our success yet.
    snap = service(deployment(OURS, NEW_TD, rollout="IN_PROGRESS", running=2, desired=2))
    assert observe(snap, TARGET, Seen()).decision is RolloutDecision.IN_PROGRESS


def test_stable_old_deployment_after_circuit_breaker_rollback_is_not_success() -> None:
    snap = service(
        deployment("ecs-svc/3333333333333333333", OLD_TD, rollout="COMPLETED", running=2),
        events=[
            event("e2", "(service hello-world) rolling back to deployment ecs-svc/3333333333333333333."),
            event(
                "e1", f"(service hello-world) (deployment {OURS}) deployment failed: tasks failed to start."
            ),
        ],
    )
    assert steady_on(snap, OLD_TD)  # exactly what services_stable would call success
    result = observe(snap, TARGET, Seen())
    assert result.decision is RolloutDecision.ROLLED_BACK
    assert result.decision.outcome is Outcome.ROLLED_BACK


def test_our_deployment_failed_with_rollback_on_is_rolled_back() -> None:
    snap = service(
        deployment(
            OURS,
            NEW_TD,
            status="ACTIVE",
            rollout="FAILED",
            failed=3,
            reason="ECS deployment circuit breaker: tasks failed to start.",
        ),
        deployment("ecs-svc/3333333333333333333", OLD_TD, rollout="IN_PROGRESS", running=2),
    )
    result = observe(snap, TARGET, Seen())
    assert result.decision is RolloutDecision.ROLLED_BACK
    assert "circuit breaker" in result.message
    assert result.seen.saw_failed


def test_our_deployment_failed_without_rollback_configured_is_failed() -> None:
    snap = service(
        deployment(
            OURS, NEW_TD, rollout="FAILED", failed=3, reason="ECS deployment circuit breaker: tasks failed."
        ),
        rollback=False,
        running=0,
    )
    result = observe(snap, TARGET, Seen())
    assert result.decision is RolloutDecision.FAILED
    assert result.decision.outcome is Outcome.FAILED


def test_deployment_gone_after_we_saw_it_fail_is_rolled_back_even_without_events() -> None:
    failed = service(
        deployment(OURS, NEW_TD, status="ACTIVE", rollout="FAILED"),
        deployment("ecs-svc/3", OLD_TD, rollout="IN_PROGRESS"),
    )
    first = observe(failed, TARGET, Seen())
    later = observe(
        service(deployment("ecs-svc/3", OLD_TD, rollout="COMPLETED", running=2)), TARGET, first.seen
    )
    assert later.decision is RolloutDecision.ROLLED_BACK


def test_deployment_replaced_by_someone_elses_is_superseded() -> None:
    other_td = OLD_TD.replace(":7", ":9")
    snap = service(
        deployment("ecs-svc/9999999999999999999", other_td, rollout="IN_PROGRESS"),
        deployment(OURS, NEW_TD, status="ACTIVE", rollout="IN_PROGRESS", running=1),
    )
    result = observe(snap, TARGET, Seen())
    assert result.decision is RolloutDecision.SUPERSEDED
    assert result.decision.outcome is Outcome.SUPERSEDED
    assert "ecs-svc/9999999999999999999" in result.message


def test_old_task_definition_redeployed_by_someone_without_rollback_evidence_is_superseded() -> None:
    snap = service(deployment("ecs-svc/4", OLD_TD, rollout="IN_PROGRESS"))
    assert observe(snap, TARGET, Seen()).decision is RolloutDecision.SUPERSEDED


def test_rollback_words_in_events_older_than_our_update_prove_nothing() -> None:
    old_event = event("old", "(service hello-world) rolling back to deployment ecs-svc/0.")
    baseline = Seen.baseline(service(events=[old_event]))
    snap = service(deployment("ecs-svc/4", OLD_TD, rollout="IN_PROGRESS"), events=[old_event])
    assert observe(snap, TARGET, baseline).decision is RolloutDecision.SUPERSEDED


def test_desired_count_zero_succeeds_saying_no_task_proved_healthy() -> None:
    snap = service(deployment(OURS, NEW_TD, rollout="COMPLETED", running=0, desired=0), running=0, desired=0)
    result = observe(snap, TARGET, Seen())
    assert result.decision is RolloutDecision.SUCCEEDED
    assert "no task proved healthy" in result.message


def test_new_events_are_returned_once_oldest_first() -> None:
    snap = service(
        deployment(OURS, NEW_TD),
        events=[event("b", "second"), event("a", "first")],
    )
    first = observe(snap, TARGET, Seen())
    assert [e.message for e in first.progress.new_events] == ["first", "second"]
    again = observe(snap, TARGET, first.seen)
    assert again.progress.new_events == ()


def test_progress_summarises_our_deployment_counts() -> None:
    snap = service(deployment(OURS, NEW_TD, running=1, pending=1, desired=3, failed=2), running=3)
    progress = observe(snap, TARGET, Seen()).progress
    assert (progress.running, progress.desired, progress.pending, progress.failed_tasks) == (1, 3, 1, 2)
    assert "running 1/3" in progress.summary()
    assert "2 failed tasks" in progress.summary()


def test_change_is_detected_only_when_the_snapshot_moves() -> None:
    snap = service(deployment(OURS, NEW_TD, running=1))
    first = observe(snap, TARGET, Seen())
    assert first.changed
    assert not observe(snap, TARGET, first.seen).changed
    moved = service(deployment(OURS, NEW_TD, running=2))
    assert observe(moved, TARGET, first.seen).changed


def test_failed_tasks_growth_is_flagged_only_when_the_count_rises() -> None:
    one = observe(service(deployment(OURS, NEW_TD, failed=1)), TARGET, Seen())
    assert one.failed_tasks_grew
    assert not observe(service(deployment(OURS, NEW_TD, failed=1)), TARGET, one.seen).failed_tasks_grew
    assert observe(service(deployment(OURS, NEW_TD, failed=2)), TARGET, one.seen).failed_tasks_grew


def test_deployment_not_listed_yet_is_in_progress() -> None:
    assert observe(service(), TARGET, Seen()).decision is RolloutDecision.IN_PROGRESS
