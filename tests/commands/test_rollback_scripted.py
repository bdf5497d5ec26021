"""`rollback` against a scripted ECS: the right target, never an INACTIVE revision, the true outcome."""

from __future__ import annotations

import random
from typing import Any

import pytest

from releasectl.commands.rollback import rollback as rollback_command
from releasectl.commands.rollback import run_rollback
from releasectl.core.errors import EnvironmentProblem, ExitCode, UsageError
from releasectl.core.result import CommandResult, Outcome
from tests.support.scripted_ecs import (
    REPO_URI,
    Rollout,
    ScriptedEcs,
    api,
    deployment,
    digest,
    make_context,
    release,
    service_frame,
    task_definition_body,
)

LEDGER = [release("1.0.0", 1), release("1.1.0", 2), release("1.2.0", 3), release("1.3.0", 4)]


def completed(r: Rollout) -> dict[str, Any]:
    return service_frame(
        r,
        [deployment(r.new_id, r.new_td, rollout="COMPLETED", running=r.desired, desired=r.desired)],
        running=r.desired,
    )


def progressing(r: Rollout) -> dict[str, Any]:
    return service_frame(
        r,
        [
            deployment(r.new_id, r.new_td, running=1, desired=r.desired),
            deployment(
                r.old_id, r.old_td, status="ACTIVE", rollout="COMPLETED", running=r.desired, desired=r.desired
            ),
        ],
        running=r.desired + 1,
    )


def add(
    fake: ScriptedEcs,
    n: int,
    version: str | None,
    outcome: str | None,
    *,
    status: str = "ACTIVE",
    log_level: str = "info",
) -> str:
    body = task_definition_body(image=f"{REPO_URI}@{digest(n)}")
    body["containerDefinitions"][0]["environment"] = [{"name": "LOG_LEVEL", "value": log_level}]
    tags = {}
    if version:
        tags["releasectl:version"] = version
    if outcome:
        tags["releasectl:outcome"] = outcome
    return fake.add_revision(body, tags=tags, status=status)


def history(
    *entries: tuple[int, str | None, str | None],
    running: tuple[int, str],
    script: Any = (completed,),
    inactive: tuple[int, ...] = (),
) -> ScriptedEcs:
    """Revisions 1..N in order (entries), then the running one on top."""
    fake = ScriptedEcs(script=list(script))
    for index, (n, version, outcome) in enumerate(entries, start=1):
        add(fake, n, version, outcome, status="INACTIVE" if index in inactive else "ACTIVE")
    current = add(fake, running[0], running[1], "succeeded", log_level="debug")
    fake.start_service(current)
    return fake


def rollback(
    fake: ScriptedEcs,
    *,
    to: str | None = None,
    timeout: int | None = None,
    ctx: Any = None,
    releases: list[Any] | None = None,
) -> tuple[CommandResult, Any]:
    ctx = ctx or make_context()
    result = run_rollback(
        ctx,
        api(fake),
        LEDGER if releases is None else releases,
        to=to,
        timeout=timeout,
        wait=True,
        repository_uri=lambda: REPO_URI,
        rng=random.Random(3),
    )
    return result, ctx


def updated_to(fake: ScriptedEcs) -> str:
    ((_, kwargs),) = [c for c in fake.calls if c[0] == "update_service"]
    return str(kwargs["taskDefinition"])


# ----------------------------------------------------------------------------- --to


def test_rollback_to_a_version_reuses_the_active_revision_already_running_its_digest() -> None:
    fake = history((1, "1.0.0", "succeeded"), (2, "1.1.0", "succeeded"), running=(4, "1.3.0"))
    result, _ = rollback(fake, to="1.1.0")
    assert result.outcome is Outcome.SUCCEEDED
    assert result.extra["action"] == "reuse"
    assert updated_to(fake).endswith("hello-world:2")
    assert "register_task_definition" not in fake.operations()
    assert result.extra["rolled_back_from"] == "1.3.0"


