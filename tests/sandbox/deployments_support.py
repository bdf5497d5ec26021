"""Shared by the sandbox's service-deployment tests: an environment with a platform stack, releases
that are good, that answer `/` with 500, or whose /healthz fails, a service made with the
deploymentConfiguration a test gives, and watchers that record what ECS and the load balancer said
while a deployment ran."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releasectl_sandbox.images import build_image, push
from releasectl_sandbox.sandbox import Sandbox, SandboxEnvironment
from tests.support.sandbox_projects import copy_context, get, init_repo, project_config, service_files

CLUSTER, SERVICE = "hello-world-staging", "hello-world"
CONFIG = """\
[tool.releasectl]
ecr_repository = "hello-world"
codebuild_project = "hello-world-release"
container_name = "app"

[tool.releasectl.environments.staging]
cluster = "hello-world-staging"
service = "hello-world"
stack = "hello-world-staging"
"""
ROOT_OK = 'return 200, "text/plain; charset=utf-8", f"{GREETING}'
TERMINAL = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
_VERSION = re.compile(r"\(version ([^)]+)\)")


def start_sandbox(root: Path, **options: Any) -> Sandbox:
    project = init_repo(root / "project", {"pyproject.toml": CONFIG, **service_files()})
    return Sandbox(
        project, config=project_config(project), state_dir=root / "state", env_file=root / "env", **options
    )


@dataclass
class Releases:
    """Images pushed to the sandbox's release repository, by version, pinned by digest."""

    sandbox: Sandbox
    root: Path
    images: dict[str, str] = field(default_factory=dict)  # version -> repository@digest
    digests: dict[str, str] = field(default_factory=dict)

    def push(self, version: str, *, root_status: int = 200, healthz_status: int = 200) -> str:
        context = copy_context(self.root / f"context-{version}", healthz_status=healthz_status)
        if root_status != 200:
            service = context / "service" / "hello_world.py"
            text = service.read_text()
            assert ROOT_OK in text, "service/hello_world.py changed: update this fixture"
            service.write_text(text.replace(ROOT_OK, ROOT_OK.replace("200", str(root_status), 1)))
        image = build_image(
            context, None, {"APP_VERSION": version, "GIT_COMMIT": "c" * 40}, store=self.sandbox.state.blobs
        )
        ecr = self.sandbox.clients().client("ecr")
        push(ecr, "hello-world", image, tags=[version])
        uri = ecr.describe_repositories(repositoryNames=["hello-world"])["repositories"][0]["repositoryUri"]
        self.images[version] = f"{uri}@{image.digest}"
        self.digests[version] = image.digest
        return self.images[version]

    @classmethod
    def pushed(cls, sandbox: Sandbox, root: Path, healthy: Sequence[str]) -> Releases:
        """These healthy versions, then 2.0.0 (healthy, but every `/` is a 500) and 3.0.0 (never healthy)."""
        found = cls(sandbox, root)
        for version in healthy:
            found.push(version)
        found.push("2.0.0", root_status=500)
        found.push("3.0.0", healthz_status=500)
        return found


def ecs(env: SandboxEnvironment) -> Any:
    return env.clients().client("ecs")


def register(env: SandboxEnvironment, image: str, **container: Any) -> str:
    """A task definition of the image (a health check on /healthz, as service.toml gives one)."""
    definition = {
        "name": "app",
        "image": image,
        "essential": True,
        "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
        "healthCheck": {
            "command": [
                "CMD",
                "python",
                "-c",
                "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')",
            ],
            "interval": 15,
            "timeout": 5,
            "retries": 3,
        },
        **container,
    }
    return str(
        ecs(env).register_task_definition(
            family="hello-world-staging",
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            containerDefinitions=[definition],
        )["taskDefinition"]["taskDefinitionArn"]
    )


def load_balancers(env: SandboxEnvironment, *, advanced: bool = True) -> list[dict[str, Any]]:
    out = env.outputs
    balancer: dict[str, Any] = {
        "targetGroupArn": out["TargetGroupArn"],
        "containerName": "app",
        "containerPort": 8080,
    }
    if advanced:
        balancer["advancedConfiguration"] = {
            "alternateTargetGroupArn": out["AlternateTargetGroupArn"],
            "productionListenerRule": out["ProductionListenerRuleArn"],
            "testListenerRule": out["TestListenerRuleArn"],
            "roleArn": out["InfrastructureRoleArn"],
        }
    return [balancer]


def configuration(env: SandboxEnvironment, *, alarms: bool = True, **settings: Any) -> dict[str, Any]:
    """A deploymentConfiguration: the circuit breaker with rollback, 100/200 %, the 5xx alarm."""
    config: dict[str, Any] = {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "minimumHealthyPercent": 100,
        "maximumPercent": 200,
    }
    if alarms:
        config["alarms"] = {"alarmNames": [env.outputs["Target5xxAlarm"]], "enable": True, "rollback": True}
    config.update(settings)
    return config


def create_service(
    env: SandboxEnvironment, task_definition: str, config: Mapping[str, Any], *, desired: int = 2
) -> dict[str, Any]:
    out = env.outputs
    return dict(
        ecs(env).create_service(
            cluster=CLUSTER,
            serviceName=SERVICE,
            taskDefinition=task_definition,
            desiredCount=desired,
            launchType="FARGATE",
            loadBalancers=load_balancers(env),
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": out["PrivateSubnets"].split(","),
                    "securityGroups": [out["TaskSecurityGroup"]],
                }
            },
            deploymentConfiguration=dict(config),
        )["service"]
    )


