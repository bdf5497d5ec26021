"""One-off tasks, the pure part (releasectl/core/oneoff.py): RunTask's request, where a task logs, what
its end means, and what a revision records of a migration."""

from __future__ import annotations

from typing import Any

import pytest

from releasectl.core.deploy_plan import Revision
from releasectl.core.oneoff import (
    AwsLogs,
    TaskState,
    awslogs,
    deployed_by_no_one,
    ending,
    launch_settings,
    migration_tag_value,
    migrations_since,
    recorded_outcome,
    run_task_request,
)
from releasectl.core.result import Outcome

NETWORK = {
    "awsvpcConfiguration": {
        "subnets": ["subnet-1", "subnet-2"],
        "securityGroups": ["sg-1"],
        "assignPublicIp": "DISABLED",
    }
}
ARN = "arn:aws:ecs:eu-west-1:111122223333:task/web/0123456789abcdef0123456789abcdef"


def task(
    *, exit_code: int | None = None, reason: str | None = None, status: str = "STOPPED", **rest: Any
) -> Any:
    container: dict[str, Any] = {"name": "app"}
    if exit_code is not None:
        container["exitCode"] = exit_code
    data: dict[str, Any] = {"taskArn": ARN, "lastStatus": status, "containers": [container], **rest}
    if reason:
        data["stoppedReason"] = reason
    return data


def revision(n: int, tags: dict[str, str]) -> Revision:
    arn = f"arn:aws:ecs:eu-west-1:111122223333:task-definition/web:{n}"
    return Revision(definition={"taskDefinitionArn": arn, "revision": n}, tags=tags)


def test_the_request_runs_one_task_of_the_revision_with_the_command_and_the_client_token() -> None:
    request = run_task_request(
        cluster="web",
        task_definition="arn:td:7",
        container_name="app",
        command=["python", "-m", "service.migrate"],
        settings=launch_settings({"launchType": "FARGATE", "networkConfiguration": NETWORK}),
        client_token="a" * 32,
        started_by="releasectl-run",
    )
    assert request["count"] == 1
    assert request["taskDefinition"] == "arn:td:7"
    assert request["clientToken"] == "a" * 32
    assert request["overrides"] == {
        "containerOverrides": [{"name": "app", "command": ["python", "-m", "service.migrate"]}]
    }
    assert request["networkConfiguration"] == NETWORK
    assert request["launchType"] == "FARGATE"


def test_a_client_token_longer_than_ecs_takes_is_refused() -> None:
    with pytest.raises(ValueError):
        run_task_request(
            cluster="web",
            task_definition="arn:td:7",
            container_name="app",
            command=["true"],
            settings={},
            client_token="x" * 65,
            started_by="releasectl-run",
        )


def test_a_service_on_capacity_providers_runs_its_one_off_tasks_on_them_too() -> None:
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    settings = launch_settings({"capacityProviderStrategy": strategy, "platformVersion": "1.4.0"})
    assert settings == {"capacityProviderStrategy": strategy, "platformVersion": "1.4.0"}


def test_exit_0_succeeds_and_a_non_zero_exit_fails_naming_the_code() -> None:
    assert ending(TaskState.from_api(task(exit_code=0), "app"))[0] is Outcome.SUCCEEDED
    outcome, message = ending(
        TaskState.from_api(task(exit_code=3, reason="Essential container in task exited"), "app")
    )
    assert outcome is Outcome.FAILED
    assert "exited 3" in message


def test_a_task_that_never_ran_its_command_could_not_start_and_says_ecss_reason() -> None:
    stopped = task(reason="CannotPullContainerError: pull access denied", stopCode="TaskFailedToStart")
    outcome, message = ending(TaskState.from_api(stopped, "app"))
    assert outcome is Outcome.FAILED
    assert "could not start" in message
    assert "CannotPullContainerError: pull access denied" in message


def test_the_awslogs_stream_of_a_task_is_prefix_container_task_id() -> None:
    definition = {
        "containerDefinitions": [
            {
                "name": "app",
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/ecs/web", "awslogs-stream-prefix": "app"},
                },
            },
            {"name": "sidecar", "logConfiguration": {"logDriver": "awsfirelens", "options": {}}},
        ]
    }
    (found,) = awslogs(definition)
    assert found == AwsLogs(container="app", group="/ecs/web", stream_prefix="app", region=None)
    assert found.stream("abc") == "app/app/abc"
    assert AwsLogs("app", "/ecs/web", None, None).stream("abc") == "abc"


def test_a_failed_migration_reads_in_the_ledger_as_failed_with_its_exit() -> None:
    state = TaskState.from_api(task(exit_code=3), "app")
    tags = {"releasectl:outcome": "failed", "releasectl:migration": migration_tag_value(state)}
    assert recorded_outcome(tags) == "failed (migration exit 3)"
    never = TaskState.from_api(task(reason="CannotPullContainerError"), "app")
    assert recorded_outcome(
        {"releasectl:outcome": "failed", "releasectl:migration": migration_tag_value(never)}
    ) == ("failed (migration not started)")
    assert (
        recorded_outcome({"releasectl:outcome": "succeeded", "releasectl:migration": "exit 0"}) == "succeeded"
    )


def test_a_revision_registered_for_a_one_off_task_records_no_deployment_until_it_has_an_outcome() -> None:
    assert deployed_by_no_one({"releasectl:one-off": "run", "releasectl:version": "1.2.0"})
    assert not deployed_by_no_one({"releasectl:one-off": "migrate", "releasectl:outcome": "failed"})
    assert not deployed_by_no_one({"releasectl:version": "1.2.0"})


def test_the_migrations_a_rollback_leaves_in_place_are_those_of_newer_versions_that_ran() -> None:
    revisions = [
        revision(9, {"releasectl:version": "1.4.0", "releasectl:migration": "exit 0"}),
        revision(8, {"releasectl:version": "1.3.0", "releasectl:migration": "exit 2"}),
        revision(7, {"releasectl:version": "1.3.0"}),
        revision(6, {"releasectl:version": "1.2.1", "releasectl:migration": "exit 0"}),
        revision(5, {"releasectl:version": "1.1.0", "releasectl:migration": "exit 0"}),
    ]
    found = migrations_since("1.2.0", revisions)
    assert [item["version"] for item in found] == ["1.4.0", "1.2.1"]
    assert found[0]["task_definition"].endswith(":9")
    assert migrations_since("1.4.0", revisions) == []
