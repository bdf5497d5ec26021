"""The sandbox as one object: moto's server, the simulators, the load balancer, the resources.

    with Sandbox(project_dir) as sandbox:
        sandbox.endpoint   # AWS_ENDPOINT_URL for boto3, the AWS CLI, releasectl
        sandbox.alb_url    # the service, through the sandbox load balancer
        sandbox.env        # every variable to export (also written to .releasectl/sandbox.env)

Leaving the block stops every build, task process and server it started. `releasectl sandbox
up` (releasectl_sandbox.command) runs the same object in the foreground; SandboxProcess in
releasectl_sandbox.process runs that command as a child process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from releasectl.core.config import Config, load_config
from releasectl_sandbox import moto_internals as internals
from releasectl_sandbox.state import (
    DEFAULT_ENV_FILE,
    DEFAULT_STATE,
    ID_ENV,
    STATE_ENV,
    StateDir,
    processes_with_marker,
)
from releasectl_sandbox.tasks import Timings

FAKE_KEY = "testing"  # moto's fake credentials: accepted by the sandbox, worthless anywhere else
BOOTSTRAP_TAG = "sandbox-bootstrap"
_DROPPED_FROM_BUILDS = ("AWS_", "RELEASECTL_", "CODEBUILD_")


class Sandbox:
    def __init__(
        self,
        project_dir: Path,
        *,
        config: Config | None = None,
        state_dir: Path | None = None,
        env_file: Path | None = None,
        port: int = 0,
        alb_port: int = 0,
        desired_count: int = 2,
        breaker_threshold: int = 2,
        timings: Timings | None = None,
        build_env: Mapping[str, str] | None = None,
        bootstrap: bool = True,
        wait_steady_s: float = 30.0,
        announce: Callable[[str], None] | None = None,
        on_build_log: Callable[[str, str], None] | None = None,
    ) -> None:
        from releasectl_sandbox.provision import Resources

        self.project_dir = project_dir.resolve()
        self.config = config or load_config(cwd=self.project_dir)
        self.resources = Resources.from_config(self.config, self.project_dir)
        self.region = self.resources.region
        self.account = internals.ACCOUNT_ID
        self.state = StateDir(state_dir or self.project_dir / DEFAULT_STATE)
        self.env_file = env_file if env_file is not None else self.project_dir / DEFAULT_ENV_FILE
        self.port = port
        self.alb_port = alb_port
        self.desired_count = desired_count
        self.breaker_threshold = breaker_threshold
        self.timings = timings or Timings()
        self.build_env = dict(build_env or {})
        self.bootstrap = bootstrap
        self.wait_steady_s = wait_steady_s
        self.announce = announce or (lambda _line: None)
        self.on_build_log = on_build_log  # (build id, line) for every build log line, as it is written
        self.marker = uuid.uuid4().hex  # in the environment of every process the sandbox starts
        self.endpoint = ""
        self.alb_url = ""
        self.bootstrap_image: str | None = None
        self._stack = contextlib.ExitStack()
        self._ecs: Any = None

    # ------------------------------------------------------------------ public

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def env(self) -> dict[str, str]:
        """What a shell exports to use the sandbox (fake credentials for the local endpoint only)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": FAKE_KEY,
            "AWS_SECRET_ACCESS_KEY": FAKE_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **self.resources.config_env(),
            # A release made against the sandbox is fake: its tag must not reach the clone's real remote.
            "RELEASECTL_GIT_TAG_REMOTE": "none",
            "RELEASECTL_SANDBOX": "1",
            STATE_ENV: str(self.state.root),
            "RELEASECTL_SANDBOX_ALB_URL": self.alb_url,
        }

    def clients(self) -> Any:
        """A releasectl AWS boundary aimed at the sandbox with its fake credentials."""
        import boto3

        from releasectl.adapters.aws.clients import AwsClients

        session = boto3.session.Session(
            aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_KEY, region_name=self.region
        )
        return AwsClients(region=self.region, profile=None, endpoint_url=self.endpoint, _session=session)

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop everything started, newest first; then make sure no process of ours is left."""
        try:
            self._stack.close()
        finally:
            self._sweep()

    def wait_until_steady(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ecs is not None and self._ecs.steady():
                return True
            time.sleep(0.1)
        return False

    # ------------------------------------------------------------------ start-up

    def _start(self) -> None:
        from releasectl_sandbox import provision
        from releasectl_sandbox.alb import LoadBalancer
        from releasectl_sandbox.codebuild_sim import CodeBuildSimulator
        from releasectl_sandbox.ecs_sim import EcsSimulator
        from releasectl_sandbox.logship import LogShipper
        from releasectl_sandbox.server import MotoServer, check_port_free
        from releasectl_sandbox.tasks import ImageResolver

        internals.check_moto_version()
        check_port_free(self.alb_port, "load balancer")
        self._refuse_a_running_env_file()
        self.state.reset()
        server = MotoServer(self.port)
        self.endpoint = server.start()
        self._stack.callback(server.stop)
        self.announce(f"sandbox: AWS endpoint (moto {internals.PINNED_MOTO}) on {self.endpoint}")
        clients = self.clients()

        shipper = LogShipper(clients.client("logs"), on_error=self.announce)
        shipper.start()
        self._stack.callback(shipper.close)

        ecs = EcsSimulator(
            account=self.account,
            region=self.region,
            resolver=ImageResolver(clients.client("ecr"), self.state),
            shipper=shipper,
            state=self.state,
            marker=self.marker,
            timings=self.timings,
            breaker_threshold=self.breaker_threshold,
            announce=self.announce,
        )
        codebuild = CodeBuildSimulator(
            account=self.account,
            region=self.region,
            shipper=shipper,
            build_env=self._build_environment(),
            announce=self.announce,
            on_log=self.on_build_log,
        )
        patches = internals.Patches()
        self._stack.callback(patches.restore)
        internals.hook_ecs(patches, ecs, self.region, self.account)
        internals.hook_codebuild(patches, codebuild, self.region, self.account)
        internals.hook_cloudformation(patches, self.region, self.account)
        ecs.start()
        self._ecs = ecs
        self._stack.callback(codebuild.close)
        self._stack.callback(ecs.close)

        alb = LoadBalancer(
            lambda: ecs.healthy_targets(self.resources.ecs_cluster, self.resources.ecs_service),
            port=self.alb_port,
        )
        alb.start()
        self._stack.callback(alb.close)
        self.alb_url = alb.url
        self.announce(f"sandbox: load balancer on {self.alb_url} -> service {self.resources.ecs_service}")

        res = self.resources
        repository_uri = provision.create_repositories(clients, res)
        provision.create_log_groups(clients, res)
        provision.create_build_project(clients, res, {**self.build_env})
        image = self._bootstrap_image(clients, repository_uri)
        provision.create_service(
            clients,
            res,
            image=image or provision.PLACEHOLDER_IMAGE,
            desired_count=self.desired_count if image else 0,
        )
        self.announce(f"sandbox: created ECR repositories {res.ecr_repository}, {res.cache_repository}")
        self.announce(f"sandbox: created CodeBuild project {res.codebuild_project} (source {res.source})")
        self.announce(f"sandbox: created ECS cluster {res.ecs_cluster}, service {res.ecs_service}")
        self.state.write_info(
            {
                "endpoint": self.endpoint,
                "alb_url": self.alb_url,
                "env": self.env,
                "pid": os.getpid(),
                "marker": self.marker,
                "state_dir": str(self.state.root),
                "env_file": str(self.env_file) if self.env_file else None,
            }
        )
        if self.env_file:
            from releasectl_sandbox.state import write_env_file

            write_env_file(self.env_file, self.env)
            # Removed on stop only because this sandbox wrote it: a sandbox that refused to start
            # (another one runs here) must leave the running one's file alone.
            self._stack.callback(self._remove_env_file, self.env_file)
        if image and self.wait_steady_s and not self.wait_until_steady(self.wait_steady_s):
            self.announce(
                f"sandbox: warning: service {res.ecs_service} is not steady after {self.wait_steady_s:g} s"
            )

    def _refuse_a_running_env_file(self) -> None:
        """Another sandbox (with another state directory) may have written the env file this one
        would overwrite: refuse rather than point that sandbox's users at this one."""
        from releasectl_sandbox.state import already_running, read_env_file

        if not self.env_file or not self.env_file.is_file():
            return
        with contextlib.suppress(OSError, ValueError):
            other = read_env_file(self.env_file).get(STATE_ENV)
            info = StateDir(Path(other)).running_sandbox() if other else None
            if info is not None:
                raise already_running(info, f"env file {self.env_file}")

    def _build_environment(self) -> dict[str, str]:
        """The environment of a simulated CodeBuild build, before the project's variables."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_FROM_BUILDS)}
        # `python` and `releasectl` in the build are the ones running this sandbox.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
        env.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": FAKE_KEY,
                "AWS_SECRET_ACCESS_KEY": FAKE_KEY,
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "RELEASECTL_SANDBOX": "1",
                STATE_ENV: str(self.state.root),
                ID_ENV: self.marker,
            }
        )
        return env

    def _bootstrap_image(self, clients: Any, repository_uri: str) -> str | None:
        """The image the service runs before the first release: the project's Dockerfile as it is
        on disk now, tagged `sandbox-bootstrap` (not a release tag, so no ledger lists it)."""
        from releasectl_sandbox.images import build_image, push

        if not self.bootstrap or not (self.project_dir / "Dockerfile").is_file():
            self.announce(
                "sandbox: no Dockerfile to bootstrap from; the ECS service starts with desired count 0"
            )
            return None
        commit = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "HEAD"],
            cwd=self.project_dir,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        args = {"GIT_COMMIT": commit} if commit else {}
        image = build_image(self.project_dir, None, args, store=self.state.blobs)
        push(clients.client("ecr"), self.resources.ecr_repository, image, tags=[BOOTSTRAP_TAG])
        self.bootstrap_image = f"{repository_uri}@{image.digest}"
        return self.bootstrap_image

    # ------------------------------------------------------------------ shut-down

    @staticmethod
    def _remove_env_file(path: Path) -> None:
        """The env file would point at nothing once the sandbox stops."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def _sweep(self) -> None:
        """Anything carrying our marker that survived the orderly stop is killed now."""
        for pid in processes_with_marker(self.marker):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
