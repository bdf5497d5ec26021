"""The sandbox as one object: moto's server, the simulators, the load balancers, the resources.

    with Sandbox(project_dir) as sandbox:
        sandbox.endpoint   # AWS_ENDPOINT_URL for boto3, the AWS CLI, releasectl
        sandbox.alb_url    # the service, through the default environment's load balancer
        sandbox.env        # every variable to export (also written to .releasectl/sandbox.env)
        sandbox.environment("prod").alb_url   # each environment has a load balancer of its own

Every environment of the config ([tool.releasectl.environments]) gets its platform stack, cluster,
log group, alarms and a load balancer, in the account its role_arn names (an assumed role's
credentials reach another account in moto); an ECS simulator serves each account and region in
use. No ECS service is made for an environment: the first `releasectl deploy` creates it, and the
simulators pick it up then. A config without environments gets its ECS service made here,
running a bootstrap image, as before environments existed.

Leaving the block stops every build, task process and server it started. `releasectl sandbox
up` (releasectl_sandbox.command) runs the same object in the foreground; SandboxProcess in
releasectl_sandbox.process runs that command as a child process.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
ALB_URL_ENV = "RELEASECTL_SANDBOX_ALB_URL"
TEST_URL_ENV = "RELEASECTL_SANDBOX_TEST_URL"
_DROPPED_FROM_BUILDS = ("AWS_", "RELEASECTL_", "CODEBUILD_")


def alb_url_variable(environment: str) -> str:
    """RELEASECTL_SANDBOX_ALB_URL_PROD: the variable naming an environment's load balancer."""
    return f"{ALB_URL_ENV}_{environment.upper().replace('-', '_')}"


def test_url_variable(environment: str) -> str:
    """RELEASECTL_SANDBOX_TEST_URL_PROD: the variable naming an environment's test listener."""
    return f"{TEST_URL_ENV}_{environment.upper().replace('-', '_')}"


