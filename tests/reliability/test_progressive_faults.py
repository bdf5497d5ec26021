"""Blue/green and canary deploys, a failed test-listener check and `abort`, between `releasectl`
and the sandbox's service deployments, with and without the fault proxy.

One sandbox with a staging environment (its platform stack has the second target group, both
listener rules, the infrastructure role and the test listener) for the module. The project's
service.toml deploys BLUE_GREEN with the test-listener check on; bake times are sandbox minutes
(a second each, docs/sandbox.md). The CLI talks to the sandbox through the proxy at a 20 % fault
rate, plus answers lost after the sandbox applied the request; every check reads the sandbox
directly, and a faulted run must leave what a fault-free run of the same step leaves.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from releasectl_sandbox.images import build_image, push
from releasectl_sandbox.sandbox import Sandbox, SandboxEnvironment
from tests.support.cli import CliResult, run_cli, start_cli
from tests.support.faultproxy import FaultProxy
from tests.support.paths import ROOT
from tests.support.sandbox_projects import copy_context, get, init_repo, project_config, service_files
from tests.support.sandbox_world import faults

pytestmark = pytest.mark.e2e

CONFIG = """\
[tool.releasectl]
ecr_repository = "hello-world"
codebuild_project = "hello-world-release"
container_name = "app"
max_attempts = 8

