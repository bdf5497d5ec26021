"""A repository `releasectl release` can ship against a moto server with a fake `docker`: shared by
the tests of where release tags go and of how `version` and `release` agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, GitRepo
from tests.support import fake_docker
from tests.support.ecr_fixtures import create_repository

REPOSITORY = "shop"


@dataclass
class World:
    repo: GitRepo
    ecr: Any
    docker_state: Path
    env: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """`python -m releasectl --json ARGS` in the repository, as a user runs it."""
        return subprocess.run(
            [sys.executable, "-m", "releasectl", "--json", *args],
            cwd=self.repo.path,
            env={**os.environ, **self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def builds(self) -> list[list[str]]:
        return [
            c["argv"] for c in fake_docker.calls(self.docker_state) if c["argv"][:2] == ["buildx", "build"]
        ]

    def tags(self) -> set[str]:
        """Every tag in the release repository."""
        images = self.ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
        return {tag for image in images for tag in image.get("imageTags", [])}


def make_world(moto_endpoint: str, repo: GitRepo, tmp_path: Path) -> World:
    """A repository with one `feat:` commit and an ECR release repository; releases are not deployed."""
    import boto3

    ecr = boto3.client("ecr", endpoint_url=moto_endpoint, region_name="us-east-1")
    # IMMUTABLE as in tests/commands/test_release.py: moto 5.2 crashes on an untagged push into a
    # repository with exclusion filters.
    create_repository(ecr, REPOSITORY, mutability="IMMUTABLE")
    (repo.path / "pyproject.toml").write_text(
        f'[tool.releasectl]\necr_repository = "{REPOSITORY}"\ncontainer_name = "app"\nbuilder = "docker"\n'
    )
    (repo.path / "Dockerfile").write_text((ROOT / "Dockerfile").read_text())
    repo.git("add", "pyproject.toml", "Dockerfile")
    repo.commit("feat: first service")
    bin_dir = tmp_path / "bin"
    fake_docker.install(bin_dir, tmp_path / "docker-state")
    env = {"AWS_ENDPOINT_URL": moto_endpoint, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return World(repo=repo, ecr=ecr, docker_state=tmp_path / "docker-state", env=env)


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


def result_of(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.stdout.strip(), proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data
