"""Races between real `releasectl` processes against one AWS endpoint (a moto server here).

Each process is the CLI in its own interpreter, the way eight CodeBuild jobs or two operators
would run it; state is checked independently with boto3 afterwards.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_state import client, ledger_problems, service_images, snapshot
from tests.support.cli import run_cli, start_cli
from tests.support.ecr_fixtures import push_image
from tests.support.flows import (
    APP,
    CLUSTER,
    SERVICE,
    SHOP,
    commit,
    docker_env,
    ledger_config,
    ledger_world,
    release_world,
    source_repo,
)
from tests.support.git import git

pytestmark = pytest.mark.e2e

RACERS = 8
# Each lost claim means another racer took that version, so with N racing at once the last one
# needs up to N attempts (measured with 8: up to 6), which is why claim_attempts defaults to 10;
# set here explicitly so the race stays valid whatever the default becomes.
CONTENDED = {"RELEASECTL_CLAIM_ATTEMPTS": str(RACERS + 2)}


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, dict[str, Any], str]]:
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        try:
            data = json.loads(out)
        except ValueError:
            data = {}
        done.append((proc.returncode, data, err))
    return done


def clone_at(origin: Path, target: Path, base: str) -> Path:
    git(target.parent, "clone", "-q", str(origin), str(target))
    git(target, "checkout", "-q", base)
    return target


def build_args_of(docker_state: Path, version: str) -> list[str]:
    """The --build-arg values of the fake docker build that made `version` in one process."""
    for line in (docker_state / "calls.jsonl").read_text().splitlines():
        argv = json.loads(line)["argv"]
        if argv[:2] == ["buildx", "build"] and f"APP_VERSION={version}" in argv:
            return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--build-arg"]
    raise AssertionError(f"no build of {version} in {docker_state}")


def config_digest(docker_state: Path, version: str) -> str:
    """The image config digest that build produced (the fake docker hashes its arguments the
    way a real build's config reflects its build args and labels)."""
    for line in (docker_state / "calls.jsonl").read_text().splitlines():
        argv = json.loads(line)["argv"]
        if argv[:2] == ["buildx", "build"] and f"APP_VERSION={version}" in argv:
            options = argv[2:]

            def values(name: str, opts: list[str] = options) -> list[str]:
                return [opts[i + 1] for i, arg in enumerate(opts[:-1]) if arg == name]

            config = json.dumps(
                {"build_args": values("--build-arg"), "labels": values("--label")}, sort_keys=True
            ).encode()
            return "sha256:" + hashlib.sha256(config).hexdigest()
    raise AssertionError(f"no build of {version} in {docker_state}")


def stored_config_digest(endpoint: str, repository: str, tag: str) -> str:
    image = client(endpoint, "ecr").batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag}])
    return str(json.loads(image["images"][0]["imageManifest"])["config"]["digest"])


@pytest.fixture
def released_base(aws_endpoint: str, tmp_path: Path) -> dict[str, Any]:
    """A source repository whose first commit is released as 0.1.0."""
    release_world(aws_endpoint)
    origin = source_repo(tmp_path / "origin")
    env = docker_env(tmp_path / "bin", tmp_path / "docker-base", aws_endpoint)
    first = run_cli("release", "--no-deploy", cwd=origin, env={**env, "AWS_ENDPOINT_URL": aws_endpoint})
    assert first.code == 0, first.stderr
    return {"origin": origin, "base": git(origin, "rev-parse", "HEAD")}


