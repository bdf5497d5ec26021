"""The flows the reliability suite breaks, each with the world it needs.

A world is set up straight against the AWS endpoint (never through the fault proxy), so only
the command under test meets faults. Worlds are deterministic: the same images, digests and
commits every time (fixed manifests, fixed git dates), so a fault-free run and a faulted run
can be compared snapshot to snapshot.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import fake_docker
from tests.support.aws_state import client
from tests.support.cli import CliResult, run_cli
from tests.support.ecr_fixtures import create_repository, push_image
from tests.support.git import git
from tests.support.moto_fixtures import create_codebuild_project
from tests.support.paths import ROOT
from tests.support.scripted_ecs import task_definition_body

SHOP = "shop"  # the release flow's repository: IMMUTABLE (see release_world)
APP = "app"  # promote / deploy / rollback: IMMUTABLE_WITH_EXCLUSION, `latest` mutable
CLUSTER, SERVICE = "web", "hello-world"
PROJECT = "hello-world-release"
RELEASED = {"1.1.0": "1" * 40, "1.2.0": "2" * 40}
LOG_LINES = 120
LOG_BATCH = 8
GIT_DATE = "2025-03-01T12:00:00+00:00"
FIXED_DATES = {"GIT_AUTHOR_DATE": GIT_DATE, "GIT_COMMITTER_DATE": GIT_DATE}  # commits with reproducible ids


# ----------------------------------------------------------------------------- git


def commit(cwd: Path, message: str, filename: str = "change.txt") -> str:
    target = cwd / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a") as handle:
        handle.write(message.splitlines()[0] + "\n")
    git(cwd, "add", filename)
    git(cwd, "commit", "-q", "-m", message, env=FIXED_DATES)
    return git(cwd, "rev-parse", "HEAD")


def release_config(repository: str = SHOP) -> str:
    return (
        f'[tool.releasectl]\necr_repository = "{repository}"\necs_cluster = "{CLUSTER}"\n'
        f'ecs_service = "{SERVICE}"\ncontainer_name = "app"\nbuilder = "docker"\n'
    )


def source_repo(path: Path) -> Path:
    """A project repository with one `feat` commit; the same shas every time (fixed dates)."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "pyproject.toml").write_text(release_config())
    (path / "Dockerfile").write_text((ROOT / "Dockerfile").read_text())
    (path / "service").mkdir()
    (path / "service" / "hello_world.py").write_text((ROOT / "service" / "hello_world.py").read_text())
    git(path, "add", "pyproject.toml", "Dockerfile", "service/hello_world.py")
    commit(path, "feat: first service")
    return path


def docker_env(bin_dir: Path, state_dir: Path, registry_endpoint: str) -> dict[str, str]:
    """A fake `docker` first on PATH. Its pushes go to the registry endpoint directly, as a real
    push goes to the registry and not through the AWS API endpoint the proxy stands in for."""
    fake_docker.install(bin_dir, state_dir)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_DOCKER_ECR_ENDPOINT": registry_endpoint,
    }


# ----------------------------------------------------------------------------- worlds


def release_world(endpoint: str) -> None:
    """An empty release repository and a service running a placeholder image.

    IMMUTABLE, not IMMUTABLE_WITH_EXCLUSION as in infra/: moto 5.2 crashes on the untagged push
    (what buildx push-by-digest does) into a repository with exclusion filters."""
    ecr, ecs = client(endpoint, "ecr"), client(endpoint, "ecs")
    create_repository(ecr, SHOP, mutability="IMMUTABLE")
    ecs.create_cluster(clusterName=CLUSTER)
    first = ecs.register_task_definition(**task_definition_body(image="public.ecr.aws/x/placeholder:1"))
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition=first["taskDefinition"]["taskDefinitionArn"],
        desiredCount=1,
        launchType="FARGATE",
    )


