"""`releasectl logs --service` against scripted ECS and CloudWatch Logs on a fake clock
(releasectl/commands/service_logs.py): where the streams are, at most one call a second, each line once
and in time order while two tasks' lines arrive out of step, throttling backed off."""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from releasectl.adapters.aws.clients import AwsClients
from releasectl.commands.service_logs import service_logs
from releasectl.core.clock import FakeClock
from releasectl.core.errors import EnvironmentProblem
from tests.support.scripted_ecs import (
    REPO_URI,
    ScriptedEcs,
    client_error,
    digest,
    make_context,
    task_definition_body,
)

A, B = "a" * 32, "b" * 32
START = 1_700_000_000_000  # ms: the fake wall clock's "now" is START + clock seconds


@dataclass
class GrowingGroup:
    """FilterLogEvents over /ecs/web: each task's lines become readable `lag` seconds after
    their timestamp, as streams shipped in batches do; 3 lines a page."""

    clock: FakeClock
    lines: list[tuple[str, float, str, float]] = field(default_factory=list)  # (task, at, text, lag)
    calls: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    throttle: set[int] = field(default_factory=set)  # call numbers that are throttled

    def filter_log_events(self, **params: Any) -> dict[str, Any]:
        self.calls.append((self.clock.now(), params))
        if len(self.calls) in self.throttle:
            raise client_error("FilterLogEvents", "ThrottlingException", "Rate exceeded")
        assert params["logGroupName"] == "/ecs/web"
        now = self.clock.now()
        visible = [
            {
                "eventId": f"{task}-{at}",
                "logStreamName": f"app/app/{task}",
                "timestamp": START + int(at * 1000),
                "message": text + "\n",
            }
            for task, at, text, lag in self.lines
            if at + lag <= now
            and START + int(at * 1000) >= params.get("startTime", 0)
            and (not params.get("logStreamNames") or f"app/app/{task}" in params["logStreamNames"])
        ]
        visible.sort(key=lambda e: e["timestamp"])
        start = int(params.get("nextToken") or 0)
        page = visible[start : start + 3]
        answer: dict[str, Any] = {"events": page}
        if start + 3 < len(visible):
            answer["nextToken"] = str(start + 3)
        return answer


def world(lines: list[tuple[str, float, str, float]], **group: Any) -> tuple[Any, GrowingGroup]:
    ecs = ScriptedEcs()
    body = copy.deepcopy(task_definition_body(image=f"{REPO_URI}@{digest(1)}"))
    body["containerDefinitions"][0]["logConfiguration"] = {
        "logDriver": "awslogs",
        "options": {"awslogs-group": "/ecs/web", "awslogs-stream-prefix": "app"},
    }
    ecs.start_service(ecs.add_revision(body))
    ctx = make_context()
    logs = GrowingGroup(ctx.clock, lines, **group)
    clients = AwsClients(region="us-east-1", profile=None, endpoint_url=None)
    clients.set_client("ecs", ecs)
    clients.set_client("logs", logs)
    ctx._aws = clients
    return ctx, logs


def follow(ctx: Any, seconds: float, **options: Any) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        service_logs(
            ctx,
            follow=seconds > 0,
            since=options.pop("since", "10m"),
            task=options.pop("task", None),
            wall=lambda: START / 1000 + ctx.clock.now(),
            until=ctx.clock.now() + seconds if seconds else None,
        )
    return [line.split("  ", 1)[1] for line in out.getvalue().splitlines()]


def test_lines_of_two_tasks_arriving_out_of_step_are_each_shown_once_in_time_order() -> None:
    # A's lines are readable at once, B's three seconds late: B's must still print in time order.
    lines = [(A, t, f"a at {t}", 0.0) for t in (1, 2, 3, 4, 5, 6)] + [
        (B, t + 0.5, f"b at {t + 0.5}", 3.0) for t in (1, 2, 3, 4)
    ]
    ctx, _ = world(lines)
    shown = follow(ctx, 20)
    expected = [text for _, at, text, _ in sorted(lines, key=lambda line: line[1])]
    assert shown == expected


def test_following_makes_at_most_one_call_a_second() -> None:
    lines = [(A, float(t), f"line {t}", 0.0) for t in range(40)]
    ctx, group = world(lines)
    follow(ctx, 45)
    times = [at for at, _ in group.calls]
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(times))
    assert len(times) >= 30  # pages of three lines, read back to back at one a second


def test_throttling_backs_off_and_loses_no_line() -> None:
    lines = [(A, float(t), f"line {t}", 0.0) for t in range(10)]
    ctx, group = world(lines, throttle={2, 3, 4})
    shown = follow(ctx, 60)
    assert shown == [f"line {t}" for t in range(10)]
    times = [at for at, _ in group.calls]
    assert times[4] - times[3] >= 4.0  # backed off: 2 s, then 4 s


def test_one_task_reads_its_streams_only() -> None:
    lines = [(A, 1.0, "from a", 0.0), (B, 2.0, "from b", 0.0)]
    ctx, group = world(lines)
    ctx.clock.sleep(5)
    assert follow(ctx, 0, task=f"arn:aws:ecs:us-east-1:123456789012:task/web/{B}") == ["from b"]
    assert group.calls[0][1]["logStreamNames"] == [f"app/app/{B}"]


def test_since_is_where_reading_starts() -> None:
    ctx, group = world([(A, 1.0, "old", 0.0)])
    ctx.clock.sleep(7200)
    assert follow(ctx, 0, since="1h") == []
    assert group.calls[0][1]["startTime"] == START + (7200 - 3600) * 1000


def test_a_log_group_that_does_not_exist_is_exit_4_when_not_following() -> None:
    ctx, group = world([])

    def missing(**params: Any) -> Any:
        raise client_error(
            "FilterLogEvents", "ResourceNotFoundException", "The specified log group does not exist."
        )

    group.filter_log_events = missing  # type: ignore[method-assign]
    with pytest.raises(EnvironmentProblem, match="/ecs/web does not exist"):
        follow(ctx, 0)
