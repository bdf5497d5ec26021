"""`releasectl run` against a scripted ECS (releasectl/commands/run.py): which revision runs, what
RunTask is asked, how the task's end maps to the outcome, timeouts and Ctrl-C. The sandbox runs the
same command for real in tests/sandbox/test_operations.py."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from releasectl.adapters.aws.clients import AwsClients
from releasectl.commands import run as run_module
from releasectl.core.errors import EnvironmentProblem, Interrupted
from releasectl.core.result import Outcome
from tests.support.scripted_ecs import (
    REPO_URI,
    ScriptedEcs,
    _validate,
    client_error,
    digest,
    make_context,
    release,
    task_definition_body,
)

TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/web/" + "c" * 32
NETWORK = {
    "awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}
}
RELEASES = [release("1.1.0", 1), release("1.2.0", 2)]


def state(
    last: str, *, exit_code: int | None = None, reason: str | None = None, code: str | None = None
) -> Any:
    container: dict[str, Any] = {"name": "app", "lastStatus": last}
    if exit_code is not None:
        container["exitCode"] = exit_code
    task: dict[str, Any] = {
        "taskArn": TASK_ARN,
        "lastStatus": last,
        "desiredStatus": "STOPPED" if last == "STOPPED" else "RUNNING",
        "containers": [container],
        "startedBy": "releasectl-run",
    }
    if reason:
        task["stoppedReason"] = reason
    if code:
        task["stopCode"] = code
    return task


@dataclass
class OneOffEcs(ScriptedEcs):
    """ScriptedEcs plus one one-off task: RunTask answers it, DescribeTasks walks `states`."""

    states: list[dict[str, Any]] = field(default_factory=list)
    run_failures: list[dict[str, Any]] = field(default_factory=list)
    described: int = 0

    def run_task(self, **kwargs: Any) -> dict[str, Any]:
        self._record("run_task", kwargs)
        _validate("RunTask", kwargs)
        if self.run_failures:
            return {"tasks": [], "failures": self.run_failures}
        return {"tasks": [state("PROVISIONING")], "failures": []}

    def describe_tasks(self, *, cluster: str, tasks: list[str], **kw: Any) -> dict[str, Any]:
        if tasks != [TASK_ARN]:
            return super().describe_tasks(cluster=cluster, tasks=tasks, **kw)
        self._record("describe_tasks", {"cluster": cluster, "tasks": tasks})
        found = self.states[min(self.described, len(self.states) - 1)]
        self.described += 1
        return {"tasks": [copy.deepcopy(found)], "failures": []}

    def stop_task(self, **kwargs: Any) -> dict[str, Any]:
        self._record("stop_task", kwargs)
        return {"task": state("STOPPED", exit_code=143)}


@dataclass
class TaskLogs:
    """GetLogEvents of the one-off task's stream: every line there from the start."""

    lines: list[str]
    reads: list[dict[str, Any]] = field(default_factory=list)

    def get_log_events(self, **params: Any) -> dict[str, Any]:
        self.reads.append(params)
        token = params.get("nextToken")
        start = int(token.split("/")[1]) if token else 0
        page = self.lines[start:]
        events = [{"timestamp": 0, "message": text + "\n"} for text in page]
        return {"events": events, "nextForwardToken": f"f/{start + len(page)}"}


class FakeEcr:
    def describe_repositories(self, **_: Any) -> dict[str, Any]:
        return {
            "repositories": [
                {
                    "repositoryName": "hello-world",
                    "repositoryUri": REPO_URI,
                    "registryId": "123456789012",
                    "repositoryArn": "arn:aws:ecr:us-east-1:123456789012:repository/hello-world",
                }
            ]
        }


