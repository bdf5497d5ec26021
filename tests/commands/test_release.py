"""`releasectl release` end to end against a moto server, with a fake `docker` on PATH (the `world`).

State is checked independently through boto3 on the same endpoint.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support import fake_docker
from tests.support.cli import start_cli
from tests.support.ecr_fixtures import snapshot, tags_of
from tests.support.git import GitRepo
from tests.support.release_world import CLUSTER, REPOSITORY, SERVICE, World


def service_image(world: World) -> str:
    ecs = world.ecs
    arn = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["taskDefinition"]
    definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return next(c["image"] for c in definition["containerDefinitions"] if c["name"] == "app")


def test_release_claims_the_version_writes_definitions_and_points_the_service_at_the_digest(
    world: World, tmp_path: Path
) -> None:
    env_file = tmp_path / "release.env"
    proc = world.cli("release", "--no-wait", "--env-file", str(env_file))

    assert proc.code == 0, proc.stderr
    result = json.loads(proc.stdout)
    head = world.repo.head()
    assert result["command"] == "release"
    assert result["outcome"] == "succeeded"
    assert result["version"] == "0.1.0"
    digest = result["image"]["digest"]
    assert tags_of(world.ecr, REPOSITORY, digest) == {"0.1.0", f"git-{head}"}
    definitions = json.loads((world.repo.path / "imagedefinitions.json").read_text())
    assert definitions == [{"name": "app", "imageUri": result["image"]["uri"]}]
    assert result["image"]["uri"].endswith(f"/{REPOSITORY}@{digest}")
    assert service_image(world) == result["image"]["uri"]
    assert env_file.read_text().splitlines() == [
        "export RELEASE_VERSION='0.1.0'",
        f"export IMAGE_DIGEST='{digest}'",
        f"export IMAGE_URI='{result['image']['uri']}'",
    ]


def test_the_image_is_built_with_the_version_and_commit_and_pushed_untagged(world: World) -> None:
    proc = world.cli("release", "--no-deploy")
    assert proc.code == 0, proc.stderr

    builds = [
        c["argv"] for c in fake_docker.calls(world.docker_state) if c["argv"][:2] == ["buildx", "build"]
    ]
    assert len(builds) == 1
    argv = builds[0]
    head = world.repo.head()
    assert "APP_VERSION=0.1.0" in argv
    assert f"GIT_COMMIT={head}" in argv
    assert any(a.startswith("SOURCE_DATE_EPOCH=") for a in argv)
    assert not any(a == "--tag" for a in argv)


def test_rerunning_for_a_released_commit_changes_nothing_and_exits_0(world: World) -> None:
    assert world.cli("release", "--no-wait").code == 0
    before = (snapshot(world.ecr, REPOSITORY), service_image(world))
    task_definitions = world.ecs.list_task_definitions()["taskDefinitionArns"]

    again = world.cli("release", "--no-wait")

    assert again.code == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["outcome"] == "noop"
    assert result["version"] == "0.1.0"
    assert (snapshot(world.ecr, REPOSITORY), service_image(world)) == before
    assert world.ecs.list_task_definitions()["taskDefinitionArns"] == task_definitions


def test_a_feat_after_a_release_ships_the_next_minor(world: World) -> None:
    assert world.cli("release", "--no-deploy").code == 0
    world.repo.commit("feat: add a greeting")

    proc = world.cli("release", "--no-deploy")

    assert proc.code == 0, proc.stderr
    assert json.loads(proc.stdout)["version"] == "0.2.0"


def test_two_commits_racing_for_one_version_end_with_distinct_versions(world: World, tmp_path: Path) -> None:
    repo: GitRepo = world.repo
    assert world.cli("release", "--no-deploy").code == 0  # 0.1.0
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
    # Unpushed sibling commits, as two pipelines would see them once pushed.
    procs = [
        start_cli(["release", "--no-deploy", "--allow-unpushed"], clone.path, world.env) for clone in clones
    ]
    outputs = [p.communicate(timeout=120) for p in procs]

    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    results = [json.loads(out) for out, _ in outputs]
    versions = sorted(r["version"] for r in results)
    assert versions[0] != versions[1]
    assert set(versions) <= {"0.2.0", "0.3.0"}
    for clone, result in zip(clones, results, strict=True):
        tags = tags_of(world.ecr, REPOSITORY, result["image"]["digest"])
        assert tags == {result["version"], f"git-{clone.head()}"}


def test_release_without_an_ecr_repository_configured_is_exit_2_and_builds_nothing(
    world: World,
) -> None:
    repo: GitRepo = world.repo
    (repo.path / "pyproject.toml").write_text("[tool.releasectl]\n")
    before = snapshot(world.ecr, REPOSITORY)

    proc = world.cli("release", "--no-deploy")

    assert proc.code == 2
    assert "ecr_repository" in proc.stderr
    assert fake_docker.calls(world.docker_state) == []
    assert snapshot(world.ecr, REPOSITORY) == before


def test_release_without_docker_is_exit_4_with_a_hint_and_claims_nothing(world: World) -> None:
    import shutil

    git_dir = str(Path(shutil.which("git") or "/usr/bin/git").parent)
    if shutil.which("docker", path=git_dir):
        pytest.skip("docker lives beside git here; cannot hide it by PATH")
    world.env["PATH"] = git_dir
    before = snapshot(world.ecr, REPOSITORY)

    proc = world.cli("release", "--no-deploy")

    assert proc.code == 4, proc.stderr
    assert "docker" in proc.stderr.lower()
    assert snapshot(world.ecr, REPOSITORY) == before


def test_a_release_is_mirrored_as_an_annotated_git_tag_pushed_to_origin(world: World, tmp_path: Path) -> None:
    repo: GitRepo = world.repo
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main")

    proc = world.cli("release", "--no-deploy")

    assert proc.code == 0, proc.stderr
    assert repo.git("cat-file", "-t", "v0.1.0") == "tag"
    assert repo.git("rev-list", "-n1", "v0.1.0") == repo.head()
    remote_tags = subprocess.run(
        ["git", "ls-remote", "--tags", str(origin)], capture_output=True, text=True, check=True
    ).stdout
    assert "refs/tags/v0.1.0" in remote_tags


def test_a_tag_that_cannot_be_pushed_is_a_warning_not_a_failed_release(world: World) -> None:
    repo: GitRepo = world.repo
    repo.git("remote", "add", "origin", "/nonexistent/origin.git")

    proc = world.cli("release", "--no-deploy", "--allow-unpushed")

    assert proc.code == 0, proc.stderr
    assert "git tag mirror v0.1.0" in proc.stderr
    assert repo.git("rev-list", "-n1", "v0.1.0") == repo.head()


def test_a_commit_tagged_in_git_but_missing_from_ecr_is_built_and_claimed_under_that_version(
    world: World,
) -> None:
    repo: GitRepo = world.repo
    repo.tag("v0.4.0")

    proc = world.cli("release", "--no-deploy")

    assert proc.code == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["version"] == "0.4.0"
    assert tags_of(world.ecr, REPOSITORY, result["image"]["digest"]) == {"0.4.0", f"git-{repo.head()}"}
