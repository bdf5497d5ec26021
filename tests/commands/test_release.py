"""`releasectl release` end to end against a moto server, with a fake `docker` on PATH.

State is checked independently through boto3 on the same endpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, GitRepo
from tests.support import fake_docker
from tests.support.ecr_fixtures import create_repository, snapshot, tags_of
from tests.support.moto_fixtures import create_fargate_service

REPO, CLUSTER, SERVICE = "shop", "shop", "shop"


@pytest.fixture
def world(moto_endpoint: str, git_repo: GitRepo, tmp_path: Path) -> dict[str, Any]:
    """A repository with commits, a release repository, and a service running a placeholder."""
    import boto3

    ecr = boto3.client("ecr", endpoint_url=moto_endpoint, region_name="us-east-1")
    ecs = boto3.client("ecs", endpoint_url=moto_endpoint, region_name="us-east-1")
    # IMMUTABLE, not IMMUTABLE_WITH_EXCLUSION as in infra/: moto 5.2 crashes on an untagged
    # push (what buildx push-by-digest does) into a repository with exclusion filters.
    create_repository(ecr, REPO, mutability="IMMUTABLE")
    create_fargate_service(ecs, cluster=CLUSTER, service=SERVICE, image="public.ecr.aws/x/placeholder:1")
    (git_repo.path / "pyproject.toml").write_text(
        f'[tool.releasectl]\necr_repository = "{REPO}"\necs_cluster = "{CLUSTER}"\n'
        f'ecs_service = "{SERVICE}"\ncontainer_name = "app"\nbuilder = "docker"\n'
    )
    (git_repo.path / "Dockerfile").write_text((ROOT / "Dockerfile").read_text())
    git_repo.git("add", "pyproject.toml", "Dockerfile")
    git_repo.commit("feat: first service")
    bin_dir = tmp_path / "bin"
    fake_docker.install(bin_dir, tmp_path / "docker-state")
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    return {"ecr": ecr, "ecs": ecs, "repo": git_repo, "env": env, "docker": tmp_path / "docker-state"}


def release(world: dict[str, Any], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "releasectl", "--json", "release", *args],
        cwd=cwd or world["repo"].path,
        env={**os.environ, **world["env"]},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def service_image(world: dict[str, Any]) -> str:
    ecs = world["ecs"]
    arn = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["taskDefinition"]
    definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return next(c["image"] for c in definition["containerDefinitions"] if c["name"] == "app")


def test_release_claims_the_version_writes_definitions_and_points_the_service_at_the_digest(
    world: dict[str, Any], tmp_path: Path
) -> None:
    env_file = tmp_path / "release.env"
    proc = release(world, "--no-wait", "--env-file", str(env_file))

    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    head = world["repo"].head()
    assert result["command"] == "release"
    assert result["outcome"] == "succeeded"
    assert result["version"] == "0.1.0"
    digest = result["image"]["digest"]
    assert tags_of(world["ecr"], REPO, digest) == {"0.1.0", f"git-{head}"}
    definitions = json.loads((world["repo"].path / "imagedefinitions.json").read_text())
    assert definitions == [{"name": "app", "imageUri": result["image"]["uri"]}]
    assert result["image"]["uri"].endswith(f"/{REPO}@{digest}")
    assert service_image(world) == result["image"]["uri"]
    assert env_file.read_text().splitlines() == [
        "export RELEASE_VERSION='0.1.0'",
        f"export IMAGE_DIGEST='{digest}'",
        f"export IMAGE_URI='{result['image']['uri']}'",
    ]


def test_the_image_is_built_with_the_version_and_commit_and_pushed_untagged(world: dict[str, Any]) -> None:
    proc = release(world, "--no-deploy")
    assert proc.returncode == 0, proc.stderr

    builds = [c["argv"] for c in fake_docker.calls(world["docker"]) if c["argv"][:2] == ["buildx", "build"]]
    assert len(builds) == 1
    argv = builds[0]
    head = world["repo"].head()
    assert "APP_VERSION=0.1.0" in argv
    assert f"GIT_COMMIT={head}" in argv
    assert any(a.startswith("SOURCE_DATE_EPOCH=") for a in argv)
    assert not any(a == "--tag" for a in argv)


def test_rerunning_for_a_released_commit_changes_nothing_and_exits_0(world: dict[str, Any]) -> None:
    assert release(world, "--no-wait").returncode == 0
    before = (snapshot(world["ecr"], REPO), service_image(world))
    task_definitions = world["ecs"].list_task_definitions()["taskDefinitionArns"]

    again = release(world, "--no-wait")

    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["outcome"] == "noop"
    assert result["version"] == "0.1.0"
    assert (snapshot(world["ecr"], REPO), service_image(world)) == before
    assert world["ecs"].list_task_definitions()["taskDefinitionArns"] == task_definitions


def test_a_feat_after_a_release_ships_the_next_minor(world: dict[str, Any]) -> None:
    assert release(world, "--no-deploy").returncode == 0
    world["repo"].commit("feat: add a greeting")

    proc = release(world, "--no-deploy")

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["version"] == "0.2.0"


def test_two_commits_racing_for_one_version_end_with_distinct_versions(
    world: dict[str, Any], tmp_path: Path
) -> None:
    repo: GitRepo = world["repo"]
    assert release(world, "--no-deploy").returncode == 0  # 0.1.0
    base = repo.head()
    # Two sibling commits on the same base, each in its own clone, released at once.
    clones = []
    for name in ("left", "right"):
        clone = tmp_path / name
        subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)
        sibling = GitRepo(clone)
        sibling.git("checkout", "-q", base)
        sibling.commit(f"feat: {name} feature", filename=f"{name}.txt")
        clones.append(sibling)
    procs = [
        subprocess.Popen(
            # Unpushed sibling commits, as two pipelines would see them once pushed.
            [sys.executable, "-m", "releasectl", "--json", "release", "--no-deploy", "--allow-unpushed"],
            cwd=clone.path,
            env={**os.environ, **world["env"]},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for clone in clones
    ]
    outputs = [p.communicate(timeout=120) for p in procs]

    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    results = [json.loads(out) for out, _ in outputs]
    versions = sorted(r["version"] for r in results)
    assert versions[0] != versions[1]
    assert set(versions) <= {"0.2.0", "0.3.0"}
    for clone, result in zip(clones, results, strict=True):
        tags = tags_of(world["ecr"], REPO, result["image"]["digest"])
        assert tags == {result["version"], f"git-{clone.head()}"}


def test_release_without_an_ecr_repository_configured_is_exit_2_and_builds_nothing(
    world: dict[str, Any],
) -> None:
    repo: GitRepo = world["repo"]
    (repo.path / "pyproject.toml").write_text("[tool.releasectl]\n")
    before = snapshot(world["ecr"], REPO)

    proc = release(world, "--no-deploy")

    assert proc.returncode == 2
    assert "ecr_repository" in proc.stderr
    assert fake_docker.calls(world["docker"]) == []
    assert snapshot(world["ecr"], REPO) == before


def test_release_without_docker_is_exit_4_with_a_hint_and_claims_nothing(world: dict[str, Any]) -> None:
    import shutil

    git_dir = str(Path(shutil.which("git") or "/usr/bin/git").parent)
    if shutil.which("docker", path=git_dir):
        pytest.skip("docker lives beside git here; cannot hide it by PATH")
    world["env"]["PATH"] = git_dir
    before = snapshot(world["ecr"], REPO)

    proc = release(world, "--no-deploy")

    assert proc.returncode == 4, proc.stderr
    assert "docker" in proc.stderr.lower()
    assert snapshot(world["ecr"], REPO) == before


def test_a_release_is_mirrored_as_an_annotated_git_tag_pushed_to_origin(
    world: dict[str, Any], tmp_path: Path
) -> None:
    repo: GitRepo = world["repo"]
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main")

    proc = release(world, "--no-deploy")

    assert proc.returncode == 0, proc.stderr
    assert repo.git("cat-file", "-t", "v0.1.0") == "tag"
    assert repo.git("rev-list", "-n1", "v0.1.0") == repo.head()
    remote_tags = subprocess.run(
        ["git", "ls-remote", "--tags", str(origin)], capture_output=True, text=True, check=True
    ).stdout
    assert "refs/tags/v0.1.0" in remote_tags


def test_a_tag_that_cannot_be_pushed_is_a_warning_not_a_failed_release(world: dict[str, Any]) -> None:
    repo: GitRepo = world["repo"]
    repo.git("remote", "add", "origin", "/nonexistent/origin.git")

    proc = release(world, "--no-deploy", "--allow-unpushed")

    assert proc.returncode == 0, proc.stderr
    assert "git tag mirror v0.1.0" in proc.stderr
    assert repo.git("rev-list", "-n1", "v0.1.0") == repo.head()


def test_a_commit_tagged_in_git_but_missing_from_ecr_is_built_and_claimed_under_that_version(
    world: dict[str, Any],
) -> None:
    repo: GitRepo = world["repo"]
    repo.tag("v0.4.0")

    proc = release(world, "--no-deploy")

    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["version"] == "0.4.0"
    assert tags_of(world["ecr"], REPO, result["image"]["digest"]) == {"0.4.0", f"git-{repo.head()}"}