def test_rollback_to_an_already_registered_digest_costs_at_most_six_ecs_calls_before_waiting() -> None:
    fake = history(
        (1, "1.0.0", "succeeded"), (2, "1.1.0", "succeeded"), (3, "1.2.0", "succeeded"), running=(4, "1.3.0")
    )
    rollback(fake, to="1.2.0")
    before_wait = fake.operations()[: fake.operations().index("update_service") + 1]
    # ACTIVE and INACTIVE revisions are listed (the target's record may be on either), and the
    # revision that records 1.2.0's outcome is the one reused.
    assert before_wait == [
        "describe_services",
        "describe_task_definition",
        "list_task_definitions",
        "list_task_definitions",
        "describe_task_definition",
        "update_service",
    ]


def test_rollback_to_an_inactive_revisions_version_registers_a_fresh_one_from_the_current_definition() -> (
    None
):
    fake = history((1, "1.0.0", "succeeded"), (2, "1.1.0", "succeeded"), running=(4, "1.3.0"), inactive=(2,))
    result, _ = rollback(fake, to="1.1.0")
    assert result.outcome is Outcome.SUCCEEDED
    assert result.extra["action"] == "register"
    target = updated_to(fake)
    assert fake.task_definitions[target]["status"] == "ACTIVE"
    assert target.endswith("hello-world:4")  # new revision, not the INACTIVE :2
    app = fake.task_definitions[target]["containerDefinitions"][0]
    assert app["image"] == f"{REPO_URI}@{digest(2)}"
    # Copied from the CURRENT definition (LOG_LEVEL=debug), not from the old revision.
    assert app["environment"] == [{"name": "LOG_LEVEL", "value": "debug"}]
    assert fake.tags[target]["releasectl:version"] == "1.1.0"


def test_rollback_to_the_version_running_steadily_is_a_noop() -> None:
    fake = history((1, "1.0.0", "succeeded"), running=(4, "1.3.0"))
    result, _ = rollback(fake, to="1.3.0")
    assert result.outcome is Outcome.NOOP
    assert "update_service" not in fake.operations()


def test_rollback_to_an_unknown_version_is_exit_4_before_any_ecs_call() -> None:
    fake = history((1, "1.0.0", "succeeded"), running=(4, "1.3.0"))
    with pytest.raises(EnvironmentProblem) as caught:
        rollback(fake, to="0.9.0")
    assert caught.value.exit_code is ExitCode.ENVIRONMENT
    assert fake.calls == []


# ----------------------------------------------------------------------------- --to only goes back

WRITES = ("register_task_definition", "update_service", "tag_resource")


def wrote_nothing(fake: ScriptedEcs) -> bool:
    return not any(name in WRITES for name in fake.operations())


def test_rollback_to_a_version_newer_than_the_running_one_is_exit_4_with_a_deploy_hint() -> None:
    # 1.1.0 ran, then 1.0.0 was deployed again: going "back" to 1.1.0 would move forward.
    fake = history((1, "1.0.0", "succeeded"), (2, "1.1.0", "succeeded"), running=(1, "1.0.0"))
    with pytest.raises(EnvironmentProblem) as caught:
        rollback(fake, to="1.1.0")
    assert caught.value.exit_code is ExitCode.ENVIRONMENT
    assert "newer than 1.0.0" in caught.value.message
    assert caught.value.hint is not None and "releasectl deploy 1.1.0" in caught.value.hint
    assert wrote_nothing(fake)


def test_rollback_to_a_version_released_but_never_deployed_is_refused_before_reading_history() -> None:
    # 1.3.0 was released with --no-deploy; the service runs 1.0.0.
    fake = history((2, "1.1.0", "succeeded"), running=(1, "1.0.0"))
    with pytest.raises(EnvironmentProblem, match="newer") as caught:
        rollback(fake, to="1.3.0")
    assert caught.value.hint is not None and "releasectl deploy 1.3.0" in caught.value.hint
    assert "list_task_definitions" not in fake.operations()
    assert wrote_nothing(fake)


