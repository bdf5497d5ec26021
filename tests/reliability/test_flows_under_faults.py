"""Release, promote, deploy, rollback and log following through the fault proxy.

Each flow runs twice on the same deterministic world: once straight against the endpoint (the
reference) and once through the proxy. Through 20% faults with 8 attempts a call, the faulted run
must end exactly where the reference did. Through heavier faults and 2 attempts it may fail, but
only with one clear line, exit 1, and nothing half-done: no version tag without its commit tag,
no floating tag on a non-release, no service on an image that is no release.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_state import ledger_problems, normalised, reset, snapshot
from tests.support.cli import one_line_error
from tests.support.faultproxy import FaultPlan, FaultProxy
from tests.support.flows import FLOWS, SHOP, GrowingLog, build_world, follow_logs, result_json

RATE = 0.2
RESET_AFTER_RATE = 0.05  # the backend applied it, the client never heard
ATTEMPTS = "8"
SEEDS = [1, 2, 3]
SOAK_SEEDS = list(range(100, 160))
HEAVY_SEEDS = [1, 12, 21]  # each breaks the release somewhere else (ledger read, claim, manifest)

_references: dict[str, dict[str, Any]] = {}


def reference(flow: str, endpoint: str, workdir: Path) -> dict[str, Any]:
    """The fault-free run's end state and result; the worlds are deterministic, so one per flow."""
    if flow not in _references:
        reset(endpoint)
        world = FLOWS[flow].setup(endpoint, workdir)
        ran = FLOWS[flow].run(endpoint, world)
        assert ran.code == 0, ran.stderr
        _references[flow] = {"state": normalised(snapshot(endpoint)), "version": result_json(ran)["version"]}
    return _references[flow]


def faulted(flow: str, endpoint: str, workdir: Path, plan: FaultPlan, attempts: str) -> tuple[Any, Any, Any]:
    reset(endpoint)
    world = FLOWS[flow].setup(endpoint, workdir)
    with FaultProxy(endpoint, plan) as proxy:
        ran = FLOWS[flow].run(proxy.url, world, {"RELEASECTL_MAX_ATTEMPTS": attempts})
    return ran, snapshot(endpoint), proxy


def check_ends_like_the_reference(flow: str, seed: int, endpoint: str, workdir: Path) -> None:
    expected = reference(flow, endpoint, workdir)
    plan = FaultPlan(rate=RATE, seed=seed, reset_after_rate=RESET_AFTER_RATE)

    ran, after, proxy = faulted(flow, endpoint, workdir, plan, ATTEMPTS)

    assert ran.code == 0, f"{dict(proxy.injected)}: {ran.stderr}"
    assert ledger_problems(after) == []
    assert normalised(after) == expected["state"]
    assert result_json(ran)["version"] == expected["version"]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_a_flow_through_20_percent_faults_ends_exactly_where_a_fault_free_run_does(
    flow: str, seed: int, aws_endpoint: str, tmp_path: Path, fast_retries: None
) -> None:
    check_ends_like_the_reference(flow, seed, aws_endpoint, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SOAK_SEEDS)
@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_soak_a_flow_through_20_percent_faults_ends_exactly_where_a_fault_free_run_does(
    flow: str, seed: int, aws_endpoint: str, tmp_path: Path, fast_retries: None
) -> None:
    check_ends_like_the_reference(flow, seed, aws_endpoint, tmp_path)


def check_fails_cleanly_or_succeeds(flow: str, seed: int, endpoint: str, workdir: Path) -> None:
    expected = reference(flow, endpoint, workdir)
    plan = FaultPlan(rate=0.5, seed=seed, reset_after_rate=0.1)

    ran, after, _ = faulted(flow, endpoint, workdir, plan, "2")

    assert ledger_problems(after) == []
    if ran.code == 0:
        assert normalised(after) == expected["state"]
    else:
        assert ran.code == 1, ran.stderr
        assert one_line_error(ran), ran.stderr
        assert result_json(ran)["outcome"] == "error"


@pytest.mark.parametrize("seed", HEAVY_SEEDS)
@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_a_flow_broken_by_heavy_faults_fails_in_one_line_with_exit_1_and_leaves_nothing_half_done(
    flow: str, seed: int, aws_endpoint: str, tmp_path: Path, fast_retries: None
) -> None:
    check_fails_cleanly_or_succeeds(flow, seed, aws_endpoint, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SOAK_SEEDS)
