"""Failure evidence, the pure part (releasectl/core/evidence.py): which stopped tasks failed, the last
lines of each, the events of our deployment, the summary and the panel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from releasectl.core.evidence import (
    Evidence,
    events_since,
    panel_lines,
    stopped_task,
    tails,
    target_health,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def task(
    n: int, reason: str, *, exit_code: int | None = 1, stop_code: str = "EssentialContainerExited"
) -> Any:
    container: dict[str, Any] = {"name": "app"}
    if exit_code is not None:
        container["exitCode"] = exit_code
    return {
        "taskArn": f"arn:aws:ecs:eu-west-1:111122223333:task/web/{n:032x}",
        "stoppedReason": reason,
        "stopCode": stop_code,
        "containers": [container],
        "createdAt": T0,
    }


def test_a_task_that_exited_non_zero_or_failed_health_checks_failed_and_a_scaled_in_one_did_not() -> None:
    assert stopped_task(task(1, "Essential container in task exited")).failed
    assert stopped_task(task(2, "Task failed ELB health checks in (target-group x)", exit_code=137)).failed
    assert stopped_task(
        task(3, "CannotPullContainerError: denied", exit_code=None, stop_code="TaskFailedToStart")
    ).failed
    scaled = task(
        4,
        "Scaling activity initiated by (deployment ecs-svc/1)",
        exit_code=0,
        stop_code="ServiceSchedulerInitiated",
    )
    assert not stopped_task(scaled).failed


def test_each_failed_tasks_last_20_lines_are_kept_in_order() -> None:
    streams = {"app/app/one": "one", "app/app/two": "two"}
    events = [
        {"logStreamName": "app/app/one", "timestamp": i, "eventId": f"{i:04d}", "message": f"one {i}\n"}
        for i in range(30)
    ] + [{"logStreamName": "app/app/two", "timestamp": 5, "eventId": "x", "message": "two only"}]
    found = tails(events, streams)
    assert found["one"] == [f"one {i}" for i in range(10, 30)]
    assert found["two"] == ["two only"]


def test_only_the_events_since_the_deployment_began_are_kept_oldest_first() -> None:
    service = {
        "events": [
            {"createdAt": T0 + timedelta(minutes=2), "message": "(service web) deployment failed"},
            {"createdAt": T0 + timedelta(minutes=1), "message": "(service web) has started 2 tasks"},
            {"createdAt": T0 - timedelta(minutes=5), "message": "(service web) has reached a steady state."},
        ]
    }
    assert [m for _, m in events_since(service, T0)] == [
        "(service web) has started 2 tasks",
        "(service web) deployment failed",
    ]


def test_the_summary_groups_the_failed_tasks_reasons_and_names_the_unhealthy_targets() -> None:
    evidence = Evidence(
        tasks=tuple(stopped_task(task(n, "Essential container in task exited")) for n in (1, 2)),
        targets=tuple(
            target_health(
                [
                    {"Target": {"Id": "10.0.1.5", "Port": 8080}, "TargetHealth": {"State": "healthy"}},
                    {
                        "Target": {"Id": "10.0.1.6", "Port": 8080},
                        "TargetHealth": {
                            "State": "unhealthy",
                            "Reason": "Target.ResponseCodeMismatch",
                            "Description": "Health checks failed with these codes: [500]",
                        },
                    },
                ]
            )
        ),
    )
    assert evidence.summary() == (
        "2 tasks failed: Essential container in task exited (app: exit 1) x2; "
        "1 target Target.ResponseCodeMismatch"
    )


def test_the_panel_shows_tasks_with_their_last_lines_targets_and_events() -> None:
    evidence = Evidence(
        tasks=(stopped_task(task(1, "Essential container in task exited"), log_tail=["boom", "Traceback"]),),
        events=(("2025-03-01T12:01:00+00:00", "(service web) deployment failed"),),
        notes=("the load balancer's target health: not read (access denied)",),
        calls=5,
    ).to_json()
    lines = panel_lines(evidence)
    assert lines[0].startswith("  why      1 task failed")
    assert any("exit 1" in line and "failed" in line for line in lines)
    assert "           | boom" in lines
    assert any(line.startswith("  event    ") for line in lines)
    assert any(line.startswith("  note     ") for line in lines)
    assert evidence["api_calls"] == 5
