"""Failure evidence gathered against scripted AWS (releasectl/commands/evidence.py): what a rolled-back
deploy carries, in at most six API calls, and what it says when a call fails."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from releasectl.adapters.aws.clients import AwsClients
from releasectl.commands.deploy import run_deploy
from releasectl.commands.evidence import deployment_evidence
from releasectl.core.evidence import EVIDENCE_CALLS
from releasectl.core.result import Outcome
from tests.support.scripted_ecs import (
    REPO_URI,
    T0,
    Rollout,
    ScriptedEcs,
    api,
    client_error,
    deployment,
    digest,
    event,
    make_context,
    release,
    service_frame,
    task_definition_body,
)

TARGET_GROUP = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"
OURS = "ecs-svc/2000000000000000001"  # the id ScriptedEcs gives the first deployment update_service starts
ROLLBACK = "ecs-svc/3000000000000000001"
RELEASES = [release("1.2.0", 2), release("1.1.0", 1)]


def failed_then_rolled_back(r: Rollout) -> dict[str, Any]:
    return service_frame(
        r,
        [deployment(ROLLBACK, r.old_td, rollout="COMPLETED", running=r.desired, desired=r.desired)],
        running=r.desired,
        events=[
            event(
                "e1",
                f"(service web) (deployment {r.new_id}) deployment failed: tasks failed to start.",
                at=T0 + timedelta(minutes=11),
            ),
            event(
                "e2", f"(service web) rolling back to deployment {ROLLBACK}.", at=T0 + timedelta(minutes=11)
            ),
        ],
    )


@dataclass
class Elbv2:
    calls: int = 0
    fail: bool = False

    def describe_target_health(self, **params: Any) -> dict[str, Any]:
        self.calls += 1
        assert params == {"TargetGroupArn": TARGET_GROUP}
        if self.fail:
            raise client_error("DescribeTargetHealth", "AccessDenied", "not allowed")
        return {
            "TargetHealthDescriptions": [
                {"Target": {"Id": "10.0.1.7", "Port": 8080}, "TargetHealth": {"State": "healthy"}},
                {
                    "Target": {"Id": "10.0.1.9", "Port": 8080},
                    "TargetHealth": {
                        "State": "unhealthy",
                        "Reason": "Target.ResponseCodeMismatch",
                        "Description": "Health checks failed with these codes: [500]",
                    },
                },
            ]
        }


@dataclass
class Logs:
    streams: dict[str, list[str]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def filter_log_events(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        events = [
            {"logStreamName": name, "timestamp": i, "eventId": f"{name}/{i}", "message": line + "\n"}
            for name in params.get("logStreamNames") or ()
            for i, line in enumerate(self.streams.get(name, ()))
        ]
        return {"events": sorted(events, key=lambda e: e["timestamp"])}


def world() -> tuple[ScriptedEcs, Elbv2, Logs, Any]:
    fake = ScriptedEcs(script=[failed_then_rolled_back])
    body = task_definition_body(image=f"{REPO_URI}@{digest(1)}")
    body["containerDefinitions"][0]["logConfiguration"] = {
        "logDriver": "awslogs",
        "options": {"awslogs-group": "/ecs/web", "awslogs-stream-prefix": "app"},
    }
    running = fake.add_revision(body, tags={"releasectl:version": "1.1.0", "releasectl:outcome": "succeeded"})
    fake.start_service(running)
    fake.service["loadBalancers"] = [
        {"targetGroupArn": TARGET_GROUP, "containerName": "app", "containerPort": 8080}
    ]
    fake.add_stopped_tasks(2, started_by=OURS, reason="Essential container in task exited", exit_code=3)
    fake.add_stopped_tasks(1, started_by="ecs-svc/1111111111111111111", reason="Scaling activity initiated")
    elbv2 = Elbv2()
    lines = [f"line {n}" for n in range(30)] + [
        "Traceback (most recent call last):",
        "KeyError: 'DATABASE_URL'",
    ]
    logs = Logs({f"app/app/{t['taskArn'].rsplit('/', 1)[-1]}": lines for t in fake.stopped[:2]})
    ctx = make_context()
    clients = AwsClients(region="us-east-1", profile=None, endpoint_url=None)
    clients.set_client("ecs", fake)
    clients.set_client("elbv2", elbv2)
    clients.set_client("logs", logs)
    ctx._aws = clients
    return fake, elbv2, logs, ctx


def deploy(fake: ScriptedEcs, ctx: Any) -> Any:
    return run_deploy(
        ctx,
        api(fake),
        RELEASES,
        version="1.2.0",
        timeout=600,
        wait=True,
        repository_uri=lambda: REPO_URI,
        rng=random.Random(7),
    )


def test_a_rolled_back_deploy_carries_why_stopped_tasks_last_lines_target_health_and_events() -> None:
    fake, _, _, ctx = world()
    result = deploy(fake, ctx)
    assert result.outcome is Outcome.ROLLED_BACK
    evidence = result.extra["evidence"]
    assert evidence["deployment_id"] == OURS
    tasks = evidence["stopped_tasks"]
    assert len(tasks) == 2  # ours only: the old deployment's scaled-in task is not evidence
    assert all(t["exit_codes"] == {"app": 3} and t["failed"] for t in tasks)
    assert tasks[0]["log_tail"][-1] == "KeyError: 'DATABASE_URL'"
    assert len(tasks[0]["log_tail"]) == 20
    assert [t["state"] for t in evidence["target_health"]] == ["healthy", "unhealthy"]
    assert evidence["target_health"][1]["reason"] == "Target.ResponseCodeMismatch"
    assert any("deployment failed" in e["message"] for e in evidence["events"])
    assert evidence["summary"].startswith("2 tasks failed: Essential container in task exited (app: exit 3)")


def test_gathering_the_evidence_makes_at_most_six_calls() -> None:
    fake, elbv2, logs, ctx = world()
    deploy(fake, ctx)  # the rollout, and its own evidence: then count a gathering alone
    before, elbv2.calls = len(fake.calls), 0
    logs.calls.clear()
    evidence = deployment_evidence(
        ctx, api(fake), deployment_id=OURS, task_definition=fake.service["taskDefinition"]
    )
    made = len(fake.calls) - before + elbv2.calls + len(logs.calls)
    assert EVIDENCE_CALLS == 6
    assert made == evidence.calls == 6
    (read,) = logs.calls
    assert sorted(read["logStreamNames"]) == sorted(f"app/app/{t.id}" for t in evidence.tasks)


def test_a_call_that_fails_becomes_a_note_and_the_outcome_stands() -> None:
    fake, elbv2, _, ctx = world()
    elbv2.fail = True
    result = deploy(fake, ctx)
    assert result.outcome is Outcome.ROLLED_BACK
    evidence = result.extra["evidence"]
    assert evidence["target_health"] == []
    assert any("target health: not read" in note and "access denied" in note for note in evidence["notes"])
    assert evidence["stopped_tasks"]


def test_a_deploy_that_succeeds_gathers_no_evidence() -> None:
    fake, elbv2, logs, ctx = world()

    def completed(r: Rollout) -> dict[str, Any]:
        return service_frame(
            r,
            [deployment(r.new_id, r.new_td, rollout="COMPLETED", running=r.desired, desired=r.desired)],
            running=2,
        )

    fake.script = [completed]
    result = deploy(fake, ctx)
    assert result.outcome is Outcome.SUCCEEDED
    assert "evidence" not in result.extra
    assert "list_tasks" not in fake.operations()
    assert elbv2.calls == 0 and logs.calls == []


def test_the_text_output_shows_the_evidence_as_a_panel(capsys: Any) -> None:
    from releasectl.cli.render import write_result

    fake, _, _, ctx = world()
    result = deploy(fake, ctx)
    write_result(copy.deepcopy(result), json_output=False)
    out = capsys.readouterr().out
    assert "  why      2 tasks failed" in out
    assert "           | KeyError: 'DATABASE_URL'" in out
    assert "  target   10.0.1.9:8080 unhealthy (Target.ResponseCodeMismatch" in out