def ledger_world(endpoint: str) -> dict[str, str]:
    """ECR holding 1.1.0 (also `latest`) and 1.2.0, and a service running 1.1.0 by digest;
    returns version → digest."""
    ecr, ecs = client(endpoint, "ecr"), client(endpoint, "ecs")
    uri = create_repository(ecr, APP, mutability="IMMUTABLE_WITH_EXCLUSION", mutable_tags=["latest"])[
        "repositoryUri"
    ]
    digests = {}
    for version, sha in RELEASED.items():
        tags = [version, f"git-{sha}", *(["latest"] if version == "1.1.0" else [])]
        digests[version] = push_image(ecr, APP, tags=tags, config_bytes=f"config of {version}".encode())
    ecs.create_cluster(clusterName=CLUSTER)
    first = ecs.register_task_definition(
        **task_definition_body(image=f"{uri}@{digests['1.1.0']}"),
        tags=[
            {"key": "releasectl:version", "value": "1.1.0"},
            {"key": "releasectl:outcome", "value": "succeeded"},
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster=CLUSTER, serviceName=SERVICE, taskDefinition=first, desiredCount=1, launchType="FARGATE"
    )
    return digests


def ledger_config(workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "pyproject.toml").write_text(release_config(APP))
    return workdir


def build_world(endpoint: str) -> str:
    """A CodeBuild project with one build (moto ends it at once); returns the build id."""
    codebuild = client(endpoint, "codebuild")
    create_codebuild_project(codebuild, PROJECT)
    return str(codebuild.start_build(projectName=PROJECT)["build"]["id"])


# ----------------------------------------------------------------------------- the log flow


@dataclass
class GrowingLog:
    """A build's log stream that grows while it is being followed: each time the follower
    sleeps (on a fake clock) the next batch of lines lands in CloudWatch Logs."""

    endpoint: str
    build_id: str
    lines: list[str] = field(default_factory=lambda: [f"line {n:04d} of the build" for n in range(LOG_LINES)])
    written: int = 0
    last_stamp: int = 0
    t: float = 0.0
    sleeps: int = 0

    @property
    def location(self) -> tuple[str, str]:
        return f"/aws/codebuild/{PROJECT}", self.build_id.split(":", 1)[1]

    def create(self) -> None:
        logs = client(self.endpoint, "logs")
        group, stream = self.location
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        self.grow()

    def grow(self) -> None:
        batch = self.lines[self.written : self.written + LOG_BATCH]
        if not batch:
            return
        group, stream = self.location
        # CloudWatch orders a stream by timestamp: batches written within the same few
        # milliseconds must not overlap, or the stream itself would be out of order.
        base = max(int(time.time() * 1000), self.last_stamp + 1)
        client(self.endpoint, "logs").put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": base + i, "message": line + "\n"} for i, line in enumerate(batch)],
        )
        self.last_stamp = base + len(batch) - 1
        self.written += len(batch)

    # The Clock protocol.
    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.t += max(0.0, seconds)
        self.grow()
        if self.sleeps > 10_000:
            raise AssertionError("the follower never stopped")


def follow_logs(
    api_endpoint: str, log: GrowingLog, cwd: Path, *, max_attempts: int
) -> tuple[CliResult, list[str]]:
    """`releasectl logs BUILD_ID --follow` (its handler, on the growing log's fake clock);
    returns the outcome and the lines it printed."""
    from releasectl.commands import build as build_cmd
    from releasectl.commands.context import Context, RecordingReporter
    from releasectl.core.config import Config
    from releasectl.core.errors import ReleasectlError

    config = Config(region="us-east-1", endpoint_url=api_endpoint, max_attempts=max_attempts)
    ctx = Context(config=config, cwd=cwd, reporter=RecordingReporter(), clock=log)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            code = build_cmd.logs(ctx, build_id=log.build_id, follow=True)
            stderr = ""
        except ReleasectlError as exc:
            code, stderr = int(exc.exit_code), f"error: {exc.one_line()}\n"
    return CliResult(code, out.getvalue(), stderr), out.getvalue().splitlines()