@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_soak_a_flow_broken_by_heavy_faults_leaves_nothing_half_done(
    flow: str, seed: int, aws_endpoint: str, tmp_path: Path, fast_retries: None
) -> None:
    check_fails_cleanly_or_succeeds(flow, seed, aws_endpoint, tmp_path)


# ----------------------------------------------------------------------------- log following


def check_every_line_once_in_order(seed: int, endpoint: str, workdir: Path) -> dict[str, int]:
    reset(endpoint)
    log = GrowingLog(endpoint, build_world(endpoint))
    log.create()
    plan = FaultPlan(rate=RATE, seed=seed, reset_after_rate=RESET_AFTER_RATE)

    with FaultProxy(endpoint, plan) as proxy:
        ran, lines = follow_logs(proxy.url, log, workdir, max_attempts=int(ATTEMPTS))

    assert ran.code == 0, ran.stderr
    assert log.written == len(log.lines)  # the stream grew while it was followed
    assert lines == log.lines
    return dict(proxy.injected)


@pytest.mark.parametrize("seed", SEEDS)
def test_following_a_growing_log_through_faults_prints_every_line_exactly_once_in_order(
    seed: int, aws_endpoint: str, tmp_path: Path, fast_retries: None
) -> None:
    injected = check_every_line_once_in_order(seed, aws_endpoint, tmp_path)
    assert sum(injected.values()) > 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", SOAK_SEEDS)
def test_soak_following_a_growing_log_through_faults_prints_every_line_once(
    seed: int, aws_endpoint: str, tmp_path: Path, fast_retries: None
) -> None:
    check_every_line_once_in_order(seed, aws_endpoint, tmp_path)


def test_log_lines_survive_get_log_events_answers_lost_after_the_read(
    aws_endpoint: str, tmp_path: Path, fast_retries: None
) -> None:
    """A GetLogEvents answer lost on the way back is read again from the same token, not skipped."""
    reset(aws_endpoint)
    log = GrowingLog(aws_endpoint, build_world(aws_endpoint))
    log.create()
    every_other = itertools.count()
    plan = FaultPlan(
        forced="reset_after", match=lambda r: r.operation == "GetLogEvents" and next(every_other) % 2 == 0
    )

    with FaultProxy(aws_endpoint, plan) as proxy:
        ran, lines = follow_logs(proxy.url, log, tmp_path, max_attempts=3)

    assert ran.code == 0, ran.stderr
    assert proxy.injected["reset_after"] >= len(log.lines) // 8
    assert lines == log.lines


# ----------------------------------------------------------------------------- targeted faults


def test_a_claim_whose_commit_tag_cannot_be_written_takes_its_version_tag_back(
    aws_endpoint: str, tmp_path: Path, fast_retries: None
) -> None:
    """The commit tag's put_image keeps failing: exit 1, and the version is not left half-claimed."""
    reset(aws_endpoint)
    world = FLOWS["release"].setup(aws_endpoint, tmp_path)
    plan = FaultPlan(
        forced="503", match=lambda r: r.operation == "PutImage" and b'"imageTag": "git-' in r.body
    )

    with FaultProxy(aws_endpoint, plan) as proxy:
        ran = FLOWS["release"].run(proxy.url, world, {"RELEASECTL_MAX_ATTEMPTS": "2"})

    after = snapshot(aws_endpoint)
    assert ran.code == 1, ran.stderr
    assert one_line_error(ran)
    assert "version 0.1.0 was not claimed" in ran.stderr
    assert ledger_problems(after) == []
    assert all(tags == () for tags in after["ecr"][SHOP]["images"].values())
    assert proxy.injected["503"] == 2