def test_rollback_to_an_older_version_never_deployed_to_this_service_is_exit_4_with_a_deploy_hint() -> None:
    fake = history((1, "1.0.0", "succeeded"), (3, "1.2.0", "succeeded"), running=(4, "1.3.0"))
    with pytest.raises(EnvironmentProblem) as caught:
        rollback(fake, to="1.1.0")
    assert caught.value.exit_code is ExitCode.ENVIRONMENT
    assert "never been deployed to service hello-world" in caught.value.message
    assert caught.value.hint is not None and "releasectl deploy 1.1.0" in caught.value.hint
    assert wrote_nothing(fake)


def test_a_revision_registered_outside_releasectl_with_the_targets_digest_counts_as_deployed() -> None:
    fake = history((1, None, None), running=(4, "1.3.0"))
    result, _ = rollback(fake, to="1.0.0")
    assert result.outcome is Outcome.SUCCEEDED
    assert result.extra["target_recorded_outcome"] is None
    assert updated_to(fake).endswith("hello-world:1")


def test_a_version_deployed_without_waiting_counts_as_deployed() -> None:
    fake = history((2, "1.1.0", None), running=(4, "1.3.0"), inactive=(1,))
    result, _ = rollback(fake, to="1.1.0")
    assert result.outcome is Outcome.SUCCEEDED


@pytest.mark.parametrize("outcome", ["rolled_back", "failed"])
def test_rollback_to_a_version_whose_last_deployment_failed_is_exit_4_without_force(outcome: str) -> None:
    fake = history((1, "1.0.0", "succeeded"), (2, "1.1.0", outcome), running=(4, "1.3.0"))
    with pytest.raises(EnvironmentProblem) as caught:
        rollback(fake, to="1.1.0")
    assert caught.value.exit_code is ExitCode.ENVIRONMENT
    assert "1.1.0's last recorded deployment" in caught.value.message
    assert caught.value.hint is not None and "--force" in caught.value.hint
    assert wrote_nothing(fake)


def test_the_targets_latest_recorded_outcome_is_what_counts() -> None:
    # 1.1.0 succeeded on revision 1, then was rolled back on revision 2 (same image).
    fake = history((2, "1.1.0", "succeeded"), (2, "1.1.0", "rolled_back"), running=(4, "1.3.0"))
    with pytest.raises(EnvironmentProblem, match="rolled back"):
        rollback(fake, to="1.1.0")
    fake = history((2, "1.1.0", "rolled_back"), (2, "1.1.0", "succeeded"), running=(4, "1.3.0"))
    assert rollback(fake, to="1.1.0")[0].outcome is Outcome.SUCCEEDED


def test_forced_rollback_to_a_rolled_back_version_proceeds_and_says_why() -> None:
    fake = history((1, "1.0.0", "succeeded"), (2, "1.1.0", "rolled_back"), running=(4, "1.3.0"))
    ctx = make_context()
    result = run_rollback(
        ctx,
        api(fake),
        LEDGER,
        to="1.1.0",
        timeout=None,
        wait=True,
        repository_uri=lambda: REPO_URI,
        rng=random.Random(3),
        force=True,
    )
    assert result.outcome is Outcome.SUCCEEDED
    assert updated_to(fake).endswith("hello-world:2")
    assert "recorded outcome was rolled_back" in result.message and "--force" in result.message
    data = result.to_json()
    assert data["forced"] is True and data["target_recorded_outcome"] == "rolled_back"
    assert any("rolled_back" in line and "--force" in line for line in ctx.reporter.texts("warn"))


def test_force_without_to_is_a_usage_error_before_any_aws_call() -> None:
    ctx = make_context()
    with pytest.raises(UsageError, match="--force"):
        rollback_command(ctx, to=None, timeout=None, wait=False, force=True)


# ----------------------------------------------------------------------------- automatic target


def test_automatic_rollback_skips_a_previous_revision_that_failed() -> None:
    fake = history(
        (1, "1.0.0", "succeeded"),
        (2, "1.1.0", "succeeded"),
        (3, "1.2.0", "rolled_back"),
        running=(4, "1.3.0"),
    )
    result, ctx = rollback(fake)
    assert result.version == "1.1.0"
    assert updated_to(fake).endswith("hello-world:2")
    assert any("to 1.1.0" in line for line in ctx.reporter.texts("info"))


