"""`release` builds for the platform the service runs: its task definition's runtimePlatform, or the
`platform` setting when they agree; a disagreement is exit 4 before anything is built or pushed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.support import fake_docker
from tests.support.cli import CliResult, run_cli
from tests.support.ecr_fixtures import create_repository, snapshot
from tests.support.git import GitRepo
from tests.support.paths import ROOT
from tests.support.scripted_ecs import task_definition_body

NAME = "shop"


def make_world(moto_endpoint: str, repo: GitRepo, tmp_path: Path, *, architecture: str) -> dict[str, Any]:
    import boto3

    ecr = boto3.client("ecr", endpoint_url=moto_endpoint, region_name="us-east-1")
    ecs = boto3.client("ecs", endpoint_url=moto_endpoint, region_name="us-east-1")
    create_repository(ecr, NAME, mutability="IMMUTABLE")
    ecs.create_cluster(clusterName=NAME)
    body = task_definition_body(image="public.ecr.aws/x/placeholder:1")
    body["runtimePlatform"] = {"cpuArchitecture": architecture, "operatingSystemFamily": "LINUX"}
    arn = ecs.register_task_definition(**body)["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster=NAME, serviceName=NAME, taskDefinition=arn, desiredCount=1, launchType="FARGATE"
    )
    (repo.path / "pyproject.toml").write_text(
        f'[tool.releasectl]\necr_repository = "{NAME}"\necs_cluster = "{NAME}"\n'
        f'ecs_service = "{NAME}"\ncontainer_name = "app"\nbuilder = "docker"\n'
    )
    (repo.path / "Dockerfile").write_text((ROOT / "Dockerfile").read_text())
    repo.git("add", "pyproject.toml", "Dockerfile")
    repo.commit("feat: first service")
    bin_dir = tmp_path / "bin"
    fake_docker.install(bin_dir, tmp_path / "docker-state")
    env = {"AWS_ENDPOINT_URL": moto_endpoint, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return {"ecr": ecr, "repo": repo, "env": env, "docker": tmp_path / "docker-state"}


def release(world: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> CliResult:
    return run_cli(
        "--json", "release", "--no-wait", *args, cwd=world["repo"].path, env={**world["env"], **(env or {})}
    )


def build_platforms(world: dict[str, Any]) -> list[str]:
    builds = [c["argv"] for c in fake_docker.calls(world["docker"]) if c["argv"][:2] == ["buildx", "build"]]
    return [argv[argv.index("--platform") + 1] for argv in builds]


@pytest.mark.parametrize(("architecture", "platform"), [("X86_64", "linux/amd64"), ("ARM64", "linux/arm64")])
def test_the_build_follows_the_service_task_definition(
    moto_endpoint: str, git_repo: GitRepo, tmp_path: Path, architecture: str, platform: str
) -> None:
    world = make_world(moto_endpoint, git_repo, tmp_path, architecture=architecture)
    proc = release(world)
    assert proc.code == 0, proc.stderr
    assert build_platforms(world) == [platform]


def test_a_platform_setting_that_agrees_with_the_service_is_used(
    moto_endpoint: str, git_repo: GitRepo, tmp_path: Path
) -> None:
    world = make_world(moto_endpoint, git_repo, tmp_path, architecture="ARM64")
    proc = release(world, env={"RELEASECTL_PLATFORM": "arm64"})
    assert proc.code == 0, proc.stderr
    assert build_platforms(world) == ["linux/arm64"]


def test_a_platform_the_service_cannot_run_is_exit_4_naming_both_with_nothing_pushed(
    moto_endpoint: str, git_repo: GitRepo, tmp_path: Path
) -> None:
    world = make_world(moto_endpoint, git_repo, tmp_path, architecture="X86_64")
    before = snapshot(world["ecr"], NAME)
    proc = release(world, env={"RELEASECTL_PLATFORM": "linux/arm64"})
    assert proc.code == 4, proc.stderr
    assert "linux/arm64" in proc.stderr and f"service {NAME} runs linux/amd64" in proc.stderr
    assert build_platforms(world) == []
    assert snapshot(world["ecr"], NAME) == before


def test_without_a_deployment_the_setting_decides(
    moto_endpoint: str, git_repo: GitRepo, tmp_path: Path
) -> None:
    world = make_world(moto_endpoint, git_repo, tmp_path, architecture="X86_64")
    proc = release(world, "--no-deploy", env={"RELEASECTL_PLATFORM": "linux/arm64"})
    assert proc.code == 0, proc.stderr
    assert build_platforms(world) == ["linux/arm64"]
