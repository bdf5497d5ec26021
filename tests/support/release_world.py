"""A repository `releasectl release` can ship against a moto server with a fake `docker`, and the
service it deploys to: the world of the `release` tests (the `world` fixture)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import fake_docker
from tests.support.cli import CliResult, run_cli
from tests.support.ecr_fixtures import create_repository
from tests.support.git import GitRepo
from tests.support.moto_fixtures import create_fargate_service
from tests.support.paths import ROOT

REPOSITORY = CLUSTER = SERVICE = "shop"


@dataclass
class World:
    repo: GitRepo
    ecr: Any
    ecs: Any
    docker_state: Path
    env: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> CliResult:
        """`releasectl --json ARGS` in the repository (or cwd) against this world."""
        return run_cli("--json", *args, cwd=cwd or self.repo.path, env={**self.env, **(env or {})})

    def builds(self) -> list[list[str]]:
        return [
            c["argv"] for c in fake_docker.calls(self.docker_state) if c["argv"][:2] == ["buildx", "build"]
        ]

    def tags(self) -> set[str]:
        """Every tag in the release repository."""
        images = self.ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
        return {tag for image in images for tag in image.get("imageTags", [])}


def make_world(moto_endpoint: str, repo: GitRepo, tmp_path: Path) -> World:
    """A repository with one `feat:` commit, an ECR release repository, and a service running a
    placeholder image."""
    import boto3

    ecr = boto3.client("ecr", endpoint_url=moto_endpoint, region_name="us-east-1")
    ecs = boto3.client("ecs", endpoint_url=moto_endpoint, region_name="us-east-1")
    # IMMUTABLE, not IMMUTABLE_WITH_EXCLUSION as in infra/: moto 5.2 crashes on an untagged
    # push (what buildx push-by-digest does) into a repository with exclusion filters.
    create_repository(ecr, REPOSITORY, mutability="IMMUTABLE")
    create_fargate_service(ecs, cluster=CLUSTER, service=SERVICE, image="public.ecr.aws/x/placeholder:1")
    (repo.path / "pyproject.toml").write_text(
        f'[tool.releasectl]\necr_repository = "{REPOSITORY}"\necs_cluster = "{CLUSTER}"\n'
        f'ecs_service = "{SERVICE}"\ncontainer_name = "app"\nbuilder = "docker"\n'
    )
    (repo.path / "Dockerfile").write_text((ROOT / "Dockerfile").read_text())
    repo.git("add", "pyproject.toml", "Dockerfile")
    repo.commit("feat: first service")
    bin_dir = tmp_path / "bin"
    fake_docker.install(bin_dir, tmp_path / "docker-state")
    env = {"AWS_ENDPOINT_URL": moto_endpoint, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return World(repo=repo, ecr=ecr, ecs=ecs, docker_state=tmp_path / "docker-state", env=env)


def bare_remote(repo: GitRepo, name: str, path: Path) -> Path:
    """A new bare repository added to `repo` as remote `name`."""
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    repo.git("remote", "add", name, str(path))
    return path


def remote_tags(path: Path) -> list[str]:
    out = subprocess.run(
        ["git", "ls-remote", "--tags", str(path)], capture_output=True, text=True, check=True
    )
    return sorted(line.split("refs/tags/")[1] for line in out.stdout.splitlines() if "^{}" not in line)


def result_of(proc: CliResult) -> dict[str, Any]:
    assert proc.stdout.strip(), proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data