def test_automatic_rollback_is_not_blindly_revision_minus_one() -> None:
    fake = history((2, "1.1.0", "succeeded"), (3, None, None), running=(4, "1.3.0"))
    result, _ = rollback(fake)
    assert result.version == "1.1.0"
    assert updated_to(fake).endswith("hello-world:1")


def test_automatic_rollback_to_a_version_whose_only_revision_is_inactive_registers_a_fresh_one() -> None:
    fake = history(
        (2, "1.1.0", "succeeded"), (3, "1.2.0", "rolled_back"), running=(4, "1.3.0"), inactive=(1,)
    )
    result, _ = rollback(fake)
    assert result.version == "1.1.0"
    assert result.extra["action"] == "register"
    target = updated_to(fake)
    assert fake.task_definitions[target]["status"] == "ACTIVE"
    assert fake.task_definitions[target]["containerDefinitions"][0]["image"] == f"{REPO_URI}@{digest(2)}"


def test_automatic_rollback_with_no_verified_earlier_version_is_exit_4_and_changes_nothing() -> None:
    fake = history((1, "1.0.0", "rolled_back"), (2, "1.1.0", "timed_out"), running=(4, "1.3.0"))
    with pytest.raises(EnvironmentProblem) as caught:
        rollback(fake)
    assert caught.value.exit_code is ExitCode.ENVIRONMENT
    assert "register_task_definition" not in fake.operations()
    assert "update_service" not in fake.operations()
    assert "tag_resource" not in fake.operations()


def test_automatic_rollback_reads_more_than_100_revisions_across_pages() -> None:
    fake = ScriptedEcs(script=[completed])
    add(fake, 1, "1.0.0", "succeeded")  # revision 1: the only verified-good earlier version
    for _ in range(149):
        add(fake, 3, "1.2.0", "rolled_back")  # revisions 2..150
    current = add(fake, 4, "1.3.0", "succeeded")  # revision 151
    fake.start_service(current)
    result, _ = rollback(fake)
    assert result.version == "1.0.0"
    assert updated_to(fake).endswith("hello-world:1")
    listed = [
        kwargs
        for name, kwargs in fake.calls
        if name == "list_task_definitions" and kwargs["status"] == "ACTIVE"
    ]
    assert [bool(k.get("nextToken")) for k in listed] == [False, True]
    assert all(k["maxResults"] == 100 for k in listed)


# ----------------------------------------------------------------------------- waiting


def test_rollback_times_out_during_its_own_wait_honouring_the_users_timeout() -> None:
    fake = history(
        (1, "1.0.0", "succeeded"), (2, "1.1.0", "succeeded"), running=(4, "1.3.0"), script=[progressing]
    )
    result, ctx = rollback(fake, to="1.1.0", timeout=30, ctx=make_context(deploy_timeout=900))
    assert result.outcome is Outcome.TIMED_OUT
    assert result.exit_code is ExitCode.TIMED_OUT
    assert ctx.clock.now() == pytest.approx(30)
    assert "last seen" in result.message


def test_rollback_records_its_verified_outcome_on_the_revision_it_ran() -> None:
    fake = history((1, "1.0.0", "succeeded"), (2, "1.1.0", "succeeded"), running=(4, "1.3.0"))
    result, _ = rollback(fake, to="1.1.0")
    assert fake.tags[result.extra["task_definition"]]["releasectl:outcome"] == "succeeded"
    assert result.extra["deployment_id"] is not None


def test_rollback_never_deregisters_anything() -> None:
    fake = history((1, "1.0.0", "succeeded"), (2, "1.1.0", "rolled_back"), running=(4, "1.3.0"))
    rollback(fake)
    assert not any(name.startswith(("deregister", "delete")) for name in fake.operations())
    assert all(d["status"] == "ACTIVE" for d in fake.task_definitions.values())