@dataclass
class SandboxEnvironment:
    """One environment as the sandbox runs it: its names, its account's clients, its load
    balancer, and its platform stack's outputs (empty without a stack)."""

    resources: Any  # provision.EnvironmentResources
    session: Any  # a boto3 session with its account's credentials
    endpoint: str
    ecs: Any  # the EcsSimulator of its account and region
    alb_url: str = ""
    test_url: str = ""  # its load balancer's test listener (environments with a platform stack)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        return self.resources.name

    def clients(self) -> Any:
        """A releasectl AWS boundary in the environment's account and region."""
        from releasectl.adapters.aws.clients import AwsClients

        region = self.resources.region
        return AwsClients(region=region, profile=None, endpoint_url=self.endpoint, _session=self.session)


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
        self.environments: list[SandboxEnvironment] = []  # the default one first
        self._stack = contextlib.ExitStack()
        self._simulators: dict[tuple[str, str], Any] = {}  # (account, region) -> EcsSimulator
        self._session_lock = threading.Lock()
        self._fake_session: Any = None

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
            ALB_URL_ENV: self.alb_url,
            **{alb_url_variable(e.name): e.alb_url for e in self.environments if e.name},
            **{test_url_variable(e.name): e.test_url for e in self.environments if e.name and e.test_url},
        }

    def environment(self, name: str | None = None) -> SandboxEnvironment:
        """An environment by name; None: the default one (the first listed, or the config's `env`)."""
        for env in self.environments:
            if name is None or env.name == name:
                return env
        known = ", ".join(str(e.name) for e in self.environments) or "none"
        raise KeyError(f"the sandbox runs no environment {name!r} (known: {known})")

    def clients(self) -> Any:
        """A releasectl AWS boundary aimed at the sandbox with its fake credentials.

        All share one boto3 session: a new session parses botocore's endpoint data and models
        again, and the demo asks for clients at every step (4.5 s of its 10 s of CPU)."""
        import boto3

        from releasectl.adapters.aws.clients import AwsClients

        with self._session_lock:
            if self._fake_session is None:
                self._fake_session = boto3.session.Session(
                    aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_KEY, region_name=self.region
                )
            session = self._fake_session
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
        """Every service of every environment has completed its rollout (none made yet counts too)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._simulators and all(sim.steady() for sim in self._simulators.values()):
                return True
            time.sleep(0.1)
        return False

    # ------------------------------------------------------------------ start-up

    def _start(self) -> None:
        from releasectl_sandbox import provision
        from releasectl_sandbox.alarms import RateAlarm
        from releasectl_sandbox.codebuild_sim import CodeBuildSimulator
        from releasectl_sandbox.logship import LogShipper, MotoLogs
        from releasectl_sandbox.server import MotoServer, check_port_free

        internals.check_moto_version()
        res = self.resources
        count = len(res.environments)
        alb_ports = [self.alb_port + index if self.alb_port else 0 for index in range(count)]
        # Test listeners after the production ones: Q+N for the first environment, and so on.
        test_ports = [self.alb_port + count + index if self.alb_port else 0 for index in range(count)]
        for port, planned in zip(alb_ports, res.environments, strict=True):
            check_port_free(port, f"load balancer of {planned.label}")
        for port, planned in zip(test_ports, res.environments, strict=True):
            if planned.stack:
                check_port_free(port, f"test listener of {planned.label}")
        self._refuse_a_running_env_file()
        self.state.reset()
        server = MotoServer(self.port)
        self.endpoint = server.start()
        self._stack.callback(server.stop)
        self.announce(f"sandbox: AWS endpoint (moto {internals.PINNED_MOTO}) on {self.endpoint}")
        clients = self.clients()

        shipper = LogShipper(MotoLogs(self.account, self.region), on_error=self.announce)
        shipper.start()
        self._stack.callback(shipper.close)
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
        internals.hook_codebuild(patches, codebuild, self.region, self.account)
        internals.hook_cloudformation(patches, self.region, self.account)
        self._stack.callback(codebuild.close)

        for port, test_port, env_res in zip(alb_ports, test_ports, res.environments, strict=True):
            session = self._session(env_res)
            sim = self._simulator(patches, env_res, clients)
            env = SandboxEnvironment(env_res, session, self.endpoint, sim)
            # Listening before the stack is made: its ServiceUrl output is the load balancer's URL.
            alb = self._balancer(port, sim)
            env.alb_url = alb.url
            target_group = env_res.target_group_arn
            if env_res.stack:
                test = self._balancer(test_port, sim)
                env.test_url = test.url
                env.outputs = provision.create_platform(
                    env.clients(), env_res, service_url=alb.url, test_url=test.url
                )
                target_group = env.outputs["TargetGroupArn"]
                # Both listeners follow their rule's weights, which ECS sets during a deployment.
                rules = env.outputs["ProductionListenerRuleArn"], env.outputs["TestListenerRuleArn"]
                alb.route_weighted(functools.partial(sim.listener_groups, rules[0], target_group))
                test.route_weighted(functools.partial(sim.listener_groups, rules[1], target_group))
                sim.watch_alarm(
                    RateAlarm(
                        name=env_res.alarm_names[0],
                        target_groups=frozenset({target_group, env.outputs["AlternateTargetGroupArn"]}),
                        threshold=provision.TARGET_5XX_PERCENT,
                        periods=provision.TARGET_5XX_PERIODS,
                        datapoints=provision.TARGET_5XX_DATAPOINTS,
                        period_s=provision.ALARM_PERIOD_S / 60 * self.timings.minute,
                    )
                )
            else:
                # Whatever service registers in the target group, whenever it is created.
                alb.route(functools.partial(sim.target_group_targets, target_group))
            if env_res.stack:
                self.announce(
                    f"sandbox: created environment {env_res.name} in account {env_res.account}: "
                    f"stack {env_res.stack}, cluster {env_res.cluster}, log group "
                    f"{env.outputs['AppLogGroup']}, load balancer on {alb.url} (test listener "
                    f"{env.test_url}); its ECS service comes with the first deploy"
                )
            else:
                self.announce(f"sandbox: load balancer on {alb.url} -> service {env_res.service}")
            self.environments.append(env)
        self.alb_url = self.environments[0].alb_url

        repository_uri = provision.create_repositories(clients, res)
        provision.create_log_groups(clients, res, app=not res.with_environments)
        provision.create_build_project(clients, res, {**self.build_env})
        self.announce(f"sandbox: created ECR repositories {res.ecr_repository}, {res.cache_repository}")
        self.announce(f"sandbox: created CodeBuild project {res.codebuild_project} (source {res.source})")
        image = None
        if not res.with_environments:
            image = self._bootstrap_image(clients, repository_uri)
            provision.create_service(
                clients,
                res,
                image=image or provision.PLACEHOLDER_IMAGE,
                desired_count=self.desired_count if image else 0,
            )
            self.announce(f"sandbox: created ECS cluster {res.ecs_cluster}, service {res.ecs_service}")
        self.state.write_info(
            {
                "endpoint": self.endpoint,
                "alb_url": self.alb_url,
                "alb_urls": {str(e.name): e.alb_url for e in self.environments if e.name},
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

    def _balancer(self, port: int, sim: Any) -> Any:
        """A load balancer listening on `port`, reporting its targets' answers to the alarms of its
        simulator's account and region; it answers 503 until it is routed."""
        from releasectl_sandbox.alb import LoadBalancer

        balancer = LoadBalancer(lambda: [], port=port, on_response=sim.alarms.record)
        balancer.start()
        self._stack.callback(balancer.close)
        return balancer

    def _session(self, env: Any) -> Any:
        """A boto3 session in the environment's account: the fake credentials, or for another
        account an assumed role's (moto serves a request from the account of its credentials)."""
        import boto3

        if not env.other_account and env.region == self.region:
            return self.clients().session()
        session = boto3.session.Session(
            aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_KEY, region_name=env.region
        )
        if not env.other_account:
            return session
        sts = session.client("sts", endpoint_url=self.endpoint)
        credentials = sts.assume_role(RoleArn=env.role_arn, RoleSessionName="releasectl-sandbox")[
            "Credentials"
        ]
        return boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=env.region,
        )

    def _simulator(self, patches: Any, env: Any, clients: Any) -> Any:
        """The ECS simulator of the environment's account and region, started on first use. Images
        are pulled from the release repository's account, as a cross-account ECR pull does."""
        from releasectl_sandbox.ecs_sim import EcsSimulator
        from releasectl_sandbox.logship import LogShipper, MotoLogs
        from releasectl_sandbox.tasks import ImageResolver

        key = (env.account, env.region)
        if key in self._simulators:
            return self._simulators[key]
        # Task output goes to the log group of the task's own account.
        shipper = LogShipper(MotoLogs(env.account, env.region), on_error=self.announce)
        shipper.start()
        self._stack.callback(shipper.close)
        sim = EcsSimulator(
            account=env.account,
            region=env.region,
            resolver=ImageResolver(clients.client("ecr"), self.state),
            shipper=shipper,
            state=self.state,
            marker=self.marker,
            timings=self.timings,
            breaker_threshold=self.breaker_threshold,
            announce=self.announce,
        )
        internals.hook_ecs(patches, sim, env.region, env.account)
        # Standalone tasks (RunTask: `releasectl run`, a release's migration) and target health,
        # stacked on the simulator's hooks: releasectl_sandbox/run_task.py.
        from releasectl_sandbox.run_task import OneOffTasks

        one_off = OneOffTasks(
            account=env.account,
            region=env.region,
            ecs=sim,
            resolver=sim.resolver,
            shipper=shipper,
            state=self.state,
            marker=self.marker,
            timings=self.timings,
            announce=self.announce,
        )
        internals.hook_run_task(patches, one_off, env.region, env.account)
        internals.hook_target_health(patches, one_off, env.region, env.account)
        self._stack.callback(one_off.close)
        if key != (self.account, self.region):
            internals.hook_cloudformation(patches, env.region, env.account)
        sim.start()
        self._stack.callback(sim.close)
        self._simulators[key] = sim
        return sim

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

    def _sweep(self, timeout: float = 5.0) -> None:
        """Anything carrying our marker that survived the orderly stop is killed now, and waited
        for: a process SIGKILLed is still listed until the kernel has torn it down, which on a
        busy host takes a while, and whoever stopped the sandbox may check for leftovers next."""
        deadline = time.monotonic() + timeout
        while (left := processes_with_marker(self.marker)) and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
