"""`deploy` over time against a scripted ECS: each rollout story ends in the true outcome."""

from __future__ import annotations

import random
from typing import Any

import pytest

from releasectl.commands.deploy import deploy, run_deploy
from releasectl.commands.rollout_waiter import ROLLOUT_BACKOFF
from releasectl.core.errors import EnvironmentProblem, ExitCode, Interrupted, OperationFailed, UsageError
from releasectl.core.result import CommandResult, Outcome
from tests.support.scripted_ecs import (
    REPO_URI,
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

RELEASES = [release("1.1.0", 1), release("1.2.0", 2)]


def service_running_1_1_0(**options: Any) -> ScriptedEcs:
    fake = ScriptedEcs(**options)
    current = fake.add_revision(tags={"releasectl:version": "1.1.0", "releasectl:outcome": "succeeded"})
    fake.start_service(current)
    return fake


def run(
    fake: ScriptedEcs,
    *,
    version: str | None = "1.2.0",
    timeout: int | None = None,
    wait: bool = True,
    ctx: Any = None,
    ecs: Any = None,
    seed: int = 7,
) -> tuple[CommandResult, Any]:
    """run_deploy on `fake`, called directly unless `ecs` is an EcsApi over another client."""
    ctx = ctx or make_context()
    result = run_deploy(
        ctx,
        ecs or api(fake),
        RELEASES,
        version=version,
        timeout=timeout,
        wait=wait,
        repository_uri=lambda: REPO_URI,
        rng=random.Random(seed),
    )
    return result, ctx


# ----------------------------------------------------------------------------- frames


def progressing(running: int, *, failed: int = 0, pending: int = 0) -> Any:
    def frame(r: Rollout) -> dict[str, Any]:
        return service_frame(
            r,
            [
                deployment(
                    r.new_id, r.new_td, running=running, pending=pending, failed=failed, desired=r.desired
                ),
                deployment(
                    r.old_id,
                    r.old_td,
                    status="ACTIVE",
                    rollout="COMPLETED",
                    running=r.desired,
                    desired=r.desired,
                ),
            ],
            running=r.desired + running,
        )

    return frame


def completed(r: Rollout) -> dict[str, Any]:
    return service_frame(
        r,
        [deployment(r.new_id, r.new_td, rollout="COMPLETED", running=r.desired, desired=r.desired)],
        running=r.desired,
        events=[event("e-done", f"(service {r.service_name}) (deployment {r.new_id}) deployment completed.")],
    )


ROLLBACK_ID = "ecs-svc/3000000000000000001"


def ours_failed(r: Rollout) -> dict[str, Any]:
    return service_frame(
        r,
        [
            deployment(ROLLBACK_ID, r.old_td, rollout="IN_PROGRESS", running=r.desired, desired=r.desired),
            deployment(
                r.new_id,
                r.new_td,
                status="ACTIVE",
                rollout="FAILED",
                failed=3,
                desired=r.desired,
                reason="ECS deployment circuit breaker: tasks failed to start.",
            ),
        ],
        running=r.desired,
        events=failure_events(r),
    )


def failure_events(r: Rollout) -> list[dict[str, Any]]:
    return [
        event(
            "e-fail",
            f"(service {r.service_name}) (deployment {r.new_id}) deployment failed: tasks failed to start.",
        ),
        event("e-back", f"(service {r.service_name}) rolling back to deployment {ROLLBACK_ID}."),
    ]


def rollback_finished(r: Rollout) -> dict[str, Any]:
    return service_frame(
        r,
        [deployment(ROLLBACK_ID, r.old_td, rollout="COMPLETED", running=r.desired, desired=r.desired)],
        running=r.desired,
        events=[
            *failure_events(r),
            event("e-steady", f"(service {r.service_name}) has reached a steady state."),
        ],
    )


def stable_but_in_progress(r: Rollout) -> dict[str, Any]:
    return service_frame(
        r,
        [deployment(r.new_id, r.new_td, rollout="IN_PROGRESS", running=r.desired, desired=r.desired)],
        running=r.desired,
    )


OTHER_TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/hello-world:99"


def someone_else_deploys(r: Rollout) -> dict[str, Any]:
    return service_frame(
        r,
        [
            deployment("ecs-svc/9999999999999999999", OTHER_TD, rollout="IN_PROGRESS", desired=r.desired),
            deployment(r.new_id, r.new_td, status="ACTIVE", running=1, desired=r.desired),
            deployment(
                r.old_id, r.old_td, status="ACTIVE", rollout="COMPLETED", running=r.desired, desired=r.desired
            ),
        ],
        running=r.desired + 1,
    )


# ----------------------------------------------------------------------------- outcomes


def test_deploy_succeeds_when_our_deployment_goes_from_in_progress_to_completed() -> None:
    fake = service_running_1_1_0(script=[progressing(1), progressing(1), completed])
    result, _ = run(fake)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.exit_code is ExitCode.OK
    assert result.extra["deployment_id"] == "ecs-svc/2000000000000000001"
    assert fake.tags[result.extra["task_definition"]]["releasectl:outcome"] == "succeeded"


def test_deploy_result_names_service_task_definition_deployment_and_image() -> None:
    fake = service_running_1_1_0(script=[completed])
    result, _ = run(fake)
    data = result.to_json()
    assert data["service"] == "hello-world"
    assert data["task_definition"].endswith("task-definition/hello-world:2")
    assert data["deployment_id"] == "ecs-svc/2000000000000000001"
    assert data["image"] == {
        "repository": "hello-world",
        "digest": digest(2),
        "uri": f"{REPO_URI}@{digest(2)}",
    }
    assert data["version"] == "1.2.0"


def test_deploy_registers_the_digest_for_the_app_container_only() -> None:
    fake = service_running_1_1_0(script=[completed])
    run(fake)
    ((_, registered),) = [c for c in fake.calls if c[0] == "register_task_definition"]
    app, sidecar = registered["containerDefinitions"]
    assert app["image"] == f"{REPO_URI}@{digest(2)}"
    assert sidecar == task_definition_body()["containerDefinitions"][1]
    assert {t["key"]: t["value"] for t in registered["tags"]} == {
        "releasectl:version": "1.2.0",
        "releasectl:commit": f"{2:040x}",
    }
    ((_, update),) = [c for c in fake.calls if c[0] == "update_service"]
    assert update["taskDefinition"].endswith(":2")
    assert update["forceNewDeployment"] is False


def test_deploy_reports_rolled_back_when_it_saw_our_deployment_fail() -> None:
    fake = service_running_1_1_0(script=[progressing(0, failed=2), ours_failed, rollback_finished])
    result, _ = run(fake)
    assert result.outcome is Outcome.ROLLED_BACK
    assert result.exit_code is ExitCode.FAILED
    assert "circuit breaker" in result.message
    assert fake.tags[result.extra["task_definition"]]["releasectl:outcome"] == "rolled_back"


def test_deploy_reports_rolled_back_when_it_only_sees_the_finished_rollback() -> None:
    # The first poll after update_service already shows the old revision steady again:
    # exactly the state services_stable would call a success.
    fake = service_running_1_1_0(script=[rollback_finished])
    result, _ = run(fake)
    assert result.outcome is Outcome.ROLLED_BACK
    assert result.exit_code is ExitCode.FAILED
    assert ROLLBACK_ID in result.message


def test_deploy_is_not_a_success_while_the_service_is_stable_but_the_rollout_not_completed() -> None:
    fake = service_running_1_1_0(script=[stable_but_in_progress])
    result, _ = run(fake, timeout=120)
    assert result.outcome is Outcome.TIMED_OUT
    assert result.exit_code is ExitCode.TIMED_OUT
    assert "IN_PROGRESS" in result.message
    assert "running 2/2" in result.message


def test_deploy_times_out_while_progressing_honouring_the_users_timeout() -> None:
    fake = service_running_1_1_0(script=[progressing(1)])
    result, ctx = run(fake, timeout=45, ctx=make_context(deploy_timeout=900))
    assert result.outcome is Outcome.TIMED_OUT
    assert result.exit_code is ExitCode.TIMED_OUT
    assert ctx.clock.now() == pytest.approx(45)
    assert "last seen" in result.message
    assert "running 1/2" in result.message
    assert fake.tags[result.extra["task_definition"]]["releasectl:outcome"] == "timed_out"


def test_deploy_timeout_defaults_to_the_configured_deploy_timeout() -> None:
    fake = service_running_1_1_0(script=[progressing(1)])
    result, ctx = run(fake, ctx=make_context(deploy_timeout=300))
    assert result.outcome is Outcome.TIMED_OUT
    assert ctx.clock.now() == pytest.approx(300)


def test_deploy_reports_superseded_when_someone_else_deploys_mid_wait() -> None:
    fake = service_running_1_1_0(script=[progressing(1), someone_else_deploys])
    result, _ = run(fake)
    assert result.outcome is Outcome.SUPERSEDED
    assert result.exit_code is ExitCode.CONFLICT
    assert "ecs-svc/9999999999999999999" in result.message
    assert fake.tags[result.extra["task_definition"]]["releasectl:outcome"] == "superseded"


def test_deploy_reports_failed_when_the_circuit_breaker_does_not_roll_back() -> None:
    def failed_in_place(r: Rollout) -> dict[str, Any]:
        return service_frame(
            r,
            [
                deployment(
                    r.new_id,
                    r.new_td,
                    rollout="FAILED",
                    failed=4,
                    desired=r.desired,
                    reason="ECS deployment circuit breaker: tasks failed to start.",
                )
            ],
            running=0,
        )

    fake = service_running_1_1_0(script=[failed_in_place], circuit_breaker_rollback=False)
    result, _ = run(fake)
    assert result.outcome is Outcome.FAILED
    assert result.exit_code is ExitCode.FAILED


def test_deploy_with_desired_count_zero_succeeds_saying_no_task_proved_healthy() -> None:
    fake = service_running_1_1_0(desired=0, script=[completed])
    result, _ = run(fake)
    assert result.outcome is Outcome.SUCCEEDED
    assert "no task proved healthy" in result.message


def test_deploy_of_the_version_already_running_steadily_is_a_noop() -> None:
    fake = service_running_1_1_0()
    result, _ = run(fake, version="1.1.0")
    assert result.outcome is Outcome.NOOP
    assert result.exit_code is ExitCode.OK
    assert "register_task_definition" not in fake.operations()
    assert "update_service" not in fake.operations()


def test_deploy_defaults_to_the_newest_version() -> None:
    fake = service_running_1_1_0(script=[completed])
    result, _ = run(fake, version=None)
    assert result.version == "1.2.0"


def test_no_wait_starts_the_deployment_and_says_it_is_not_verified() -> None:
    fake = service_running_1_1_0(script=[completed])
    result, ctx = run(fake, wait=False)
    assert result.outcome is Outcome.SUCCEEDED
    assert "not verified" in result.message
    assert result.extra["verified"] is False
    assert fake.count("describe_services") == 1
    assert "releasectl:outcome" not in fake.tags[result.extra["task_definition"]]
    assert ctx.clock.sleeps == []


# ----------------------------------------------------------------------------- progress


def test_progress_reports_counts_and_each_new_event_once() -> None:
    def with_events(n: int) -> Any:
        def frame(r: Rollout) -> dict[str, Any]:
            events = [
                event(f"s{i}", f"(service hello-world) has started 1 tasks: (task t{i}).") for i in range(n)
            ]
            return service_frame(r, progressing(1)(r)["deployments"], running=3, events=events)

        return frame

    fake = service_running_1_1_0(script=[with_events(1), with_events(2), with_events(2), completed])
    _, ctx = run(fake)
    texts = ctx.reporter.texts("info")
    assert texts.count("event: (service hello-world) has started 1 tasks: (task t0).") == 1
    assert texts.count("event: (service hello-world) has started 1 tasks: (task t1).") == 1
    assert any("running 1/2, pending 0" in t for t in texts)


def test_failed_tasks_are_reported_with_their_stopped_reason_only_when_the_count_grows() -> None:
    fake = service_running_1_1_0(
        script=[progressing(0, failed=2), progressing(0, failed=2), progressing(0, failed=3), completed]
    )
    ours = "ecs-svc/2000000000000000001"
    reason = "Essential container in task exited"
    fake.add_stopped_tasks(2, started_by=ours, reason=reason)
    fake.add_stopped_tasks(1, started_by="ecs-svc/1111111111111111111", reason="Scaling activity initiated")

    original = fake.describe_services

    def describe_then_third_failure(**kwargs: Any) -> dict[str, Any]:
        response = original(**kwargs)
        if fake.frame_index == 3 and len(fake.stopped) == 3:
            fake.add_stopped_tasks(1, started_by=ours, reason="CannotPullContainerError: pull access denied")
        return response

    fake.describe_services = describe_then_third_failure  # type: ignore[method-assign]
    _, ctx = run(fake)
    warnings = ctx.reporter.texts("warn")
    assert f"2 tasks stopped: {reason}; app: exit 1" in warnings
    assert "task stopped: CannotPullContainerError: pull access denied; app: exit 1" in warnings
    assert not any("Scaling activity" in w for w in warnings)
    assert fake.count("list_tasks") == 2  # failedTasks grew twice, not on every poll


def test_more_than_100_stopped_tasks_are_paged_and_described_in_batches_of_100() -> None:
    ours = "ecs-svc/2000000000000000001"
    fake = service_running_1_1_0(script=[progressing(0, failed=150), completed])
    fake.add_stopped_tasks(150, started_by=ours, reason="Task failed ELB health checks")
    _, ctx = run(fake)
    assert fake.count("list_tasks") == 2
    batches = [len(kwargs["tasks"]) for name, kwargs in fake.calls if name == "describe_tasks"]
    assert batches == [100, 50]
    assert "150 tasks stopped: Task failed ELB health checks; app: exit 1" in ctx.reporter.texts("warn")


# ----------------------------------------------------------------------------- cadence


def test_waiting_averages_at_most_one_call_per_second_and_backs_off_to_five_seconds() -> None:
    fake = service_running_1_1_0(script=[progressing(1)])
    result, ctx = run(fake, timeout=600)
    assert result.outcome is Outcome.TIMED_OUT
    polls = fake.count("describe_services") - 1  # the first describe is before the update
    assert polls / ctx.clock.now() <= 1.0
    assert max(ctx.clock.sleeps) >= 5
    # Once backed off it stays backed off while nothing changes (the last sleep is cut by the deadline).
    assert all(s >= 5 for s in ctx.clock.sleeps[5:-1])


def test_polling_returns_to_fast_after_a_change() -> None:
    script = [progressing(1)] * 8 + [progressing(2, pending=0)] + [completed]
    fake = service_running_1_1_0(script=script)
    _, ctx = run(fake)
    # sleeps[i] follows poll i; poll 0 is the update_service response, poll k shows script[k-1].
    sleeps = ctx.clock.sleeps
    assert sleeps[8] >= 5
    assert sleeps[9] <= ROLLOUT_BACKOFF.first * (1 + ROLLOUT_BACKOFF.jitter)


def test_a_poll_that_fetches_stopped_tasks_is_followed_by_a_longer_pause() -> None:
    ours = "ecs-svc/2000000000000000001"
    fake = service_running_1_1_0(script=[progressing(0, failed=250), completed])
    fake.add_stopped_tasks(250, started_by=ours, reason="boom")
    _, ctx = run(fake)
    # describe_services + 3 list_tasks + 3 describe_tasks = 7 calls: at least 7 s before the next poll.
    assert ctx.clock.sleeps[1] >= 7


# ----------------------------------------------------------------------------- interruption and errors


def test_ctrl_c_while_waiting_names_the_deployment_in_flight() -> None:
    fake = service_running_1_1_0(script=[progressing(1)])
    ctx = make_context()

    def interrupted_sleep(seconds: float) -> None:
        raise KeyboardInterrupt

    ctx.clock.sleep = interrupted_sleep
    with pytest.raises(Interrupted) as caught:
        run(fake, ctx=ctx)
    assert caught.value.exit_code is ExitCode.INTERRUPTED
    assert "ecs-svc/2000000000000000001" in caught.value.message


@pytest.mark.parametrize("text", ["1.2", "v1.2.3.4", "01.2.3", "1.2.3-", ""])
def test_malformed_version_is_exit_2_before_any_aws_call(text: str) -> None:
    ctx = make_context()
    with pytest.raises(UsageError) as caught:
        deploy(ctx, version=text, timeout=None, wait=False)
    assert caught.value.exit_code is ExitCode.USAGE
    assert ctx._aws is None


def test_missing_container_name_config_is_exit_2_before_any_aws_call() -> None:
    ctx = make_context(container_name=None)
    with pytest.raises(UsageError, match="container_name"):
        deploy(ctx, version="1.2.0", timeout=None, wait=False)
    assert ctx._aws is None


def test_unknown_version_is_exit_4_before_any_ecs_call() -> None:
    fake = service_running_1_1_0()
    with pytest.raises(EnvironmentProblem) as caught:
        run(fake, version="9.9.9")
    assert caught.value.exit_code is ExitCode.ENVIRONMENT
    assert fake.calls == []


@pytest.mark.parametrize(
    ("cluster", "service", "named"), [("web", "missing", "MISSING"), ("gone", "hello-world", "cluster")]
)
def test_missing_service_or_cluster_is_exit_4_and_nothing_changes(
    cluster: str, service: str, named: str
) -> None:
    from releasectl.adapters.aws.ecs import EcsApi

    fake = service_running_1_1_0()
    with pytest.raises(EnvironmentProblem) as caught:
        run_deploy(
            make_context(),
            EcsApi(fake, cluster=cluster, service=service),
            RELEASES,
            version="1.2.0",
            timeout=None,
            wait=True,
            repository_uri=lambda: REPO_URI,
        )
    assert caught.value.exit_code is ExitCode.ENVIRONMENT
    assert named in caught.value.message
    assert fake.operations() == ["describe_services"]


def test_unknown_container_name_is_exit_2_and_nothing_is_registered() -> None:
    fake = service_running_1_1_0()
    with pytest.raises(UsageError, match="log-router"):
        run(fake, ctx=make_context(container_name="web"))
    assert "register_task_definition" not in fake.operations()


def test_a_poll_that_keeps_failing_surfaces_as_one_error_naming_the_deployment() -> None:
    fake = service_running_1_1_0(script=[progressing(1)])
    original = fake.update_service

    def update_then_break(**kwargs: Any) -> dict[str, Any]:
        response = original(**kwargs)
        fake.failures["describe_services"] = lambda: client_error(
            "DescribeServices", "ThrottlingException", "Rate exceeded"
        )
        return response

    fake.update_service = update_then_break  # type: ignore[method-assign]
    with pytest.raises(OperationFailed) as caught:
        run(fake)
    assert "ecs-svc/2000000000000000001" in caught.value.message
    assert "throttling" in caught.value.message


def test_recording_the_outcome_failing_only_warns() -> None:
    fake = service_running_1_1_0(script=[completed])
    fake.failures["tag_resource"] = lambda: client_error(
        "TagResource", "AccessDeniedException", "not allowed"
    )
    result, ctx = run(fake)
    assert result.outcome is Outcome.SUCCEEDED
    assert any("could not record outcome succeeded" in w for w in ctx.reporter.texts("warn"))


def test_calls_counted_by_the_botocore_hook_stay_under_one_per_second_while_waiting() -> None:
    fake = service_running_1_1_0(script=[progressing(1)] * 20 + [progressing(2)] * 20 + [completed])
    sent: list[tuple[float, str]] = []
    result, _ = botocore_run(fake, [], seed=1, sent=sent)
    assert result.outcome is Outcome.SUCCEEDED
    waiting = [t for t, operation in sent if operation == "DescribeServices"][1:]
    assert len(waiting) == 41
    assert len(waiting) / (waiting[-1] - waiting[0]) <= 1.0
    assert [operation for _, operation in sent][-1] == "TagResource"


# ----------------------------------------------------------------------------- status


def test_status_reads_version_digest_counts_deployments_and_the_last_five_events() -> None:
    from releasectl.commands.status import read_status

    fake = service_running_1_1_0()
    fake.service["events"] = [event(f"e{i}", f"message {i}") for i in range(8)]  # newest first
    data = read_status(api(fake), container_name="app").to_json()
    assert data["version"] == "1.1.0"
    assert data["version_source"] == "task definition tag"
    assert data["digest"] == digest(1)
    assert data["task_definition"].endswith("hello-world:1")
    assert data["recorded_outcome"] == "succeeded"
    assert (data["rollout_state"], data["running"], data["desired"], data["pending"]) == (
        "COMPLETED",
        2,
        2,
        0,
    )
    assert [d["id"] for d in data["deployments"]] == ["ecs-svc/1111111111111111111"]
    assert [e["message"] for e in data["events"]] == [f"message {i}" for i in range(5)]
    assert fake.operations() == ["describe_services", "describe_task_definition"]


def test_status_takes_the_version_from_a_release_image_tag_when_the_revision_has_no_tag() -> None:
    from releasectl.commands.status import read_status

    fake = ScriptedEcs()
    fake.start_service(fake.add_revision(task_definition_body(image="localhost:5000/hello-world:1.4.2")))
    data = read_status(api(fake), container_name="app").to_json()
    assert (data["version"], data["version_source"], data["digest"]) == ("1.4.2", "image tag", None)


def test_status_during_a_rollout_shows_both_deployments() -> None:
    from releasectl.commands.status import read_status

    fake = service_running_1_1_0(script=[progressing(1)])
    run(fake, wait=False)
    data = read_status(api(fake), container_name="app").to_json()
    assert [d["status"] for d in data["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert data["rollout_state"] == "IN_PROGRESS"
    assert data["version"] == "1.2.0"


# ----------------------------------------------------------------------------- faults while waiting


def botocore_run(
    fake: ScriptedEcs,
    faults: list[Any],
    *,
    max_attempts: int = 3,
    seed: int = 2,
    sent: list[tuple[float, str]] | None = None,
) -> tuple[CommandResult, Any]:
    """run_deploy over a real botocore client (retries included) answered by the scripted fake;
    `sent` collects (fake time, operation) for every request the botocore hook counts."""
    from botocore.retries.standard import ExponentialBackoff

    from releasectl.adapters.aws.clients import AwsClients
    from releasectl.adapters.aws.ecs import EcsApi
    from tests.support.scripted_ecs import route_client

    ctx = make_context(region="us-east-1", max_attempts=max_attempts)
    aws = AwsClients(region="us-east-1", profile=None, endpoint_url=None, max_attempts=max_attempts)
    ctx._aws = aws
    client = aws.client("ecs")
    route_client(client, fake, faults=faults)
    if sent is not None:
        aws.call_hooks.append(lambda service, operation: sent.append((ctx.clock.now(), operation)))
    original = ExponentialBackoff.delay_amount
    ExponentialBackoff.delay_amount = lambda self, context: 0  # type: ignore[method-assign]
    try:
        return run(fake, ctx=ctx, ecs=EcsApi(client, cluster="web", service="hello-world"), seed=seed)
    finally:
        ExponentialBackoff.delay_amount = original  # type: ignore[method-assign]


WAIT_OPERATIONS = ["DescribeServices", "ListTasks", "DescribeTasks", "TagResource"]


@pytest.mark.parametrize("operation", WAIT_OPERATIONS)
@pytest.mark.parametrize(
    ("status", "code"), [(400, "ThrottlingException"), (503, "ServiceUnavailableException")]
)
def test_transient_faults_while_waiting_are_retried_and_the_outcome_still_found(
    operation: str, status: int, code: str
) -> None:
    from tests.support.scripted_ecs import FaultInjector

    fake = service_running_1_1_0(script=[progressing(0, failed=1), completed])
    fake.add_stopped_tasks(1, started_by="ecs-svc/2000000000000000001", reason="boom")
    fault = FaultInjector(
        operation, status=status, code=code, times=2, skip=1 if operation == "DescribeServices" else 0
    )
    result, _ = botocore_run(fake, [fault])
    assert result.outcome is Outcome.SUCCEEDED
    assert fault.attempts >= 3
    assert fake.tags[result.extra["task_definition"]]["releasectl:outcome"] == "succeeded"


@pytest.mark.parametrize("operation", ["DescribeServices", "ListTasks", "DescribeTasks"])
def test_persistent_faults_while_waiting_surface_as_one_error_naming_the_deployment(operation: str) -> None:
    from tests.support.scripted_ecs import FaultInjector

    fake = service_running_1_1_0(script=[progressing(0, failed=1), completed])
    fake.add_stopped_tasks(1, started_by="ecs-svc/2000000000000000001", reason="boom")
    # The describe before update_service goes through: the faults start once the wait has.
    skip = 1 if operation == "DescribeServices" else 0
    fault = FaultInjector(operation, status=400, code="ThrottlingException", times=999, skip=skip)
    with pytest.raises(OperationFailed) as caught:
        botocore_run(fake, [fault])
    line = caught.value.one_line()
    assert "ecs-svc/2000000000000000001" in line
    assert "throttling" in line
    assert fault.attempts == 3


def test_a_persistent_fault_recording_the_outcome_leaves_the_verified_outcome_standing() -> None:
    from tests.support.scripted_ecs import FaultInjector

    fake = service_running_1_1_0(script=[completed])
    result, ctx = botocore_run(
        fake, [FaultInjector("TagResource", status=500, code="ServerException", times=999)]
    )
    assert result.outcome is Outcome.SUCCEEDED
    assert any("could not record outcome" in w for w in ctx.reporter.texts("warn"))
