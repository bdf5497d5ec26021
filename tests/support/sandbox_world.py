"""The world the sandbox flows run in: one in-process sandbox with released images, a project
whose buildspec prints numbered lines, and the tools to run `releasectl` against it through the
fault proxy and to check what the sandbox ends up doing.

Every check reads the sandbox's endpoint directly (never through the proxy), so only the command
under test meets faults. The sandbox's rollouts and builds are real processes over real time:
nothing here uses a fake clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releasectl_sandbox.images import build_image, push
from releasectl_sandbox.sandbox import Sandbox
from tests.support.aws_state import client
from tests.support.cli import CliResult, run_cli
from tests.support.faultproxy import FaultPlan
from tests.support.git import git
from tests.support.sandbox_projects import CONFIG, copy_context, get, init_repo, project_config, service_files

CLUSTER = SERVICE = REPOSITORY = "hello-world"
CONTAINER = "app"
HEALTHY = ("1.0.0", "1.1.0", "1.2.0")
UNHEALTHY = "2.0.0"  # its /healthz answers 500: ECS's circuit breaker rolls it back
BUILD_LINES = 40
# Lines arrive over about a second, so the follower reads the stream several times as it grows.
BUILDSPEC = f"""\
version: 0.2
phases:
  build:
    commands:
      - for i in $(seq 1 {BUILD_LINES}); do echo "numbered line $i of {BUILD_LINES}"; sleep 0.02; done
      - if [ -f fail.txt ]; then echo "failing on purpose"; exit 3; fi
