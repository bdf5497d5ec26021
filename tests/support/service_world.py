"""A released service on the moto server: ECR holding releases, an ECS service running one of
them by digest (its revision tagged as a succeeded deployment), and a project configured for it.

The `service_world` fixture builds it; a module that needs other releases says so with
`@pytest.mark.releases({version: tags}, running=version)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.cli import CliResult, run_cli
from tests.support.ecr_fixtures import push_image
from tests.support.moto_fixtures import create_fargate_service

REPOSITORY, CLUSTER, SERVICE = "hello-world", "web", "hello-world"
# version -> every tag of its image
RELEASES: dict[str, list[str]] = {
    "1.1.0": ["1.1.0", "git-" + "1" * 40],
    "1.2.0": ["1.2.0", "git-" + "2" * 40],
}
RUNNING = "1.1.0"


@dataclass
class ServiceWorld:
    ecr: Any
    ecs: Any
    uri: str  # the repository's
    digests: dict[str, str]  # version -> image digest
    first: str  # the task definition the service runs at the start
    cwd: Path
    env: dict[str, str]

    def cli(self, *args: str, process: bool = False, **env: str) -> CliResult:
        """`releasectl ARGS` in the project, against the world, with `env` on top."""
        return run_cli(*args, cwd=self.cwd, env={**self.env, **env}, process=process)


def make_service_world(
    endpoint: str,
    cwd: Path,
    releases: Mapping[str, Sequence[str]] = RELEASES,
    running: str = RUNNING,
) -> ServiceWorld:
    import boto3

    ecr = boto3.client("ecr", endpoint_url=endpoint, region_name="us-east-1")
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name="us-east-1")
    uri = ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
    digests = {version: push_image(ecr, REPOSITORY, tags=list(tags)) for version, tags in releases.items()}
    first = create_fargate_service(
        ecs,
        cluster=CLUSTER,
        service=SERVICE,
        image=f"{uri}@{digests[running]}",
        tags={"releasectl:version": running, "releasectl:outcome": "succeeded"},
    )
    (cwd / "pyproject.toml").write_text(
        f'[tool.releasectl]\necr_repository = "{REPOSITORY}"\necs_cluster = "{CLUSTER}"\n'
        f'ecs_service = "{SERVICE}"\ncontainer_name = "app"\n'
    )
    return ServiceWorld(ecr, ecs, uri, digests, first, cwd, {"AWS_ENDPOINT_URL": endpoint})
