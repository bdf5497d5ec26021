"""Bad input to `run` and `logs --service` through the CLI: exit 2 or 4, one line, nothing started.
The commands doing their work are tested against the sandbox (tests/sandbox/test_operations.py)."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import one_line_error, run_cli
from tests.support.service_world import CLUSTER, ServiceWorld


@pytest.mark.parametrize(
    "args",
    [
        ("run",),
        ("run", "--"),
        ("run", "echo", "hello"),
        ("run", "--version", "1.2.0", "python", "-m", "migrate"),
    ],
)
def test_run_without_a_command_after_dashdash_is_exit_2(args: tuple[str, ...]) -> None:
    ran = run_cli("--json", *args)
    assert ran.code == 2
    assert one_line_error(ran)
    assert "after `--`" in ran.stderr
    assert json.loads(ran.stdout)["outcome"] == "error"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("logs",), "a build id or --service"),
        (("logs", "proj:1234", "--service"), "a build id or --service"),
        (("logs", "proj:1234", "--since", "10m"), "go with --service"),
        (("logs", "--service", "--since", "ten minutes"), "not a duration"),
    ],
)
def test_logs_takes_a_build_id_or_service_options_and_says_which(args: tuple[str, ...], said: str) -> None:
    ran = run_cli(*args, env={"RELEASECTL_ECS_CLUSTER": "web", "RELEASECTL_ECS_SERVICE": "shop"})
    assert ran.code == 2
    assert one_line_error(ran)
    assert said in ran.stderr


def test_run_of_a_version_that_is_not_released_is_exit_4_and_starts_nothing(
    service_world: ServiceWorld,
) -> None:
    ran = service_world.cli("run", "--version", "9.9.9", "--", "python", "-m", "migrate")
    assert ran.code == 4
    assert one_line_error(ran)
    assert "9.9.9" in ran.stderr
    assert service_world.ecs.list_tasks(cluster=CLUSTER)["taskArns"] == []


def test_service_logs_of_containers_without_awslogs_are_exit_4(service_world: ServiceWorld) -> None:
    ran = service_world.cli("logs", "--service")
    assert ran.code == 4
    assert one_line_error(ran)
    assert "awslogs" in ran.stderr