def test_eight_releases_of_eight_commits_at_once_claim_eight_distinct_versions_each_on_its_own_image(
    aws_endpoint: str, tmp_path: Path, released_base: dict[str, Any]
) -> None:
    racers = []
    for n in range(RACERS):
        clone = clone_at(released_base["origin"], tmp_path / f"clone-{n}", released_base["base"])
        sha = commit(clone, f"feat: feature {n}", filename=f"feature-{n}.txt")
        env = docker_env(tmp_path / f"bin-{n}", tmp_path / f"docker-{n}", aws_endpoint)
        racers.append({"clone": clone, "sha": sha, "docker": tmp_path / f"docker-{n}", "env": env})

    procs = [
        start_cli(
            ["release", "--no-deploy", "--allow-unpushed"],  # each racer's commit is in its clone only
            r["clone"],
            {**r["env"], "AWS_ENDPOINT_URL": aws_endpoint, **CONTENDED},
        )
        for r in racers
    ]
    results = finish(procs)

    assert [code for code, _, _ in results] == [0] * RACERS, [err[-600:] for _, _, err in results]
    versions = [data["version"] for _, data, _ in results]
    assert len(set(versions)) == RACERS, versions
    state = snapshot(aws_endpoint)
    assert ledger_problems(state) == []
    images = state["ecr"][SHOP]["images"]
    for racer, (_, data, _) in zip(racers, results, strict=True):
        version, digest = data["version"], data["image"]["digest"]
        assert images[digest] == tuple(sorted((version, f"git-{racer['sha']}")))
        # The image under the version is the one this process built from its own commit.
        assert f"GIT_COMMIT={racer['sha']}" in build_args_of(racer["docker"], version)
        assert stored_config_digest(aws_endpoint, SHOP, version) == config_digest(racer["docker"], version)
    released = sorted(t for tags in images.values() for t in tags if not t.startswith("git-"))
    assert len(released) == RACERS + 1  # 0.1.0 and one per racer: nothing overwritten or lost


def test_the_same_commit_released_by_two_processes_at_once_gets_one_version(
    aws_endpoint: str, tmp_path: Path, released_base: dict[str, Any]
) -> None:
    sha = commit(released_base["origin"], "fix: one change")
    clones = [clone_at(released_base["origin"], tmp_path / f"twin-{n}", sha) for n in range(2)]
    envs = [
        docker_env(tmp_path / f"twin-bin-{n}", tmp_path / f"twin-docker-{n}", aws_endpoint) for n in range(2)
    ]

    results = finish(
        [
            start_cli(["release", "--no-deploy"], clone, {**env, "AWS_ENDPOINT_URL": aws_endpoint})
            for clone, env in zip(clones, envs, strict=True)
        ]
    )

    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    assert {data["version"] for _, data, _ in results} == {"0.1.1"}
    assert len({data["image"]["digest"] for _, data, _ in results}) == 1
    images = snapshot(aws_endpoint)["ecr"][SHOP]["images"]
    holding = [tags for tags in images.values() if f"git-{sha}" in tags]
    assert holding == [("0.1.1", f"git-{sha}")]


@pytest.mark.parametrize("round_", range(3))
def test_a_rollback_racing_a_deploy_ends_in_a_state_one_of_them_intended_and_both_tell_the_truth(
    aws_endpoint: str, tmp_path: Path, round_: int
) -> None:
    digests = ledger_world(aws_endpoint)
    digests["1.3.0"] = push_image(
        client(aws_endpoint, "ecr"), APP, tags=["1.3.0", "git-" + "3" * 40], config_bytes=b"config of 1.3.0"
    )
    workdir = ledger_config(tmp_path / "ledger")
    env = {"AWS_ENDPOINT_URL": aws_endpoint}
    assert run_cli("deploy", "1.2.0", "--no-wait", cwd=workdir, env=env).code == 0

    results = finish(
        [
            start_cli(["deploy", "1.3.0", "--no-wait"], workdir, env),
            start_cli(["rollback", "--to", "1.1.0", "--no-wait"], workdir, env),
        ]
    )

    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    (_, deployed, _), (_, rolled, _) = results
    assert (deployed["version"], deployed["image"]["digest"]) == ("1.3.0", digests["1.3.0"])
    assert (rolled["version"], rolled["image"]["digest"]) == ("1.1.0", digests["1.1.0"])
    for data in (deployed, rolled):
        assert data["outcome"] in ("succeeded", "noop")
        assert data["verified"] is False or data["outcome"] == "noop"  # --no-wait claims no more
    state = snapshot(aws_endpoint)
    final_td = state["services"][f"{CLUSTER}/{SERVICE}"]["task_definition"]
    # The service ends on what one of them asked for, through the revision that one reported.
    winner = next(data for data in (deployed, rolled) if data["task_definition"] == final_td)
    assert service_images(state)[f"{CLUSTER}/{SERVICE}"]["app"].endswith(winner["image"]["digest"])
    assert ledger_problems(state) == []
