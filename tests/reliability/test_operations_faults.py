"""`run` and `logs --service` between `releasectl` and the sandbox, through the fault proxy at a 20% fault
rate with answers lost after the sandbox applied the request: exactly one task per `run` (its
client token), and every log line once, in order.

One sandbox for the module (the `sandboxed` fixture, tests/support/sandbox_world.py); every check
reads the sandbox directly, never through the proxy.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from releasectl.commands.context import Context, RecordingReporter
from releasectl.commands.service_logs import service_logs
from releasectl.core.config import load_config
from tests.support.aws_state import client
from tests.support.cli import run_cli
from tests.support.faultproxy import FaultPlan, FaultProxy, Request
from tests.support.flows import result_json
from tests.support.sandbox_world import CLUSTER, SEEDS, World, faults

pytestmark = pytest.mark.e2e

LINES = 40
EXPECTED = [f"numbered line {n} of {LINES}" for n in range(LINES)]
# Lines arrive over about two seconds, so a follower reads the stream as it grows.
SCRIPT = (
    "import time\n"
    f"for n in range({LINES}):\n"
    f"    print(f'numbered line {{n}} of {LINES}', flush=True)\n"
    "    time.sleep(0.05)\n"
)


def one_off_tasks(endpoint: str) -> set[str]:
    ecs = client(endpoint, "ecs")
    return {
        arn
        for status in ("RUNNING", "STOPPED")
        for arn in ecs.list_tasks(cluster=CLUSTER, startedBy="releasectl-run", desiredStatus=status)[
            "taskArns"
        ]
    }


def numbered(text: str) -> list[str]:
    """The task's numbered lines among the output (a service-log line is `time task  message`)."""
    messages = [line.split("  ", 1)[-1] for line in text.splitlines()]
    return [message for message in messages if message.startswith("numbered line")]


@pytest.mark.parametrize("seed", SEEDS)
def test_run_through_faults_starts_exactly_one_task_and_shows_every_line_once(
    sandboxed: World, seed: int, fast_retries: None
) -> None:
    before = one_off_tasks(sandboxed.endpoint)
    with FaultProxy(sandboxed.endpoint, faults(seed)) as proxy:
        ran = sandboxed.run("run", "--", "python", "-c", SCRIPT, api_endpoint=proxy.url)
    started = one_off_tasks(sandboxed.endpoint) - before
    assert len(started) == 1, f"{dict(proxy.injected)}: {started}"
    assert ran.code == 0, f"{dict(proxy.injected)}: {ran.stderr}"
    assert result_json(ran)["task_arn"] in started
    assert numbered(ran.stderr) == EXPECTED
    assert sum(proxy.injected.values()) > 0


def test_a_run_task_answer_lost_after_ecs_started_the_task_starts_no_second_one(
    sandboxed: World, fast_retries: None
) -> None:
    sent: list[str] = []

    def lose_the_first_answer(request: Request) -> str:
        sent.append(request.operation)
        return "reset_after" if sent.count("RunTask") == 1 else ""

    plan = FaultPlan(match=lambda request: request.operation == "RunTask", forced=lose_the_first_answer)
    before = one_off_tasks(sandboxed.endpoint)
    with FaultProxy(sandboxed.endpoint, plan) as proxy:
        ran = sandboxed.run("run", "--", "python", "-c", "print('once')", api_endpoint=proxy.url)
    assert ran.code == 0, ran.stderr
    assert [seen.fault for seen in proxy.log if seen.operation == "RunTask"] == ["reset_after", ""]
    assert len(one_off_tasks(sandboxed.endpoint) - before) == 1


def printed_task(sandboxed: World, *, wait: bool) -> str:
    """A one-off task printing the numbered lines, started straight against the sandbox."""
    args = ("run", *(() if wait else ("--no-wait",)), "--", "python", "-c", SCRIPT)
    ran = sandboxed.run(*args)
    assert ran.code == 0, ran.stderr
    return str(result_json(ran)["task_id"])


@pytest.mark.parametrize("seed", SEEDS)
def test_service_logs_through_faults_show_every_line_once_in_order(
    sandboxed: World, seed: int, fast_retries: None
) -> None:
    task_id = printed_task(sandboxed, wait=True)
    with FaultProxy(sandboxed.endpoint, faults(seed)) as proxy:
        ran = run_cli(
            "--json",
            "logs",
            "--service",
            "--task",
            task_id,
            "--since",
            "10m",
            cwd=sandboxed.project,
            env=sandboxed.env(proxy.url),
        )
    assert ran.code == 0, f"{dict(proxy.injected)}: {ran.stderr}"
    lines = json.loads(ran.stdout)["lines"]
    assert [line["message"] for line in lines] == EXPECTED
    assert {line["task_id"] for line in lines} == {task_id}


# One seed in the suite (each run follows for twelve seconds of real time); the others soak.
@pytest.mark.parametrize("seed", [*SEEDS[:1], *(pytest.param(s, marks=pytest.mark.slow) for s in SEEDS[1:])])
def test_following_service_logs_through_faults_shows_each_line_once_as_it_comes(
    sandboxed: World, seed: int, fast_retries: None
) -> None:
    task_id = printed_task(sandboxed, wait=False)
    with FaultProxy(sandboxed.endpoint, faults(seed)) as proxy:
        config = load_config(
            flags={"endpoint_url": proxy.url}, env=sandboxed.env(proxy.url), cwd=sandboxed.project
        )
        ctx = Context(config=config, cwd=sandboxed.project, reporter=RecordingReporter())
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = service_logs(ctx, follow=True, since="10m", task=task_id, until=ctx.clock.now() + 12)
    assert code == 0
    assert numbered(out.getvalue()) == EXPECTED, dict(proxy.injected)
    calls: Any = [seen for seen in proxy.log if seen.operation == "FilterLogEvents"]
    # About one read a second over twelve seconds, retries included.
    assert 5 <= len(calls) <= 30, len(calls)
