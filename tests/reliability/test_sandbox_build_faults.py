"""Builds with real logs, and releases racing with the sandbox's image builder, between
`releasectl` and the sandbox, through the fault proxy.

One sandbox for the module (the `sandboxed` fixture, tests/support/sandbox_world.py): its
CodeBuild runs the buildspec and writes CloudWatch Logs as the build goes. The CLI talks to the
sandbox through the proxy at a 20% fault rate (plus answers lost after the sandbox applied the
request); every check reads the sandbox directly.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_state import client, ledger_problems, snapshot
from tests.support.cli import CliResult, start_cli
from tests.support.ecr_fixtures import create_repository
from tests.support.faultproxy import FaultPlan, FaultProxy
from tests.support.flows import result_json
from tests.support.git import git
from tests.support.sandbox_projects import CONFIG, init_repo, service_files
from tests.support.sandbox_world import (
    BUILD_LINES,
    SEEDS,
    SOAK_SEEDS,
    Finished,
    World,
    fast_retry_path,
    faults,
    finish,
)

pytestmark = pytest.mark.e2e


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


# ----------------------------------------------------------------------------- releases racing


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