def update(env: SandboxEnvironment, task_definition: str, config: Mapping[str, Any] | None = None) -> str:
    """update_service to a revision; the service deployment it started, from the response."""
    extra = {"deploymentConfiguration": dict(config)} if config is not None else {}
    service = ecs(env).update_service(
        cluster=CLUSTER, service=SERVICE, taskDefinition=task_definition, **extra
    )
    return str(service["service"]["currentServiceDeployment"])


def describe(env: SandboxEnvironment, arn: str) -> dict[str, Any]:
    return dict(ecs(env).describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0])


def wait_done(env: SandboxEnvironment, arn: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = describe(env, arn)
        if found["status"] in TERMINAL:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{arn} still {describe(env, arn)['status']} after {timeout:g} s")


class Watcher:
    """Polls DescribeServiceDeployments from a thread (20 a second) and keeps each change of
    (status, lifecycle stage, the target's production weight, its test weight)."""

    def __init__(self, env: SandboxEnvironment, arn: str) -> None:
        self.client = ecs(env)
        self.arn = arn
        self.seen: list[tuple[str, str | None, float, float]] = []
        self.last: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            found = self.client.describe_service_deployments(serviceDeploymentArns=[self.arn])
            self.last = found["serviceDeployments"][0]
            target = self.last["targetServiceRevision"]
            key = (
                str(self.last["status"]),
                self.last.get("lifecycleStage"),
                float(target["requestedProductionTrafficWeight"]),
                float(target["requestedTestTrafficWeight"]),
            )
            if not self.seen or self.seen[-1] != key:
                self.seen.append(key)
            if key[0] in TERMINAL:
                return
            self._stop.wait(0.05)

    @property
    def statuses(self) -> list[str]:
        return _collapsed([s[0] for s in self.seen])

    @property
    def weights(self) -> list[float]:
        """The new revision's production weight, each value once, in the order it took them."""
        return _collapsed([s[2] for s in self.seen])

    @property
    def stages(self) -> list[str]:
        return _collapsed([s[1] for s in self.seen if s[1]])

    def wait(self, timeout: float = 60.0) -> dict[str, Any]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"{self.arn} did not end within {timeout:g} s: {self.seen[-1:]}"
        return self.last

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


class Traffic:
    """Requests a listener's `/` continuously and counts the answers by (status, version)."""

    def __init__(self, url: str, interval: float = 0.01) -> None:
        self.url = url
        self.interval = interval
        self.answers: Counter[tuple[int, str]] = Counter()
        self.first_seen: dict[str, float] = {}  # version -> when it first answered (monotonic)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, body = get(self.url, timeout=5)
            except OSError as exc:
                status, body = 0, exc.__class__.__name__
            found = _VERSION.search(body)
            version = found.group(1) if found else body.strip()[:40]
            self.answers[(status, version)] += 1
            self.first_seen.setdefault(version, time.monotonic())
            self._stop.wait(self.interval)

    def served(self, version: str) -> int:
        return sum(n for (_, v), n in self.answers.items() if v == version)

    @property
    def total(self) -> int:
        return sum(self.answers.values())

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def versions(url: str, count: int = 10) -> Counter[tuple[int, str]]:
    seen: Counter[tuple[int, str]] = Counter()
    for _ in range(count):
        status, body = get(url)
        found = _VERSION.search(body)
        seen[(status, found.group(1) if found else body.strip()[:40])] += 1
    return seen


def rule_weights(env: SandboxEnvironment, output: str) -> dict[str, int]:
    """The forward weights of a listener rule, as ELBv2 describes them: target group output name -> weight."""
    elbv2 = env.clients().client("elbv2")
    rule = elbv2.describe_rules(RuleArns=[env.outputs[output]])["Rules"][0]
    names = {
        env.outputs["TargetGroupArn"]: "TargetGroupArn",
        env.outputs["AlternateTargetGroupArn"]: "AlternateTargetGroupArn",
    }
    groups = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    return {names[g["TargetGroupArn"]]: int(g["Weight"]) for g in groups}


def alarm_states(env: SandboxEnvironment) -> list[tuple[str, str]]:
    """Each state the 5xx alarm has been in, oldest first, with its reason.

    Its window is a few sandbox seconds, so it may be back to OK by the time a rollback has been
    seen; moto keeps the history DescribeAlarmHistory would show, though it serves no such call."""
    from releasectl_sandbox import moto_internals

    cloudwatch = moto_internals.backend("cloudwatch", env.resources.region, env.ecs.account)
    alarm = cloudwatch.alarms[env.outputs["Target5xxAlarm"]]
    past = [(str(item[3]), str(item[1])) for item in alarm.history if item[0] == "StateUpdate"]
    return [*past, (str(alarm.state_value), str(alarm.state_reason))]


def wait_alarm_ok(env: SandboxEnvironment, timeout: float = 15.0) -> None:
    """The 5xx alarm back to OK, so the next deployment does not start with it firing."""
    cloudwatch = env.session.client("cloudwatch", endpoint_url=env.endpoint)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alarm = cloudwatch.describe_alarms(AlarmNames=[env.outputs["Target5xxAlarm"]])["MetricAlarms"][0]
        if alarm["StateValue"] == "OK":
            return
        time.sleep(0.2)
    raise AssertionError("the 5xx alarm did not return to OK")


def steady(sandbox: Sandbox, timeout: float = 30.0) -> None:
    assert sandbox.wait_until_steady(timeout), "the service did not return to a steady state"


def _collapsed(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if not out or out[-1] != item:
            out.append(item)
    return out