def with_awslogs(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["containerDefinitions"][0]["logConfiguration"] = {
        "logDriver": "awslogs",
        "options": {"awslogs-group": "/ecs/hello-world", "awslogs-stream-prefix": "app"},
    }
    return body


def world(
    states: list[dict[str, Any]],
    lines: list[str] | None = None,
    *,
    running_release: Any = RELEASES[0],
    **fake: Any,
) -> tuple[OneOffEcs, TaskLogs, Any]:
    ecs = OneOffEcs(states=states, **fake)
    running = ecs.add_revision(
        with_awslogs(task_definition_body(image=f"{REPO_URI}@{running_release.digest}")),
        tags={"releasectl:version": running_release.version, "releasectl:outcome": "succeeded"},
    )
    ecs.start_service(running)
    ecs.service["networkConfiguration"] = NETWORK
    logs = TaskLogs(lines or [])
    ctx = make_context()
    clients = AwsClients(region="us-east-1", profile=None, endpoint_url=None)
    clients.set_client("ecs", ecs)
    clients.set_client("logs", logs)
    clients.set_client("ecr", FakeEcr())
    ctx._aws = clients
    return ecs, logs, ctx


def run(ctx: Any, *command: str, **options: Any) -> Any:
    settings: dict[str, Any] = {"version": None, "wait": True, "timeout": 600, "stop_on_interrupt": False}
    settings.update(options)
    return run_module.run(ctx, command=list(command) or ["python", "-m", "service.migrate"], **settings)


@pytest.fixture(autouse=True)
def ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("releasectl.commands.deploy.load_releases", lambda ctx: list(RELEASES))


def test_the_task_runs_the_running_revision_with_the_services_network_and_the_command() -> None:
    ecs, _, ctx = world([state("RUNNING"), state("STOPPED", exit_code=0)])
    result = run(ctx, "python", "-m", "service.migrate")
    ((_, request),) = [c for c in ecs.calls if c[0] == "run_task"]
    assert request["taskDefinition"] == ecs.service["taskDefinition"]
    assert request["networkConfiguration"] == NETWORK
    assert request["overrides"]["containerOverrides"] == [
        {"name": "app", "command": ["python", "-m", "service.migrate"]}
    ]
    assert len(request["clientToken"]) == 32
    assert "register_task_definition" not in ecs.operations()
    assert (result.outcome, result.extra["exit_code"], result.version) == (Outcome.SUCCEEDED, 0, "1.1.0")


def test_the_tasks_output_is_streamed_and_a_non_zero_exit_fails_with_its_code_and_last_lines() -> None:
    lines = [f"migrating step {n}" for n in range(25)]
    _, _, ctx = world(
        [state("RUNNING"), state("STOPPED", exit_code=3, reason="Essential container in task exited")], lines
    )
    result = run(ctx)
    assert result.outcome is Outcome.FAILED
    assert int(result.exit_code) == 1
    assert result.extra["exit_code"] == 3
    assert "exited 3" in result.message
    assert ctx.reporter.texts("log") == lines
    (stopped,) = result.extra["evidence"]["stopped_tasks"]
    assert stopped["log_tail"] == lines[-20:]


def test_a_task_ecs_could_not_start_fails_with_ecss_reason() -> None:
    reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s)"
    _, _, ctx = world([state("STOPPED", reason=reason, code="TaskFailedToStart")])
    result = run(ctx)
    assert result.outcome is Outcome.FAILED
    assert result.extra["exit_code"] is None
    assert "could not start" in result.message and reason in result.message


def test_run_task_that_places_no_task_fails_with_the_failure_ecs_gave() -> None:
    failures = [{"arn": "arn:aws:ecs:us-east-1:123456789012:cluster/web", "reason": "RESOURCE:MEMORY"}]
    _, _, ctx = world([], run_failures=failures)
    result = run(ctx)
    assert result.outcome is Outcome.FAILED
    assert "RESOURCE:MEMORY" in result.message
    assert result.extra["evidence"]["summary"].endswith("RESOURCE:MEMORY")


def test_giving_up_after_the_timeout_is_exit_3_and_leaves_the_task_running_named() -> None:
    ecs, _, ctx = world([state("RUNNING")])
    result = run(ctx, timeout=30)
    assert result.outcome is Outcome.TIMED_OUT
    assert int(result.exit_code) == 3
    assert "c" * 32 in result.message and "left running" in result.message
    assert "stop_task" not in ecs.operations()


