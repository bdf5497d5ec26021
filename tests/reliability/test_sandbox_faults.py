"""Deploy and rollback with real rollouts, builds with real logs, and races, between `releasectl`
and the sandbox, through the fault proxy.

One sandbox for the module (tests/support/sandbox_world.py): its ECS simulator rolls
deployments out with real task processes behind its load balancer, and its CodeBuild runs the
buildspec and writes CloudWatch Logs as the build goes. The CLI talks to the sandbox through the
proxy at a 20% fault rate (plus answers lost after the sandbox applied the request); every check
reads the sandbox directly. Each test sets up the service state it needs, so the tests run in
any order and on any xdist worker.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_state import client, ledger_problems, snapshot
from tests.support.cli import CliResult, one_line_error, start_cli
from tests.support.ecr_fixtures import create_repository
from tests.support.faultproxy import FaultPlan, FaultProxy
from tests.support.flows import result_json
from tests.support.git import git
from tests.support.sandbox_projects import CONFIG, get, init_repo, service_files
from tests.support.sandbox_world import (
    BUILD_LINES,
    DEPLOY_TIMEOUT,
    HEALTHY,
    SERVICE,
    UNHEALTHY,
    Finished,
    Watcher,
    World,
    digest_of,
    fast_retry_path,
    finish,
    hello,
    running_digests,
    sandbox_world,
    service_now,
)

RATE = 0.2
RESET_AFTER_RATE = 0.05
SEEDS = [1, 2, 3]
SOAK_SEEDS = list(range(300, 330))
HEAVY_SEEDS = [5]
SOAK_HEAVY_SEEDS = list(range(400, 420))


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with sandbox_world(tmp_path_factory.mktemp("sandbox-faults")) as running:
        yield running


def faults(seed: int, rate: float = RATE, reset_after_rate: float = RESET_AFTER_RATE) -> FaultPlan:
    return FaultPlan(rate=rate, seed=seed, reset_after_rate=reset_after_rate)


# (running before, asked for) per seed. Each test puts the service on its first version itself;
# in file order most start where the one before ended, which saves their setup rollout.
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


# ----------------------------------------------------------------------------- builds and their logs


def stream_lines(endpoint: str, build_id: str) -> list[str]:
    """The build's whole CloudWatch log stream, read directly."""
    build = client(endpoint, "codebuild").batch_get_builds(ids=[build_id])["builds"][0]
    logs = client(endpoint, "logs")
    params: dict[str, Any] = {
        "logGroupName": build["logs"]["groupName"],
        "logStreamName": build["logs"]["streamName"],
        "startFromHead": True,
    }
    lines: list[str] = []
    while True:
        page = logs.get_log_events(**params)
        lines.extend(e["message"].rstrip("\r\n") for e in page["events"])
        if page["nextForwardToken"] == params.get("nextToken"):
            return lines
        params["nextToken"] = page["nextForwardToken"]


def builds_of(endpoint: str, commit: str) -> list[str]:
    codebuild = client(endpoint, "codebuild")
    ids = codebuild.list_builds_for_project(projectName="hello-world-release")["ids"]
    builds = codebuild.batch_get_builds(ids=ids)["builds"] if ids else []
    return [b["id"] for b in builds if b.get("sourceVersion") == commit]


def check_build(sandboxed: World, seed: int, commit: str) -> tuple[CliResult, dict[str, Any], list[str]]:
    """`releasectl build --ref COMMIT` (start and follow) through faults; what it printed of the
    log is exactly the stream, every line once, in order."""
    earlier = builds_of(sandboxed.endpoint, commit)
    with FaultProxy(sandboxed.endpoint, faults(seed)) as proxy:
        ran = sandboxed.run("build", "--ref", commit, api_endpoint=proxy.url)

    result = result_json(ran)
    assert result.get("build_id"), f"{dict(proxy.injected)}: {ran.stderr}"
    stream = stream_lines(sandboxed.endpoint, result["build_id"])
    printed = ran.stderr.splitlines()
    in_stream = set(stream)
    assert [line for line in printed if line in in_stream] == stream
    numbered = [line for line in printed if line.startswith("numbered line ")]
    assert numbered == [f"numbered line {n} of {BUILD_LINES}" for n in range(1, BUILD_LINES + 1)]
    assert result["log_lines"] == len(stream)
    # One build for one command, whatever answers were lost on the way (the idempotency token).
    assert [b for b in builds_of(sandboxed.endpoint, commit) if b not in earlier] == [result["build_id"]]
    return ran, result, stream


@pytest.mark.parametrize("seed", SEEDS)
def test_build_followed_through_faults_shows_every_line_exactly_once_in_order_and_exits_0(
    sandboxed: World, seed: int, fast_retries: None
) -> None:
    ran, result, _ = check_build(sandboxed, seed, sandboxed.good_commit)

    assert ran.code == 0, ran.stderr
    assert (result["outcome"], result["status"]) == ("succeeded", "SUCCEEDED")


def test_a_failing_build_followed_through_faults_shows_every_line_and_exits_1(
    sandboxed: World, fast_retries: None
) -> None:
    ran, result, stream = check_build(sandboxed, 11, sandboxed.failing_commit)

    assert ran.code == 1, ran.stderr
    assert (result["outcome"], result["status"]) == ("failed", "FAILED")
    assert "failing on purpose" in stream
    assert "failing on purpose" in ran.stderr.splitlines()


