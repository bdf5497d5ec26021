"""Deploy and rollback with real rollouts, and a rollback racing a deploy, between `releasectl`
and the sandbox, through the fault proxy.

One sandbox for the module (the `sandboxed` fixture, tests/support/sandbox_world.py): its ECS
simulator rolls deployments out with real task processes behind its load balancer. The CLI
talks to the sandbox through the proxy at a 20% fault rate (plus answers lost after the sandbox
applied the request); every check reads the sandbox directly. Each test sets up the service
state it needs, so the tests run in any order. Builds through faults are in
tests/reliability/test_sandbox_build_faults.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_state import ledger_problems, snapshot
from tests.support.cli import one_line_error, start_cli
from tests.support.faultproxy import FaultProxy
from tests.support.flows import result_json
from tests.support.sandbox_projects import get
from tests.support.sandbox_world import (
    DEPLOY_TIMEOUT,
    HEALTHY,
    SEEDS,
    SERVICE,
    SOAK_SEEDS,
    UNHEALTHY,
    Watcher,
    World,
    digest_of,
    fast_retry_path,
    faults,
    finish,
    hello,
    running_digests,
    service_now,
)

pytestmark = pytest.mark.e2e

HEAVY_SEEDS = [5]
SOAK_HEAVY_SEEDS = list(range(400, 420))


DEPLOYS = (("1.2.0", "1.1.0"), ("1.0.0", "1.1.0"), ("1.1.0", "1.2.0"))
ROLLBACKS = (("1.2.0", "1.0.0"), ("1.2.0", "1.1.0"), ("1.1.0", "1.0.0"))


def deploy_pair(seed: int) -> tuple[str, str]:
    return DEPLOYS[seed % len(DEPLOYS)]


def rollback_pair(seed: int) -> tuple[str, str]:
    return ROLLBACKS[seed % len(ROLLBACKS)]


def assert_runs(sandboxed: World, version: str, result: dict[str, Any]) -> None:
    """The service runs `version` by digest through the deployment the command reported:
    PRIMARY and COMPLETED, every task on that digest, the load balancer answering it."""
    service = service_now(sandboxed.endpoint)
    primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
    assert (primary["id"], primary["rolloutState"]) == (result["deployment_id"], "COMPLETED")
    assert primary["taskDefinition"] == service["taskDefinition"] == result["task_definition"]
    assert digest_of(sandboxed.endpoint, service["taskDefinition"]) == sandboxed.digests[version]
    assert service["runningCount"] == service["desiredCount"] == sandboxed.sandbox.desired_count
    assert running_digests(sandboxed.endpoint) == {sandboxed.digests[version]}
    assert get(sandboxed.sandbox.alb_url) == hello(version)
    assert ledger_problems(snapshot(sandboxed.endpoint)) == []


def watching(sandboxed: World) -> Watcher:
    return Watcher(sandboxed.endpoint, sandboxed.sandbox.alb_url)


def assert_only_releases(sandboxed: World, watcher: Watcher, versions: set[str]) -> None:
    """While the command ran, the service pointed only at these releases' digests, and the
    load balancer answered every request with one of them."""
    allowed = {sandboxed.digests[v] for v in versions}
    assert set(watcher.digests()) <= allowed, watcher.task_definitions
    assert watcher.answers
    assert set(watcher.answers) <= {hello(v) for v in versions}, set(watcher.answers)


# ----------------------------------------------------------------------------- deploy and rollback


def check_deploy(sandboxed: World, seed: int) -> dict[str, int]:
    before, target = deploy_pair(seed)
    sandboxed.deploy_directly(before)

    with (
        FaultProxy(sandboxed.endpoint, faults(seed)) as proxy,
        watching(sandboxed) as w,
    ):
        ran = sandboxed.run("deploy", target, "--timeout", DEPLOY_TIMEOUT, api_endpoint=proxy.url)

    assert ran.code == 0, f"{dict(proxy.injected)}: {ran.stderr}"
    result = result_json(ran)
    assert (result["outcome"], result["version"]) == ("succeeded", target)
    assert result["image"]["digest"] == sandboxed.digests[target]
    assert result["verified"] is True
    assert_runs(sandboxed, target, result)
    assert_only_releases(sandboxed, w, {before, target})
    return dict(proxy.injected)


def check_rollback(sandboxed: World, seed: int) -> dict[str, int]:
    running, target = rollback_pair(seed)
    sandboxed.deploy_directly(target)  # a rollback goes back to a version this service ran
    sandboxed.deploy_directly(running)

    with (
        FaultProxy(sandboxed.endpoint, faults(seed)) as proxy,
        watching(sandboxed) as w,
    ):
        ran = sandboxed.run("rollback", "--to", target, "--timeout", DEPLOY_TIMEOUT, api_endpoint=proxy.url)

    assert ran.code == 0, f"{dict(proxy.injected)}: {ran.stderr}"
    result = result_json(ran)
    assert (result["outcome"], result["version"], result["rolled_back_from"]) == (
        "succeeded",
        target,
        running,
    )
    assert result["image"]["digest"] == sandboxed.digests[target]
    assert_runs(sandboxed, target, result)
    assert_only_releases(sandboxed, w, {running, target})
    return dict(proxy.injected)


@pytest.mark.parametrize("seed", SEEDS)
def test_deploy_with_waiting_through_faults_ends_primary_completed_on_the_released_digest(
    sandboxed: World, seed: int, fast_retries: None
) -> None:
    injected = check_deploy(sandboxed, seed)
    assert sum(injected.values()) > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_rollback_with_waiting_through_faults_ends_primary_completed_on_the_target_release(
    sandboxed: World, seed: int, fast_retries: None
) -> None:
    injected = check_rollback(sandboxed, seed)
    assert sum(injected.values()) > 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", SOAK_SEEDS)
def test_soak_deploy_with_waiting_through_faults(sandboxed: World, seed: int, fast_retries: None) -> None:
    check_deploy(sandboxed, seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SOAK_SEEDS)
def test_soak_rollback_with_waiting_through_faults(sandboxed: World, seed: int, fast_retries: None) -> None:
    check_rollback(sandboxed, seed)


def test_a_release_that_never_turns_healthy_deployed_through_faults_is_reported_rolled_back(
    sandboxed: World, fast_retries: None
) -> None:
    running = str(service_now(sandboxed.endpoint)["taskDefinition"])
    before = sandboxed.version_of(digest_of(sandboxed.endpoint, running))

    with FaultProxy(sandboxed.endpoint, faults(7)) as proxy, watching(sandboxed) as w:
        ran = sandboxed.run("deploy", UNHEALTHY, "--timeout", DEPLOY_TIMEOUT, api_endpoint=proxy.url)
        sandboxed.settle()

    assert ran.code == 1, f"{dict(proxy.injected)}: {ran.stderr}"
    result = result_json(ran)
    assert (result["outcome"], result["version"]) == ("rolled_back", UNHEALTHY)
    service = service_now(sandboxed.endpoint)
    assert service["taskDefinition"] == running
    assert [(d["status"], d["rolloutState"]) for d in service["deployments"]] == [("PRIMARY", "COMPLETED")]
    assert running_digests(sandboxed.endpoint) == {sandboxed.digests[before]}
    # The unhealthy tasks never got traffic: every answer came from the release that stayed.
    assert set(w.answers) == {hello(before)}
    assert ledger_problems(snapshot(sandboxed.endpoint)) == []


def check_heavy(sandboxed: World, command: str, seed: int) -> None:
    """Through 50% faults and 2 attempts a call: success, or one line, exit 1 (exit 4 only when
    nothing was changed), and the service never on anything but the two releases involved."""
    before, target = rollback_pair(seed) if command == "rollback" else deploy_pair(seed)
    if command == "rollback":
        sandboxed.deploy_directly(target)  # a rollback goes back to a version this service ran
    sandboxed.deploy_directly(before)
    running = str(service_now(sandboxed.endpoint)["taskDefinition"])
    args = ("rollback", "--to", target) if command == "rollback" else ("deploy", target)

    plan = faults(seed, rate=0.5, reset_after_rate=0.1)
    with FaultProxy(sandboxed.endpoint, plan) as proxy, watching(sandboxed) as w:
        ran = sandboxed.run(*args, "--timeout", DEPLOY_TIMEOUT, api_endpoint=proxy.url, attempts="2")
        # A deployment started before a poll failed goes on in ECS: let it end before judging.
        sandboxed.settle()

    assert_only_releases(sandboxed, w, {before, target})
    assert ledger_problems(snapshot(sandboxed.endpoint)) == []
    if ran.code == 0:
        assert_runs(sandboxed, target, result_json(ran))
        return
    assert ran.code in (1, 4), f"{dict(proxy.injected)}: {ran.stderr}"
    assert one_line_error(ran), ran.stderr
    assert result_json(ran)["outcome"] == "error"
    if ran.code == 4:
        assert service_now(sandboxed.endpoint)["taskDefinition"] == running  # exit 4: nothing changed


@pytest.mark.parametrize("seed", HEAVY_SEEDS)
@pytest.mark.parametrize("command", ["deploy", "rollback"])
def test_a_deploy_or_rollback_broken_by_heavy_faults_fails_in_one_line_on_a_release(
    sandboxed: World, command: str, seed: int, fast_retries: None
) -> None:
    check_heavy(sandboxed, command, seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SOAK_HEAVY_SEEDS)
@pytest.mark.parametrize("command", ["deploy", "rollback"])
def test_soak_a_deploy_or_rollback_broken_by_heavy_faults(
    sandboxed: World, command: str, seed: int, fast_retries: None
) -> None:
    check_heavy(sandboxed, command, seed)


# ----------------------------------------------------------------------------- races


def check_rollback_racing_a_deploy(sandboxed: World, seed: int, tmp_path: Path) -> None:
    old, current, new = HEALTHY
    sandboxed.deploy_directly(old)
    sandboxed.deploy_directly(current)
    env = {**sandboxed.env(attempts="8"), **fast_retry_path(tmp_path / "site")}

    with (
        FaultProxy(sandboxed.endpoint, faults(seed)) as proxy,
        watching(sandboxed) as w,
    ):
        env["AWS_ENDPOINT_URL"] = proxy.url
        deploy, rollback = finish(
            [
                start_cli(["deploy", new, "--timeout", DEPLOY_TIMEOUT], sandboxed.project, env),
                start_cli(["rollback", "--to", old, "--timeout", DEPLOY_TIMEOUT], sandboxed.project, env),
            ]
        )
        sandboxed.settle()

    racers = {"deploy": deploy, "rollback": rollback}
    for name, racer in racers.items():
        assert (racer.code, racer.result.get("outcome")) in ((0, "succeeded"), (5, "superseded")), (
            f"{name}: {racer.stderr}"
        )
    assert (deploy.result["version"], rollback.result["version"]) == (new, old)
    winners = [r for r in (deploy, rollback) if r.code == 0]
    assert winners, "neither reported success"

    service = service_now(sandboxed.endpoint)
    primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
    (final,) = [r for r in winners if r.result["deployment_id"] == primary["id"]]
    assert_runs(sandboxed, final.result["version"], final.result)
    events = [e["message"] for e in service["events"]]
    for racer, other in ((deploy, rollback), (rollback, deploy)):
        ours = racer.result["deployment_id"]
        if racer.code == 5:
            # Superseded: by the other racer's deployment, named in the message.
            assert ours != primary["id"]
            assert other.result["deployment_id"] in racer.result["message"], racer.result["message"]
        elif racer is not final:
            # Both succeeded: this one completed before the other replaced it.
            assert f"(service {SERVICE}) (deployment {ours}) deployment completed." in events
    assert_only_releases(sandboxed, w, {old, current, new})


def test_a_rollback_racing_a_deploy_through_faults_ends_where_one_intended_and_both_tell_the_truth(
    sandboxed: World, tmp_path: Path
) -> None:
    check_rollback_racing_a_deploy(sandboxed, 21, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(500, 510))
def test_soak_a_rollback_racing_a_deploy_through_faults(sandboxed: World, seed: int, tmp_path: Path) -> None:
    check_rollback_racing_a_deploy(sandboxed, seed, tmp_path)