def test_no_wait_returns_once_the_task_is_started() -> None:
    ecs, _, ctx = world([state("RUNNING")])
    result = run(ctx, wait=False)
    assert result.outcome is Outcome.SUCCEEDED
    assert "describe_tasks" not in ecs.operations()
    assert result.extra["task_id"] == "c" * 32


def test_a_version_the_service_never_ran_gets_a_one_off_revision_that_no_rollback_counts_as_deployed() -> (
    None
):
    ecs, _, ctx = world([state("STOPPED", exit_code=0)], running_release=RELEASES[1])
    result = run(ctx, version="1.1.0")
    ((_, registered),) = [c for c in ecs.calls if c[0] == "register_task_definition"]
    tags = {t["key"]: t["value"] for t in registered["tags"]}
    assert tags["releasectl:one-off"] == "run"
    assert tags["releasectl:version"] == "1.1.0"
    assert registered["containerDefinitions"][0]["image"] == f"{REPO_URI}@{digest(1)}"
    ((_, request),) = [c for c in ecs.calls if c[0] == "run_task"]
    assert request["taskDefinition"] == result.extra["task_definition"]
    assert result.extra["registered"] is True

    from releasectl.core.rollback_target import check_named_target
    from tests.support.scripted_ecs import api

    history = api(ecs)
    current = history.describe_task_definition(ecs.service["taskDefinition"])
    with pytest.raises(EnvironmentProblem, match="never been deployed"):
        check_named_target(
            target=RELEASES[0],
            running=current,
            history=history.history(current.family, skip=[current.arn]),
            releases=RELEASES,
            container_name="app",
            service="hello-world",
            force=False,
        )


def test_a_second_run_of_that_version_reuses_its_revision() -> None:
    ecs, _, ctx = world([state("STOPPED", exit_code=0)])
    first = run(ctx, version="1.2.0")
    second = run(ctx, version="1.2.0")
    assert ecs.count("register_task_definition") == 1
    assert second.extra["task_definition"] == first.extra["task_definition"]
    assert second.extra["registered"] is False


def test_an_unknown_version_is_exit_4_before_any_task_starts() -> None:
    ecs, _, ctx = world([])
    with pytest.raises(EnvironmentProblem, match=r"9\.9\.9"):
        run(ctx, version="9.9.9")
    assert ecs.calls == []


def interrupting(ecs: OneOffEcs) -> Callable[..., Any]:
    original = ecs.describe_tasks

    def describe(**kwargs: Any) -> dict[str, Any]:
        if ecs.described >= 2:
            raise KeyboardInterrupt
        return original(**kwargs)

    return describe


@pytest.mark.parametrize(
    ("stop_flag", "answer", "stopped"),
    [(True, None, True), (False, True, True), (False, False, False), (False, None, False)],
)
def test_ctrl_c_stops_the_task_only_when_told_to(stop_flag: bool, answer: bool | None, stopped: bool) -> None:
    ecs, _, ctx = world([state("RUNNING")])
    ecs.describe_tasks = interrupting(ecs)  # type: ignore[method-assign]
    ask = (lambda question: answer) if answer is not None else None
    with pytest.raises(Interrupted) as caught:
        run(ctx, stop_on_interrupt=stop_flag, ask=ask)
    assert ("stop_task" in ecs.operations()) is stopped
    if stopped:
        assert "asked to stop" in caught.value.message
    else:
        assert "still running" in caught.value.message
        if answer is None:
            assert "no terminal to ask" in caught.value.message


def test_an_unreadable_log_stream_still_ends_with_the_tasks_exit() -> None:
    _, logs, ctx = world([state("RUNNING"), state("STOPPED", exit_code=0)])

    def missing(**params: Any) -> Any:
        raise client_error(
            "GetLogEvents", "ResourceNotFoundException", "The specified log stream does not exist."
        )

    logs.get_log_events = missing  # type: ignore[method-assign]
    result = run(ctx)
    assert result.outcome is Outcome.SUCCEEDED
    assert any("wrote no log stream" in text for text in ctx.reporter.texts("info"))