"""
DEPLOY_TIMEOUT = "60"
# Faults between the CLI and the sandbox: the share of requests that fail, and of those applied
# whose answer is lost; seeds make a run reproducible.
RATE = 0.2
RESET_AFTER_RATE = 0.05
SEEDS = [1, 2, 3]
SOAK_SEEDS = list(range(300, 330))
SUBPROCESS_TIMEOUT = 180


def faults(seed: int, rate: float = RATE, reset_after_rate: float = RESET_AFTER_RATE) -> FaultPlan:
    return FaultPlan(rate=rate, seed=seed, reset_after_rate=reset_after_rate)


def hello(version: str) -> tuple[int, str]:
    """What the service answers on `/` when it runs `version`."""
    return 200, f"Hello from CI/CD! (version {version})\n"


@dataclass
class World:
    sandbox: Sandbox
    project: Path
    root: Path
    digests: dict[str, str]  # version -> digest, in the release repository
    good_commit: str
    failing_commit: str  # on branch `failing`: the same buildspec, plus fail.txt

    @property
    def endpoint(self) -> str:
        return self.sandbox.endpoint

    def env(self, api_endpoint: str | None = None, attempts: str = "8") -> dict[str, str]:
        """The sandbox's environment with the AWS endpoint replaced (by the proxy's, say)."""
        return {
            **self.sandbox.env,
            "AWS_ENDPOINT_URL": api_endpoint or self.endpoint,
            "RELEASECTL_MAX_ATTEMPTS": attempts,
        }

    def run(self, *args: str, api_endpoint: str | None = None, attempts: str = "8") -> CliResult:
        """`releasectl --json ARGS` in this process, from the project, against `api_endpoint`."""
        return run_cli("--json", *args, cwd=self.project, env=self.env(api_endpoint, attempts))

    def deploy_directly(self, version: str) -> None:
        """Put the service on `version` without faults (nothing to do if it already runs it)."""
        ran = self.run("deploy", version, "--timeout", DEPLOY_TIMEOUT)
        assert ran.code == 0, ran.stderr
        self.settle()

    def settle(self) -> None:
        assert self.sandbox.wait_until_steady(30), "the sandbox service did not settle"

    def version_of(self, digest: str) -> str:
        """The release a digest is (every test leaves the service on one)."""
        (version,) = [v for v, d in self.digests.items() if d == digest]
        return version


@contextmanager
def sandbox_world(root: Path) -> Iterator[World]:
    """A sandbox whose service runs 1.0.0 (healthy), with 1.1.0, 1.2.0 (healthy) and 2.0.0
    (never healthy) released in ECR by digest, each with its `git-<sha>` tag."""
    files = {"pyproject.toml": CONFIG, "buildspec.yml": BUILDSPEC, **service_files()}
    project = init_repo(root / "project", files)
    good = git(project, "rev-parse", "HEAD")
    git(project, "checkout", "-q", "-b", "failing")
    (project / "fail.txt").write_text("fail\n")
    git(project, "add", "fail.txt")
    git(project, "commit", "-q", "-m", "fix: breaks the build")
    failing = git(project, "rev-parse", "HEAD")
    git(project, "checkout", "-q", "main")
    with Sandbox(
        project, config=project_config(project), state_dir=root / "state", env_file=root / "sandbox.env"
    ) as sandbox:
        ecr = sandbox.clients().client("ecr")
        digests = {}
        for number, version in enumerate((*HEALTHY, UNHEALTHY), start=1):
            status = 500 if version == UNHEALTHY else 200
            context = copy_context(root / f"context-{version}", healthz_status=status)
            commit = f"{number:x}" * 40
            image = build_image(
                context, None, {"APP_VERSION": version, "GIT_COMMIT": commit}, store=sandbox.state.blobs
            )
            push(ecr, REPOSITORY, image, tags=[f"git-{commit}", version])
            digests[version] = image.digest
        world = World(sandbox, project, root, digests, good, failing)
        # The sandbox starts on its bootstrap image, which is no release: every check of
        # "the service runs a release" needs a release running first.
        world.deploy_directly(HEALTHY[0])
        yield world


# ----------------------------------------------------------------------------- reading the truth


def service_now(endpoint: str) -> dict[str, Any]:
    found = client(endpoint, "ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    return dict(found[0])


def image_of(endpoint: str, task_definition: str) -> str:
    definition = client(endpoint, "ecs").describe_task_definition(taskDefinition=task_definition)
    containers = definition["taskDefinition"]["containerDefinitions"]
    return str(next(c["image"] for c in containers if c["name"] == CONTAINER))


def digest_of(endpoint: str, task_definition: str) -> str:
    return image_of(endpoint, task_definition).partition("@")[2]


def running_digests(endpoint: str) -> set[str]:
    ecs = client(endpoint, "ecs")
    arns = ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="RUNNING")["taskArns"]
    if not arns:
        return set()
    tasks = ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]
    return {c.get("imageDigest", "") for t in tasks for c in t["containers"] if c["name"] == CONTAINER}


@dataclass
class Watcher:
    """Watches the service and the load balancer from a thread while a command runs: every task
    definition the service pointed at, and every answer the ALB gave."""

    endpoint: str
    alb_url: str
    task_definitions: list[str] = field(default_factory=list)
    answers: list[tuple[int, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            arn = str(service_now(self.endpoint)["taskDefinition"])
            if not self.task_definitions or self.task_definitions[-1] != arn:
                self.task_definitions.append(arn)
            try:
                self.answers.append(get(self.alb_url, timeout=5))
            except OSError as exc:
                self.answers.append((0, f"{exc.__class__.__name__}: {exc}"))
            # The sandbox's scheduler changes tasks and targets once a tick (0.1 s); looking more
            # often sees nothing new and costs the suite ~3 s of CPU in the fault tests alone.
            self._stop.wait(0.1)

    def __enter__(self) -> Watcher:
        self._thread = threading.Thread(target=self._run, name="sandbox-watcher", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        # One more look, so a change in the last few milliseconds is not missed.
        arn = str(service_now(self.endpoint)["taskDefinition"])
        if self.task_definitions[-1:] != [arn]:
            self.task_definitions.append(arn)

    def digests(self) -> list[str]:
        return [digest_of(self.endpoint, arn) for arn in self.task_definitions]


# ----------------------------------------------------------------------------- the CLI in processes


def fast_retry_path(directory: Path) -> dict[str, str]:
    """The subprocess counterpart of the `fast_retries` fixture: a sitecustomize that makes
    botocore's retry backoff ~0, so the CLI in a child process can afford many injected faults.
    Only the wait between attempts changes; every retry still happens."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(
        "from botocore.retries.standard import ExponentialBackoff\n\n"
        "ExponentialBackoff.delay_amount = lambda self, context: 0.0\n"
    )
    inherited = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": os.pathsep.join([str(directory), *([inherited] if inherited else [])])}


@dataclass
class Finished:
    code: int
    result: dict[str, Any]
    stderr: str


def finish(procs: Sequence[subprocess.Popen[str]]) -> list[Finished]:
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
        try:
            data = json.loads(out)
        except ValueError:
            data = {}
        done.append(Finished(proc.returncode, data if isinstance(data, dict) else {}, err))
    return done