def test_a_commit_tag_written_but_unanswered_then_refused_is_taken_back_with_the_version(
    aws_endpoint: str, tmp_path: Path, fast_retries: None
) -> None:
    """The commit tag's write lands but its answer is lost, and the retry fails: both tags come
    off again (found by the heavy-fault soak: the commit tag used to stay, alone)."""
    reset(aws_endpoint)
    world = FLOWS["release"].setup(aws_endpoint, tmp_path)
    script = iter(["reset_after", "503"])

    def commit_tag_writes(request: Any) -> str:
        is_commit_tag = request.operation == "PutImage" and b'"imageTag": "git-' in request.body
        return next(script, "") if is_commit_tag else ""

    with FaultProxy(aws_endpoint, FaultPlan(forced=commit_tag_writes)) as proxy:
        ran = FLOWS["release"].run(proxy.url, world, {"RELEASECTL_MAX_ATTEMPTS": "2"})

    after = snapshot(aws_endpoint)
    assert ran.code == 1, ran.stderr
    assert "version 0.1.0 was not claimed" in ran.stderr
    assert proxy.injected == {"reset_after": 1, "503": 1}
    assert ledger_problems(after) == []
    assert all(tags == () for tags in after["ecr"][SHOP]["images"].values())


def test_a_put_image_applied_but_unanswered_is_recognised_as_our_own_tag(
    aws_endpoint: str, tmp_path: Path, fast_retries: None
) -> None:
    """Every PutImage lands but its answer is lost: the retry meets "already exists", which
    the claim must take for what it is, its own write, and finish."""
    expected = reference("release", aws_endpoint, tmp_path)
    reset(aws_endpoint)
    world = FLOWS["release"].setup(aws_endpoint, tmp_path)
    first_try = itertools.count()
    plan = FaultPlan(
        forced="reset_after", match=lambda r: r.operation == "PutImage" and next(first_try) % 2 == 0
    )

    with FaultProxy(aws_endpoint, plan) as proxy:
        ran = FLOWS["release"].run(proxy.url, world, {"RELEASECTL_MAX_ATTEMPTS": "3"})

    assert ran.code == 0, ran.stderr
    assert proxy.injected["reset_after"] == 2  # the version tag's write and the commit tag's
    assert normalised(snapshot(aws_endpoint)) == expected["state"]


def test_an_update_service_applied_but_unanswered_is_exit_1_not_nothing_changed(
    aws_endpoint: str, tmp_path: Path, fast_retries: None
) -> None:
    """Exit 4 promises nothing was changed; a dropped connection after the request was sent
    cannot promise that."""
    reset(aws_endpoint)
    world = FLOWS["deploy"].setup(aws_endpoint, tmp_path)
    plan = FaultPlan(forced="reset_after", match=lambda r: r.operation == "UpdateService")

    with FaultProxy(aws_endpoint, plan) as proxy:
        ran = FLOWS["deploy"].run(proxy.url, world, {"RELEASECTL_MAX_ATTEMPTS": "1"})

    assert ran.code == 1, ran.stderr
    assert one_line_error(ran)
    assert "may or may not have been applied" in ran.stderr
    assert proxy.injected["reset_after"] == 1
    assert ledger_problems(snapshot(aws_endpoint)) == []


def test_a_start_build_retried_after_a_lost_answer_carries_the_same_idempotency_token(
    aws_endpoint: str, tmp_path: Path, git_repo: Any, fast_retries: None
) -> None:
    """CodeBuild starts one build for one token; moto ignores the token, so the request is checked."""
    from releasectl.commands import build as build_cmd
    from releasectl.commands.context import Context, RecordingReporter
    from releasectl.core.clock import FakeClock
    from releasectl.core.config import Config

    reset(aws_endpoint)
    build_world(aws_endpoint)
    git_repo.commit("feat: first")
    first = itertools.count()
    plan = FaultPlan(forced="reset_after", match=lambda r: r.operation == "StartBuild" and next(first) == 0)

    with FaultProxy(aws_endpoint, plan) as proxy:
        config = Config(
            region="us-east-1",
            endpoint_url=proxy.url,
            codebuild_project="hello-world-release",
            max_attempts=3,
        )
        ctx = Context(config=config, cwd=git_repo.path, reporter=RecordingReporter(), clock=FakeClock())
        result = build_cmd.build(ctx, ref=None, follow=False, stop_on_interrupt=False)

    starts = [json.loads(s.body) for s in proxy.log if s.operation == "StartBuild"]
    assert result.extra["commit"] == git_repo.head()
    assert len(starts) == 2
    assert starts[0]["idempotencyToken"] == starts[1]["idempotencyToken"]
    assert len(starts[0]["idempotencyToken"]) >= 32
