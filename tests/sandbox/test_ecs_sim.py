"""The sandbox's ECS rolls services out with real task processes, and `releasectl deploy` sees the truth.

One sandbox for the module: the tests run in file order and each leaves the service steady.
State is checked independently through boto3 on the same endpoint.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from releasectl_sandbox.images import SandboxImage, build_image, push
from releasectl_sandbox.sandbox import Sandbox
from tests.support.cli import run_cli
from tests.support.sandbox_projects import (
    CONFIG,
    copy_context,
    get,
    init_repo,
    project_config,
    service_files,
    wait_for,
)

pytestmark = pytest.mark.e2e

CLUSTER = SERVICE = "hello-world"


@dataclass
class Releases:
    images: dict[str, SandboxImage] = field(default_factory=dict)

    def digest(self, version: str) -> str:
        return self.images[version].digest


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("ecs")
    project = init_repo(root / "project", {"pyproject.toml": CONFIG, **service_files()})
    with Sandbox(
        project, config=project_config(project), state_dir=root / "state", env_file=root / "env"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def releases(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Releases:
    """1.0.0 and 1.1.0 are healthy; 2.0.0's /healthz answers 500."""
    ecr = sandbox.clients().client("ecr")
    found = Releases()
    for number, (version, status) in enumerate([("1.0.0", 200), ("1.1.0", 200), ("2.0.0", 500)], start=1):
        context = copy_context(
            tmp_path_factory.mktemp(f"context-{version}") / "context", healthz_status=status
        )
        commit = f"{number:x}" * 40
        image = build_image(
            context, None, {"APP_VERSION": version, "GIT_COMMIT": commit}, store=sandbox.state.blobs
        )
        push(ecr, "hello-world", image, tags=[f"git-{commit}", version])
        found.images[version] = image
    return found


@pytest.fixture
def ecs(sandbox: Sandbox) -> Any:
    return sandbox.clients().client("ecs")


def service(ecs: Any) -> dict[str, Any]:
    return dict(ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0])


def tasks(ecs: Any, status: str = "RUNNING") -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus=status)["taskArns"]
    return list(ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]) if arns else []


def deploy(sandbox: Sandbox, version: str) -> tuple[int, dict[str, Any], str]:
    result = run_cli(
        "--json", "deploy", version, "--timeout", "60", cwd=sandbox.project_dir, env=sandbox.env, timeout=90
    )
    return result.code, json.loads(result.stdout), result.stderr