@pytest.mark.slow
@pytest.mark.parametrize("seed", SOAK_SEEDS)
def test_soak_build_followed_through_faults(sandboxed: World, seed: int, fast_retries: None) -> None:
    ran, _, _ = check_build(sandboxed, seed, sandboxed.good_commit)
    assert ran.code == 0, ran.stderr


def test_a_start_build_whose_answer_was_lost_starts_one_build_not_two(
    sandboxed: World, fast_retries: None
) -> None:
    """The retry carries the same idempotency token, and CodeBuild answers it with the build the
    lost request started."""
    first = iter(["reset_after"])
    plan = FaultPlan(forced=lambda r: next(first, "") if r.operation == "StartBuild" else "")
    earlier = builds_of(sandboxed.endpoint, sandboxed.good_commit)

    with FaultProxy(sandboxed.endpoint, plan) as proxy:
        ran = sandboxed.run("build", "--ref", sandboxed.good_commit, "--no-follow", api_endpoint=proxy.url)

    assert proxy.injected == {"reset_after": 1}
    assert ran.code == 0, ran.stderr
    started = [b for b in builds_of(sandboxed.endpoint, sandboxed.good_commit) if b not in earlier]
    assert started == [result_json(ran)["build_id"]]


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


def race_repository(sandboxed: World, prefix: str) -> str:
    """A release repository of its own, made like the sandbox's (immutable except `latest`)."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    create_repository(
        client(sandboxed.endpoint, "ecr"),
        name,
        mutability="IMMUTABLE_WITH_EXCLUSION",
        mutable_tags=["latest"],
    )
    return name


def release_all(
    sandboxed: World, clones: list[Path], repository: str, seed: int, site: Path
) -> list[Finished]:
    """`releasectl release --no-deploy --builder sandbox` in every clone at once, through faults."""
    env = {**sandboxed.env(attempts="8"), "RELEASECTL_ECR_REPOSITORY": repository, **fast_retry_path(site)}
    with FaultProxy(sandboxed.endpoint, faults(seed)) as proxy:
        env["AWS_ENDPOINT_URL"] = proxy.url
        return finish(
            # The racers' own commits are in their clones only: released as pipelines would once pushed.
            [
                start_cli(["release", "--no-deploy", "--builder", "sandbox", "--allow-unpushed"], clone, env)
                for clone in clones
            ]
        )


def origin_with_clones(root: Path, count: int) -> tuple[Path, list[Path]]:
    origin = init_repo(root / "origin", {"pyproject.toml": CONFIG, **service_files()})
    clones = []
    for n in range(count):
        git(root, "clone", "-q", str(origin), str(root / f"clone-{n}"))
        clones.append(root / f"clone-{n}")
    return origin, clones


def test_two_sandbox_builder_releases_of_one_commit_at_once_through_faults_claim_one_version(
    sandboxed: World, tmp_path: Path
) -> None:
    repository = race_repository(sandboxed, "race-one-commit")
    origin, clones = origin_with_clones(tmp_path, 2)
    sha = git(origin, "rev-parse", "HEAD")

    results = release_all(sandboxed, clones, repository, 31, tmp_path / "site")

    assert [r.code for r in results] == [0, 0], [r.stderr for r in results]
    assert {r.result["version"] for r in results} == {"0.1.0"}
    assert {r.result["outcome"] for r in results} <= {"succeeded", "noop"}
    (digest,) = {r.result["image"]["digest"] for r in results}
    images = snapshot(sandboxed.endpoint)["ecr"][repository]["images"]
    assert images == {digest: ("0.1.0", f"git-{sha}")}
    assert ledger_problems(snapshot(sandboxed.endpoint)) == []


def test_sandbox_builder_releases_of_three_commits_at_once_through_faults_claim_three_versions(
    sandboxed: World, tmp_path: Path
) -> None:
    repository = race_repository(sandboxed, "race-three-commits")
    _, clones = origin_with_clones(tmp_path, 3)
    shas = []
    for n, clone in enumerate(clones):
        (clone / f"feature-{n}.txt").write_text(f"feature {n}\n")
        git(clone, "add", f"feature-{n}.txt")
        git(clone, "commit", "-q", "-m", f"fix: change {n}")
        shas.append(git(clone, "rev-parse", "HEAD"))

    results = release_all(sandboxed, clones, repository, 41, tmp_path / "site")

    assert [r.code for r in results] == [0, 0, 0], [r.stderr for r in results]
    versions = [r.result["version"] for r in results]
    assert sorted(versions) == ["0.1.0", "0.1.1", "0.1.2"]
    images = snapshot(sandboxed.endpoint)["ecr"][repository]["images"]
    ecr = client(sandboxed.endpoint, "ecr")
    for sha, racer in zip(shas, results, strict=True):
        digest, version = racer.result["image"]["digest"], racer.result["version"]
        assert images[digest] == tuple(sorted((version, f"git-{sha}")))
        # The image under each version is the one built from that racer's own commit.
        manifest = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": version}])
        config_digest = json.loads(manifest["images"][0]["imageManifest"])["config"]["digest"]
        labels = json.loads(sandboxed.sandbox.state.blobs.get(config_digest))["config"]["Labels"]
        assert labels["org.opencontainers.image.revision"] == sha
        assert labels["org.opencontainers.image.version"] == version
    assert ledger_problems(snapshot(sandboxed.endpoint)) == []
