"""Operating the service end to end against the sandbox: `run`, a release's migration, `logs --service`,
failure evidence and target health, through the CLI, with real task processes.

One sandbox for the module (tests/support/sandbox_world.py: the service runs 1.0.0; 1.1.0, 1.2.0
and the never-healthy 2.0.0 are released). The tests run in file order; the release tests make
commits of their own. State is checked through boto3 on the sandbox's endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_state import client
from tests.support.cli import CliResult, run_cli
from tests.support.flows import commit
from tests.support.sandbox_world import (
    CLUSTER,
    DEPLOY_TIMEOUT,
    SERVICE,
    UNHEALTHY,
    World,
    digest_of,
    running_digests,
    sandbox_world,
    service_now,
)

pytestmark = pytest.mark.e2e

FAILING_MIGRATION = "python -c \"import sys; print('migration 7 of 9 failed: no such column'); sys.exit(3)\""
GOOD_MIGRATION = "python -c \"print('migrated: 2 tables')\""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with sandbox_world(tmp_path_factory.mktemp("operations")) as running:
        yield running


def cli(world: World, *args: str, **env: str) -> CliResult:
    return run_cli(*args, cwd=world.project, env={**world.env(), **env})


def result(ran: CliResult) -> dict[str, Any]:
    data = json.loads(ran.stdout)
    assert isinstance(data, dict)
    return data


def task(world: World, task_id: str) -> dict[str, Any]:
    (found,) = client(world.endpoint, "ecs").describe_tasks(cluster=CLUSTER, tasks=[task_id])["tasks"]
    return dict(found)


# ----------------------------------------------------------------------------- run


def test_run_streams_the_commands_output_and_exit_0_is_success(world: World) -> None:
    ran = cli(world, "--json", "run", "--", "python", "-c", "print('hello from a one-off task')")
    assert ran.code == 0, ran.stderr
    assert "hello from a one-off task" in ran.stderr
    data = result(ran)
    assert (data["outcome"], data["exit_code"], data["version"]) == ("succeeded", 0, "1.0.0")
    assert data["task_definition"] == service_now(world.endpoint)["taskDefinition"]
    found = task(world, data["task_id"])
    assert found["lastStatus"] == "STOPPED"
    assert found["startedBy"] == "releasectl-run"


def test_run_a_non_zero_exit_is_exit_1_with_the_code_and_the_last_lines(world: World) -> None:
    script = "import sys\nfor n in range(30): print(f'step {n}')\nsys.exit(3)"
    ran = cli(world, "--json", "run", "--", "python", "-c", script)
    assert ran.code == 1, ran.stderr
    data = result(ran)
    assert (data["outcome"], data["exit_code"]) == ("failed", 3)
    assert "exited 3" in data["message"]
    (stopped,) = data["evidence"]["stopped_tasks"]
    assert stopped["log_tail"] == [f"step {n}" for n in range(10, 30)]
    assert task(world, data["task_id"])["containers"][0]["exitCode"] == 3


def test_run_from_another_version_runs_that_versions_image(world: World) -> None:
    ran = cli(
        world,
        "--json",
        "run",
        "--version",
        "1.1.0",
        "--",
        "python",
        "-c",
        "import os; print(os.environ['APP_VERSION'])",
    )
    assert ran.code == 0, ran.stderr
    data = result(ran)
    assert data["version"] == "1.1.0"
    assert data["image"]["digest"] == world.digests["1.1.0"]
    assert "\n1.1.0\n" in f"\n{ran.stderr}"
    # The service itself was not touched.
    assert running_digests(world.endpoint) == {world.digests["1.0.0"]}


def test_run_of_an_unknown_version_is_exit_4_and_starts_nothing(world: World) -> None:
    ecs = client(world.endpoint, "ecs")
    before = ecs.list_tasks(cluster=CLUSTER, startedBy="releasectl-run", desiredStatus="STOPPED")["taskArns"]
    ran = cli(world, "run", "--version", "9.9.9", "--", "true")
    assert ran.code == 4
    assert "9.9.9" in ran.stderr
    after = ecs.list_tasks(cluster=CLUSTER, startedBy="releasectl-run", desiredStatus="STOPPED")["taskArns"]
    assert after == before


def test_run_that_outlives_its_timeout_is_exit_3_and_the_task_is_left_running(world: World) -> None:
    ran = cli(world, "--json", "run", "--timeout", "3", "--", "python", "-c", "import time; time.sleep(120)")
    assert ran.code == 3, ran.stderr
    data = result(ran)
    assert data["outcome"] == "timed_out"
    assert data["task_id"] in data["message"]
    assert task(world, data["task_id"])["lastStatus"] == "RUNNING"
    client(world.endpoint, "ecs").stop_task(cluster=CLUSTER, task=data["task_id"], reason="test over")


def test_a_repeated_client_token_starts_no_second_task(world: World) -> None:
    ecs = client(world.endpoint, "ecs")
    service = service_now(world.endpoint)
    request = {
        "cluster": CLUSTER,
        "taskDefinition": service["taskDefinition"],
        "clientToken": "the-same-token-twice",
        "overrides": {"containerOverrides": [{"name": "app", "command": ["true"]}]},
    }
    first = ecs.run_task(**request)["tasks"][0]["taskArn"]
    second = ecs.run_task(**request)["tasks"][0]["taskArn"]
    assert first == second


# ----------------------------------------------------------------------------- service logs


def test_service_logs_interleave_the_tasks_lines_by_time_with_their_ids(world: World) -> None:
    ran = cli(world, "--json", "logs", "--service", "--since", "10m")
    assert ran.code == 0, ran.stderr
    lines = result(ran)["lines"]
    running = client(world.endpoint, "ecs").list_tasks(cluster=CLUSTER, serviceName=SERVICE)["taskArns"]
    ids = {arn.rsplit("/", 1)[-1] for arn in running}
    assert ids <= {line["task_id"] for line in lines}
    stamps = [line["timestamp"] for line in lines]
    assert stamps == sorted(stamps)


def test_service_logs_include_tasks_stopped_in_the_window(world: World) -> None:
    stopped = client(world.endpoint, "ecs").list_tasks(
        cluster=CLUSTER, serviceName=SERVICE, desiredStatus="STOPPED"
    )["taskArns"]
    assert stopped, "the sandbox world replaced its bootstrap tasks: they are stopped"
    ran = cli(world, "--json", "logs", "--service", "--since", "30m")
    shown = {line["task_id"] for line in result(ran)["lines"]}
    assert {arn.rsplit("/", 1)[-1] for arn in stopped} & shown


def test_service_logs_of_one_task_are_that_tasks_only(world: World) -> None:
    ran = cli(world, "--json", "run", "--", "python", "-c", "print('only mine')")
    one = result(ran)["task_id"]
    ran = cli(world, "--json", "logs", "--service", "--task", one, "--since", "10m")
    assert ran.code == 0, ran.stderr
    lines = result(ran)["lines"]
    assert [(line["task_id"], line["message"]) for line in lines] == [(one, "only mine")]


def test_service_logs_in_text_name_each_lines_task(world: World) -> None:
    ran = cli(world, "logs", "--service", "--since", "10m")
    assert ran.code == 0, ran.stderr
    first = ran.stdout.splitlines()[0]
    when, task_id, _ = first.split(" ", 2)
    assert when.endswith("Z") and len(task_id) == 8


# ----------------------------------------------------------------------------- evidence and target health


def test_the_load_balancer_reports_the_services_tasks_as_healthy_targets(world: World) -> None:
    service = service_now(world.endpoint)
    group = service["loadBalancers"][0]["targetGroupArn"]
    health = client(world.endpoint, "elbv2").describe_target_health(TargetGroupArn=group)
    states = [d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"]]
    assert states and set(states) == {"healthy"}


def test_a_deploy_ecs_rolls_back_carries_the_evidence_gathered_in_six_calls_at_most(world: World) -> None:
    ran = cli(world, "--json", "deploy", UNHEALTHY, "--timeout", DEPLOY_TIMEOUT)
    world.settle()
    assert ran.code == 1, ran.stderr
    data = result(ran)
    assert data["outcome"] == "rolled_back"
    evidence = data["evidence"]
    assert 0 < evidence["api_calls"] <= 6
    failed = [t for t in evidence["stopped_tasks"] if t["failed"]]
    assert failed and all("health checks" in t["stopped_reason"] for t in failed)
    assert any(t["log_tail"] for t in failed)
    assert evidence["events"]
    assert "health checks" in evidence["summary"]


# ----------------------------------------------------------------------------- migrations


def test_a_release_whose_migration_exits_3_deploys_nothing_and_the_ledger_says_so(world: World) -> None:
    commit(world.project, "fix: a change that needs a migration\n\nRelease-As: 2.1.0", "migrations/001.txt")
    before = service_now(world.endpoint)["taskDefinition"]
    running = running_digests(world.endpoint)

    ran = cli(
        world,
        "--json",
        "release",
        "--builder",
        "sandbox",
        "--allow-unpushed",
        RELEASECTL_MIGRATE_COMMAND=FAILING_MIGRATION,
    )

    assert ran.code == 1, ran.stderr
    data = result(ran)
    assert (data["outcome"], data["version"]) == ("failed", "2.1.0")
    assert data["migration"]["exit_code"] == 3
    assert "migration 7 of 9 failed: no such column" in ran.stderr
    assert service_now(world.endpoint)["taskDefinition"] == before
    assert running_digests(world.endpoint) == running
    ledger = result(cli(world, "--json", "releases"))
    (row,) = [r for r in ledger["releases"] if r["version"] == "2.1.0"]
    assert row["outcome"] == "failed (migration exit 3)"
    table = cli(world, "releases", COLUMNS="200").stdout
    assert "failed (migration exit 3)" in table


def test_a_release_migrates_before_the_deploy_and_a_rollback_past_it_says_it_is_not_undone(
    world: World, tmp_path: Path
) -> None:
    world.deploy_directly("1.0.0")
    commit(world.project, "feat: the new schema\n\nRelease-As: 3.0.0", "migrations/002.txt")

    ran = cli(
        world,
        "--json",
        "release",
        "--builder",
        "sandbox",
        "--allow-unpushed",
        "--timeout",
        DEPLOY_TIMEOUT,
        RELEASECTL_MIGRATE_COMMAND=GOOD_MIGRATION,
    )
    assert ran.code == 0, ran.stderr
    data = result(ran)
    assert (data["outcome"], data["version"], data["deploy_outcome"]) == ("succeeded", "3.0.0", "succeeded")
    assert data["migration"]["exit_code"] == 0
    assert "migrated: 2 tables" in ran.stderr
    # The migration ran from the release's own image.
    migration = task(world, data["migration"]["task_id"])
    assert digest_of(world.endpoint, migration["taskDefinitionArn"]) == data["IMAGE_DIGEST"]

    back = cli(world, "--json", "rollback", "--to", "1.0.0", "--timeout", DEPLOY_TIMEOUT)
    world.settle()
    assert back.code == 0, back.stderr
    assert "the migration of 3.0.0 ran and is not undone by rolling back to 1.0.0" in back.stderr
    (undone,) = result(back)["migrations_not_undone"]
    assert undone["version"] == "3.0.0"
