"""`releasectl abort`: stop our deployment in flight with a rollback, wait, report what ECS did."""

from __future__ import annotations

import random
from typing import Any

import pytest

from releasectl.commands.abort import run_abort
from releasectl.commands.deploy import run_deploy
from releasectl.core.clock import FakeClock
from releasectl.core.errors import EnvironmentProblem, ExitCode
from releasectl.core.result import CommandResult, Outcome
from releasectl.core.service_deployment import ABORT_TAG
from tests.support.scripted_deployments import CANARY, ScriptedServiceDeployments, at
from tests.support.scripted_ecs import REPO_URI, make_context, release

RELEASES = [release("1.1.0", 1), release("1.2.0", 2)]
ROLLBACK = [
    at("ROLLBACK_REQUESTED", new=10),
    at("ROLLBACK_IN_PROGRESS", new=0),
    at("ROLLBACK_SUCCESSFUL", new=0),
]


def api(fake: ScriptedServiceDeployments) -> Any:
    from releasectl.adapters.aws.ecs import EcsApi

    return EcsApi(fake, cluster=fake.cluster, service=fake.service_name)


def in_flight(*, ours: bool = True, **options: Any) -> ScriptedServiceDeployments:
    """A service whose canary of 1.2.0 is under way (started with --no-wait)."""
    options.setdefault("sd_script", [at("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=10)])
    options.setdefault("on_stop", ROLLBACK)
    fake = ScriptedServiceDeployments(deployment_configuration=CANARY, **options)
    current = fake.add_revision(tags={"releasectl:version": "1.1.0", "releasectl:outcome": "succeeded"})
    fake.start_service(current)
    run_deploy(
        make_context(),
        api(fake),
        RELEASES,
        version="1.2.0",
        timeout=None,
        wait=False,
        repository_uri=lambda: REPO_URI,
    )
    if not ours:
        arn = fake.service["taskDefinition"]
        fake.tags[arn] = {}
    fake.calls.clear()
    return fake


def abort(fake: ScriptedServiceDeployments, **options: Any) -> tuple[CommandResult, Any]:
    ctx = make_context()
    return run_abort(ctx, api(fake), rng=random.Random(5), **options), ctx


def test_abort_stops_our_deployment_with_a_rollback_waits_and_reports_it() -> None:
    fake = in_flight()
    result, ctx = abort(fake)
    assert result.outcome is Outcome.SUCCEEDED and result.exit_code is ExitCode.OK
    assert result.extra["deployment_outcome"] == "rolled_back"
    assert result.extra["deployment_status"] == "ROLLBACK_SUCCESSFUL"
    assert result.version == "1.2.0"
    assert "rolled back" in result.message and "stopped by abort" in result.message
    stops = [kw for name, kw in fake.calls if name == "stop_service_deployment"]
    assert stops == [{"serviceDeploymentArn": fake.run.arn, "stopType": "ROLLBACK"}]  # type: ignore[union-attr]
    assert any(line.startswith("stopping deployment") for line in ctx.reporter.texts("info"))


def test_abort_marks_the_revision_before_it_stops_and_records_the_outcome() -> None:
    fake = in_flight()
    result, _ = abort(fake)
    ops = fake.operations()
    assert ops.index("tag_resource") < ops.index("stop_service_deployment")
    tags = fake.tags[result.extra["task_definition"]]
    assert tags[ABORT_TAG] == fake.run.arn.rsplit("/", 1)[-1]  # type: ignore[union-attr]
    assert tags["releasectl:outcome"] == "rolled_back"


def test_nothing_in_flight_is_exit_4_and_nothing_is_stopped() -> None:
    fake = in_flight(sd_script=[at("SUCCESSFUL", "CLEAN_UP", new=100)])
    with pytest.raises(EnvironmentProblem) as caught:
        abort(fake)
    assert caught.value.exit_code is ExitCode.ENVIRONMENT
    assert "nothing is in flight" in caught.value.message and "ended SUCCESSFUL" in caught.value.message
    assert "stop_service_deployment" not in fake.operations()


def test_someone_elses_deployment_needs_any() -> None:
    fake = in_flight(ours=False)
    with pytest.raises(EnvironmentProblem) as caught:
        abort(fake)
    assert "was not started by releasectl" in caught.value.message and "--any" in caught.value.one_line()
    assert "stop_service_deployment" not in fake.operations()
    result, _ = abort(fake, any_deployment=True)
    assert result.extra["deployment_outcome"] == "rolled_back" and result.version is None


def test_a_deployment_that_completes_before_the_stop_is_reported_succeeded_only() -> None:
    # ECS moved on to SUCCESSFUL between abort's look and its stop: the stop is refused.
    fake = in_flight(
        sd_script=[at("IN_PROGRESS", "BAKE_TIME", new=100), at("SUCCESSFUL", "CLEAN_UP", new=100)]
    )
    original = fake.stop_service_deployment

    def late_stop(**kwargs: Any) -> dict[str, Any]:
        fake.current()  # the deployment finishes first
        return original(**kwargs)

    fake.stop_service_deployment = late_stop  # type: ignore[method-assign]
    result, _ = abort(fake)
    assert result.exit_code is ExitCode.ENVIRONMENT
    assert result.extra["deployment_outcome"] == "succeeded"
    assert "succeeded before the stop took effect: nothing was rolled back" in result.message
    assert "rolled_back" not in fake.tags[result.extra["task_definition"]].get("releasectl:outcome", "")


def test_a_rollback_that_fails_is_exit_1_and_asks_for_manual_action() -> None:
    fake = in_flight(on_stop=[at("ROLLBACK_IN_PROGRESS"), at("ROLLBACK_FAILED")])
    result, _ = abort(fake)
    assert result.exit_code is ExitCode.FAILED
    assert result.extra["manual_action"] is True and "manual action is needed" in result.message


def test_a_deployment_already_rolling_back_is_not_stopped_again() -> None:
    fake = in_flight(
        sd_script=[
            at("ROLLBACK_IN_PROGRESS", breaker=("TRIGGERED", 2, 2)),
            at("ROLLBACK_SUCCESSFUL", breaker=("TRIGGERED", 2, 2)),
        ]
    )
    result, ctx = abort(fake)
    assert "stop_service_deployment" not in fake.operations()
    assert result.extra["deployment_outcome"] == "rolled_back"
    assert "circuit breaker" in result.message
    assert any("already ROLLBACK_IN_PROGRESS" in line for line in ctx.reporter.texts("info"))


def test_where_ecs_reports_no_service_deployments_abort_is_exit_4() -> None:
    fake = in_flight(api=False)
    with pytest.raises(EnvironmentProblem) as caught:
        abort(fake)
    assert "does not report service deployments" in caught.value.message
    assert fake.operations() == ["describe_services"]


def test_abort_times_out_with_exit_3_while_the_rollback_runs() -> None:
    fake = in_flight(on_stop=[at("ROLLBACK_IN_PROGRESS")])
    result, _ = abort(fake, timeout=30)
    assert result.outcome is Outcome.TIMED_OUT and result.exit_code is ExitCode.TIMED_OUT


class AbortMidWait(FakeClock):
    """The deploy's clock: on its third sleep, someone runs `releasectl abort` elsewhere."""

    def __init__(self, fake: ScriptedServiceDeployments) -> None:
        super().__init__()
        self.fake = fake
        self.aborted: CommandResult | None = None

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if len(self.sleeps) == 3 and self.aborted is None:
            self.aborted = run_abort(make_context(), api(self.fake), rng=random.Random(1))


def test_a_waiting_deploy_reports_rolled_back_stopped_by_abort() -> None:
    fake = ScriptedServiceDeployments(
        deployment_configuration=CANARY,
        sd_script=[at("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", new=10)],
        on_stop=ROLLBACK,
    )
    current = fake.add_revision(tags={"releasectl:version": "1.1.0", "releasectl:outcome": "succeeded"})
    fake.start_service(current)
    ctx = make_context()
    ctx.clock = clock = AbortMidWait(fake)
    deployed = run_deploy(
        ctx,
        api(fake),
        RELEASES,
        version="1.2.0",
        timeout=600,
        wait=True,
        repository_uri=lambda: REPO_URI,
        rng=random.Random(2),
    )
    assert clock.aborted is not None and clock.aborted.extra["deployment_outcome"] == "rolled_back"
    assert deployed.outcome is Outcome.ROLLED_BACK and deployed.exit_code is ExitCode.FAILED
    assert "stopped by abort" in deployed.message
    assert deployed.extra["stopped_by"] == "abort"