[tool.releasectl.environments.staging]
cluster = "hello-world-staging"
service = "hello-world"
stack = "hello-world-staging"
"""
CLUSTER, SERVICE = "hello-world-staging", "hello-world"
TIMEOUT = "90"
# The first seed runs in the suite, the others soak (`-m slow`): each is a whole sandbox rollout.
SEEDS = [1, pytest.param(2, marks=pytest.mark.slow)]
# The repository's service.toml with the load balancer fields on, BLUE_GREEN with a short bake
# and a canary setting for `--strategy canary`, and the test-listener check.
LB_FIELDS = (
    "alternate_target_group_arn",
    "production_listener_rule_arn",
    "test_listener_rule_arn",
    "infrastructure_role_arn",
)


def service_toml() -> str:
    text = (ROOT / "service.toml").read_text().split("[environments.prod]")[0]  # staging only here
    for field in LB_FIELDS:
        text = text.replace(f"# {field} = ", f"{field} = ")
    text = text.replace('strategy = "ROLLING"', 'strategy = "BLUE_GREEN"\nbake_time = 2')
    text = text.replace("# canary_percent = 10", "canary_percent = 10")
    text = text.replace("# canary_bake_time = 3", "canary_bake_time = 3")
    text = text.replace("# [service.verify]", "[service.verify]")
    text = text.replace(
        '# url = "${stack:TestListenerUrl}"', 'url = "${stack:TestListenerUrl}"\nattempts = 2'
    )
    assert text.count("${stack:AlternateTargetGroupArn}") == 1 and "\nurl = " in text, "service.toml changed"
    return text


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("progressive-faults")
    files = {"pyproject.toml": CONFIG, "service.toml": service_toml(), **service_files()}
    project = init_repo(root / "project", files)
    with Sandbox(
        project, config=project_config(project), state_dir=root / "state", env_file=root / "sandbox.env"
    ) as running:
        for number, (version, reports) in enumerate(
            (("1.0.0", "1.0.0"), ("1.1.0", "1.1.0"), ("1.2.0", "1.2.0"), ("1.3.0", "9.9.9")), start=1
        ):
            release(running, root, version, reports=reports, commit=f"{number:x}" * 40)
        yield running


def release(sandbox: Sandbox, root: Path, version: str, *, reports: str, commit: str) -> None:
    """`version` in the release repository, by digest, with its git tag; its /version says `reports`."""
    context = copy_context(root / f"context-{version}")
    image = build_image(
        context, None, {"APP_VERSION": reports, "GIT_COMMIT": commit}, store=sandbox.state.blobs
    )
    push(sandbox.clients().client("ecr"), "hello-world", image, tags=[version, f"git-{commit}"])


@pytest.fixture(scope="module")
def env(sandbox: Sandbox) -> SandboxEnvironment:
    return sandbox.environment("staging")


def cli(sandbox: Sandbox, *args: str, endpoint: str | None = None) -> CliResult:
    return run_cli(
        "--json",
        *args,
        cwd=sandbox.project_dir,
        env={**sandbox.env, "AWS_ENDPOINT_URL": endpoint or sandbox.endpoint},
    )


def result_of(ran: CliResult) -> dict[str, Any]:
    data = json.loads(ran.stdout)
    assert isinstance(data, dict)
    return data


def deploy_directly(sandbox: Sandbox, version: str) -> dict[str, Any]:
    ran = cli(sandbox, "deploy", version, "--timeout", TIMEOUT)
    assert ran.code == 0, ran.stderr
    return result_of(ran)


def ecs(env: SandboxEnvironment) -> Any:
    return env.clients().client("ecs")


def state(env: SandboxEnvironment) -> dict[str, Any]:
    """What a deploy leaves, in terms that do not depend on ids: the release that runs (by the
    revision's tags), how its service deployment ended, its strategy, the traffic, what the
    production and test listeners answer."""
    client = ecs(env)
    service = client.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    revision = client.describe_task_definition(taskDefinition=service["taskDefinition"], include=["TAGS"])
    tags = {t["key"]: t["value"] for t in revision.get("tags") or ()}
    current = client.describe_service_deployments(serviceDeploymentArns=[service["currentServiceDeployment"]])
    deployment = current["serviceDeployments"][0]
    target = deployment.get("targetServiceRevision") or {}
    return {
        "version": tags.get("releasectl:version"),
        "outcome": tags.get("releasectl:outcome"),
        "status": deployment["status"],
        "strategy": deployment["deploymentConfiguration"].get("strategy"),
        "traffic": target.get("requestedProductionTrafficWeight"),
        "running": service["runningCount"],
        "desired": service["desiredCount"],
        "answers": get(env.alb_url)[1],
        "test_answers": get(env.test_url)[1],
    }


@pytest.fixture(scope="module")
def first(sandbox: Sandbox) -> dict[str, Any]:
    """The first deploy creates the service, blue/green, from service.toml."""
    return deploy_directly(sandbox, "1.0.0")


def test_the_first_deploy_creates_a_blue_green_service_followed_through_its_service_deployment(
    first: dict[str, Any], env: SandboxEnvironment
) -> None:
    assert (first["action"], first["outcome"], first["followed"]) == (
        "create",
        "succeeded",
        "service_deployments",
    )
    assert state(env)["strategy"] == "BLUE_GREEN"


@pytest.mark.parametrize("seed", SEEDS)
def test_a_blue_green_deploy_through_faults_leaves_what_a_fault_free_one_leaves(
    sandbox: Sandbox, env: SandboxEnvironment, first: dict[str, Any], seed: int, fast_retries: None
) -> None:
    deploy_directly(sandbox, "1.0.0")
    clean = deploy_directly(sandbox, "1.1.0")
    expected = state(env)
    deploy_directly(sandbox, "1.0.0")

    with FaultProxy(sandbox.endpoint, faults(seed)) as proxy:
        ran = cli(sandbox, "deploy", "1.1.0", "--timeout", TIMEOUT, endpoint=proxy.url)

    assert ran.code == 0, f"{dict(proxy.injected)}: {ran.stderr}"
    assert sum(proxy.injected.values()) > 0
    result = result_of(ran)
    for key in ("outcome", "version", "followed", "test_listener_verified"):
        assert result[key] == clean[key], key
    assert result["test_listener_verified"] is True
    assert state(env) == expected
    assert expected["version"] == "1.1.0" and "(version 1.1.0)" in expected["answers"]


def test_a_canary_whose_test_listener_reports_another_version_is_stopped_and_rolled_back(
    sandbox: Sandbox, env: SandboxEnvironment, first: dict[str, Any]
) -> None:
    deploy_directly(sandbox, "1.1.0")
    ran = cli(sandbox, "deploy", "1.3.0", "--strategy", "canary", "--timeout", TIMEOUT)
    assert ran.code == 1, ran.stderr
    result = result_of(ran)
    assert result["outcome"] == "rolled_back"
    assert "stopped by releasectl: verification failed" in result["message"]
    assert "reports version '9.9.9', not 1.3.0" in result["message"]
    after = state(env)
    assert after["status"] == "ROLLBACK_SUCCESSFUL"
    assert "(version 1.1.0)" in after["answers"]


def wait_for_stage(env: SandboxEnvironment, stage: str, timeout: float = 60.0) -> None:
    client = ecs(env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arn = client.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0][
            "currentServiceDeployment"
        ]
        found = client.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
        if found.get("lifecycleStage") == stage and found["status"] == "IN_PROGRESS":
            return
        time.sleep(0.2)
    raise AssertionError(f"the deployment never reached {stage}")


@pytest.mark.parametrize("seed", SEEDS)
def test_abort_through_faults_rolls_the_canary_back_and_says_so(
    sandbox: Sandbox, env: SandboxEnvironment, first: dict[str, Any], seed: int, fast_retries: None
) -> None:
    deploy_directly(sandbox, "1.1.0")
    started = cli(sandbox, "deploy", "1.2.0", "--strategy", "canary", "--no-wait")
    assert started.code == 0, started.stderr
    wait_for_stage(env, "PRODUCTION_TRAFFIC_SHIFT")

    with FaultProxy(sandbox.endpoint, faults(seed)) as proxy:
        ran = cli(sandbox, "abort", "--timeout", TIMEOUT, endpoint=proxy.url)

    assert ran.code == 0, f"{dict(proxy.injected)}: {ran.stderr}"
    assert sum(proxy.injected.values()) > 0
    result = result_of(ran)
    assert (result["outcome"], result["deployment_outcome"], result["version"]) == (
        "succeeded",
        "rolled_back",
        "1.2.0",
    )
    assert "stopped by abort" in result["message"]
    after = state(env)
    assert after["status"] == "ROLLBACK_SUCCESSFUL"
    assert after["version"] == "1.1.0" and "(version 1.1.0)" in after["answers"]


def test_nothing_in_flight_abort_is_exit_4(sandbox: Sandbox, first: dict[str, Any]) -> None:
    deploy_directly(sandbox, "1.1.0")
    ran = cli(sandbox, "abort")
    assert ran.code == 4
    assert "nothing is in flight" in result_of(ran)["message"]


def test_a_waiting_deploy_reports_rolled_back_stopped_by_abort(
    sandbox: Sandbox, env: SandboxEnvironment, first: dict[str, Any]
) -> None:
    deploy_directly(sandbox, "1.1.0")
    waiting = start_cli(
        ["deploy", "1.2.0", "--strategy", "canary", "--timeout", TIMEOUT],
        cwd=sandbox.project_dir,
        env={**sandbox.env, "AWS_ENDPOINT_URL": sandbox.endpoint},
    )
    try:
        wait_for_stage(env, "PRODUCTION_TRAFFIC_SHIFT")
        aborted = cli(sandbox, "abort", "--timeout", TIMEOUT)
        out, err = waiting.communicate(timeout=120)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert aborted.code == 0, aborted.stderr
    assert waiting.returncode == 1, err
    deployed = json.loads(out)
    assert deployed["outcome"] == "rolled_back" and deployed["stopped_by"] == "abort"
    assert "stopped by abort" in deployed["message"]