class AlbPoller:
    """Requests the ALB's `/` continuously from a thread and keeps every answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[tuple[int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.answers.append(get(self.url, timeout=5))
            except OSError as exc:
                self.answers.append((0, f"{exc.__class__.__name__}: {exc}"))
            time.sleep(0.02)

    def __enter__(self) -> AlbPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def steady(sandbox: Sandbox) -> None:
    assert sandbox.wait_until_steady(30), "the service did not return to a steady state"


def test_the_service_starts_steady_with_two_healthy_tasks_behind_the_alb(sandbox: Sandbox, ecs: Any) -> None:
    current = service(ecs)
    assert [d["rolloutState"] for d in current["deployments"]] == ["COMPLETED"]
    assert (current["runningCount"], current["desiredCount"]) == (2, 2)
    assert current["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
        "enable": True,
        "rollback": True,
    }
    running = tasks(ecs)
    assert [(t["lastStatus"], t["healthStatus"]) for t in running] == [("RUNNING", "HEALTHY")] * 2
    assert get(sandbox.alb_url) == (200, "Hello from CI/CD! (version 0.0.0-dev)\n")


def test_describe_clusters_counts_the_running_tasks_and_the_active_service(
    sandbox: Sandbox, ecs: Any
) -> None:
    # A forced deployment makes moto rewrite its own counts, which used to drift negative.
    ecs.update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
    steady(sandbox)
    (cluster,) = ecs.describe_clusters(clusters=[CLUSTER])["clusters"]
    assert (cluster["runningTasksCount"], cluster["pendingTasksCount"]) == (len(tasks(ecs)), 0) == (2, 0)
    assert cluster["activeServicesCount"] == 1


def test_task_output_goes_to_the_awslogs_group_of_the_task_definition(sandbox: Sandbox, ecs: Any) -> None:
    task_id = tasks(ecs)[0]["taskArn"].rsplit("/", 1)[-1]
    logs = sandbox.clients().client("logs")

    def started_line() -> bool:
        events = logs.get_log_events(
            logGroupName="/ecs/hello-world", logStreamName=f"app/app/{task_id}", startFromHead=True
        )["events"]
        return any('"event":"started"' in e["message"] for e in events)

    wait_for(started_line, 5, "the task's started line in CloudWatch Logs")


def test_update_service_answers_with_the_new_primary_deployment_already_listed(
    sandbox: Sandbox, ecs: Any
) -> None:
    before = service(ecs)["deployments"][0]["id"]
    updated = ecs.update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)["service"]
    primary, previous = updated["deployments"]
    assert (primary["status"], primary["rolloutState"]) == ("PRIMARY", "IN_PROGRESS")
    assert primary["id"].startswith("ecs-svc/") and primary["id"] != before
    assert (previous["id"], previous["status"]) == (before, "ACTIVE")
    steady(sandbox)


def test_deploy_of_a_good_release_completes_without_a_failed_request(
    sandbox: Sandbox, ecs: Any, releases: Releases
) -> None:
    with AlbPoller(sandbox.alb_url) as poller:
        code, result, stderr = deploy(sandbox, "1.1.0")
    assert code == 0, stderr
    assert result["outcome"] == "succeeded"
    current = service(ecs)
    (only,) = current["deployments"]
    assert (only["id"], only["status"], only["rolloutState"]) == (
        result["deployment_id"],
        "PRIMARY",
        "COMPLETED",
    )
    assert current["runningCount"] == current["desiredCount"] == 2
    definition = ecs.describe_task_definition(taskDefinition=current["taskDefinition"])["taskDefinition"]
    assert definition["containerDefinitions"][0]["image"].endswith(f"/hello-world@{releases.digest('1.1.0')}")
    assert {t["containers"][0]["imageDigest"] for t in tasks(ecs)} == {releases.digest("1.1.0")}
    assert get(sandbox.alb_url) == (200, "Hello from CI/CD! (version 1.1.0)\n")
    failures = [a for a in poller.answers if a[0] != 200]
    assert not failures and poller.answers, failures[:3]
    replaced = [
        t for t in tasks(ecs, "STOPPED") if t["stoppedReason"].startswith("Scaling activity initiated by")
    ]
    assert len(replaced) >= 2


def test_a_release_that_never_turns_healthy_is_rolled_back_and_the_alb_keeps_answering(
    sandbox: Sandbox, ecs: Any, releases: Releases
) -> None:
    good = service(ecs)["taskDefinition"]
    with AlbPoller(sandbox.alb_url) as poller:
        code, result, stderr = deploy(sandbox, "2.0.0")
        steady(sandbox)
    assert code == 1, stderr
    assert result["outcome"] == "rolled_back"
    assert set(poller.answers) == {(200, "Hello from CI/CD! (version 1.1.0)\n")}
    current = service(ecs)
    assert current["taskDefinition"] == good
    assert [(d["status"], d["rolloutState"]) for d in current["deployments"]] == [("PRIMARY", "COMPLETED")]
    messages = [e["message"] for e in current["events"]]
    ours = result["deployment_id"]
    assert f"(service hello-world) (deployment {ours}) deployment failed: tasks failed to start." in messages
    assert any(m.startswith("(service hello-world) rolling back to deployment ecs-svc/") for m in messages)
    failed = [t for t in tasks(ecs, "STOPPED") if t["startedBy"] == result["deployment_id"]]
    assert len(failed) >= 2
    assert all(t["stoppedReason"].startswith("Task failed container health checks") for t in failed)


def test_tasks_that_exit_trip_the_circuit_breaker_with_their_exit_code(
    sandbox: Sandbox, ecs: Any, releases: Releases
) -> None:
    current = ecs.describe_task_definition(taskDefinition=service(ecs)["taskDefinition"])["taskDefinition"]
    container = {**current["containerDefinitions"][0], "command": ["python", "-c", "raise SystemExit(3)"]}
    keep = ("family", "requiresCompatibilities", "networkMode", "cpu", "memory")
    crashing = ecs.register_task_definition(**{k: current[k] for k in keep}, containerDefinitions=[container])
    arn = crashing["taskDefinition"]["taskDefinitionArn"]
    ours = ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=arn)["service"]["deployments"][
        0
    ]["id"]
    wait_for(
        lambda: any(d["id"] == ours and d["rolloutState"] == "FAILED" for d in service(ecs)["deployments"]),
        20,
        "FAILED",
    )
    exited = [t for t in tasks(ecs, "STOPPED") if t["startedBy"] == ours]
    assert exited and all(t["stopCode"] == "EssentialContainerExited" for t in exited)
    assert {t["containers"][0]["exitCode"] for t in exited} == {3}
    steady(sandbox)
    assert service(ecs)["taskDefinition"] == current["taskDefinitionArn"]


def test_an_image_missing_from_ecr_fails_to_pull_and_is_rolled_back(sandbox: Sandbox, ecs: Any) -> None:
    current = ecs.describe_task_definition(taskDefinition=service(ecs)["taskDefinition"])["taskDefinition"]
    image = current["containerDefinitions"][0]["image"].split("@")[0] + "@sha256:" + "0" * 64
    keep = ("family", "requiresCompatibilities", "networkMode", "cpu", "memory")
    missing = ecs.register_task_definition(
        **{k: current[k] for k in keep},
        containerDefinitions=[{**current["containerDefinitions"][0], "image": image}],
    )
    ours = ecs.update_service(
        cluster=CLUSTER, service=SERVICE, taskDefinition=missing["taskDefinition"]["taskDefinitionArn"]
    )["service"]["deployments"][0]["id"]
    steady(sandbox)
    failed = [t for t in tasks(ecs, "STOPPED") if t["startedBy"] == ours]
    assert failed and all(t["stoppedReason"].startswith("CannotPullContainerError") for t in failed)
    assert all(t["stopCode"] == "TaskFailedToStart" for t in failed)
    assert service(ecs)["taskDefinition"] == current["taskDefinitionArn"]


def test_a_deregistered_revision_cannot_be_deployed(sandbox: Sandbox, ecs: Any) -> None:
    current = ecs.describe_task_definition(taskDefinition=service(ecs)["taskDefinition"])["taskDefinition"]
    keep = ("family", "requiresCompatibilities", "networkMode", "cpu", "memory", "containerDefinitions")
    spare = ecs.register_task_definition(**{k: current[k] for k in keep})["taskDefinition"][
        "taskDefinitionArn"
    ]
    ecs.deregister_task_definition(taskDefinition=spare)
    with pytest.raises(ecs.exceptions.ClientException, match="inactive"):
        ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=spare)


def test_the_alb_answers_503_when_the_service_has_no_healthy_task(sandbox: Sandbox, ecs: Any) -> None:
    ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=0)
    try:
        wait_for(lambda: get(sandbox.alb_url)[0] == 503, 15, "the ALB to answer 503")
        assert "sandbox ALB" in get(sandbox.alb_url)[1]
    finally:
        ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=2)
    wait_for(lambda: get(sandbox.alb_url)[0] == 200, 15, "the ALB to answer again")