# ----------------------------------------------------------------------------- running flows


@dataclass
class Flow:
    """One command to break: how to set its world up and how to run it against an endpoint."""

    name: str
    setup: Callable[[str, Path], dict[str, Any]]
    args: tuple[str, ...]
    # Exit codes a run broken by faults may end with (docs/design.md §3): 1 failed, 4 endpoint
    # unreachable before anything was sent.
    allowed_failures: frozenset[int] = frozenset({1, 4})

    def run(
        self, api_endpoint: str, world: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> CliResult:
        """The command, in-process, talking to `api_endpoint` (the proxy or the endpoint itself)."""
        merged = {**world["env"], "AWS_ENDPOINT_URL": api_endpoint, **(env or {})}
        return run_cli("--json", *self.args, cwd=world["cwd"], env=merged)


def _release_setup(endpoint: str, workdir: Path) -> dict[str, Any]:
    release_world(endpoint)
    repo = workdir / "repo"
    if not repo.exists():
        source_repo(repo)
    # A previous run's output is no part of the next build's context (the real .dockerignore
    # keeps it out; the fake docker hashes every file it is given).
    (repo / "imagedefinitions.json").unlink(missing_ok=True)
    n = len(list(workdir.glob("docker-*")))
    return {"cwd": repo, "env": docker_env(workdir / "bin", workdir / f"docker-{n}", endpoint)}


def _ledger_setup(endpoint: str, workdir: Path) -> dict[str, Any]:
    ledger_world(endpoint)
    return {"cwd": ledger_config(workdir / "ledger"), "env": {}}


def _rollback_setup(endpoint: str, workdir: Path) -> dict[str, Any]:
    world = _ledger_setup(endpoint, workdir)
    ran = run_cli("deploy", "1.2.0", "--no-wait", cwd=world["cwd"], env={"AWS_ENDPOINT_URL": endpoint})
    assert ran.code == 0, ran.stderr
    return world


def _staging_setup(endpoint: str, workdir: Path) -> dict[str, Any]:
    from tests.support.env_world import make_env_world

    cwd = workdir / "environments"
    cwd.mkdir(exist_ok=True)
    make_env_world(endpoint, cwd)
    return {"cwd": cwd, "env": {}}


def _prod_setup(endpoint: str, workdir: Path) -> dict[str, Any]:
    """1.2.0 deployed to staging and recorded there as succeeded: the gate to prod is open."""
    world = _staging_setup(endpoint, workdir)
    ran = run_cli("deploy", "1.2.0", "--no-wait", cwd=world["cwd"], env={"AWS_ENDPOINT_URL": endpoint})
    assert ran.code == 0, ran.stderr
    ecs = client(endpoint, "ecs")
    service = ecs.describe_services(cluster="shop-staging", services=["shop"])["services"][0]
    ecs.tag_resource(
        resourceArn=service["taskDefinition"], tags=[{"key": "releasectl:outcome", "value": "succeeded"}]
    )
    return world


FLOWS: dict[str, Flow] = {
    flow.name: flow
    for flow in (
        Flow("release", _release_setup, ("release", "--no-deploy")),
        Flow("promote", _ledger_setup, ("promote", "1.2.0", "--tag", "latest")),
        Flow("deploy", _ledger_setup, ("deploy", "1.2.0", "--no-wait")),
        Flow("rollback", _rollback_setup, ("rollback", "--to", "1.1.0", "--no-wait")),
        Flow("deploy-staging", _staging_setup, ("deploy", "1.2.0", "--no-wait")),
        Flow("deploy-prod", _prod_setup, ("deploy", "1.2.0", "--no-wait", "--env", "prod")),
    )
}


def result_json(ran: CliResult) -> dict[str, Any]:
    try:
        data = json.loads(ran.stdout)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
