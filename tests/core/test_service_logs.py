"""The service-log follower, the pure part (releasectl/core/service_logs.py): each line once, in
time order across the tasks' streams, and `--since` read as a duration."""

from __future__ import annotations

from typing import Any

import pytest

from releasectl.core.errors import UsageError
from releasectl.core.service_logs import Interleaver, Location, lines_of, parse_since

HERE = Location("/ecs/web", "app/")


def event(n: int, stamp: int, task: str = "a" * 32, message: str | None = None) -> dict[str, Any]:
    return {
        "eventId": f"e{n}",
        "timestamp": stamp,
        "logStreamName": f"app/app/{task}",
        "message": message or f"line {n}\n",
    }


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400)])
def test_since_takes_a_whole_number_of_seconds_minutes_hours_or_days(text: str, seconds: int) -> None:
    assert parse_since(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "1.5h", "-5m", "0s", "31d", "5w"])
def test_since_that_is_no_duration_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_since(text)


def test_lines_name_their_task_and_container_and_leave_out_other_streams() -> None:
    events = [event(1, 1000), {**event(2, 1001), "logStreamName": "other/x/y"}]
    (line,) = lines_of(events, HERE)
    assert (line.task, line.container, line.message) == ("a" * 32, "app", "line 1")
    assert line.text(containers=False) == f"1970-01-01T00:00:01.000Z {'a' * 8}  line 1"


def test_a_line_read_again_by_an_overlapping_read_is_shown_once() -> None:
    follower = Interleaver(settle_ms=0)
    follower.add(lines_of([event(1, 1000), event(2, 2000)], HERE))
    first = follower.ready(flush=True)
    assert follower.start(since_ms=0) < 2000  # the next read overlaps the lines shown
    follower.add(lines_of([event(1, 1000), event(2, 2000), event(3, 3000)], HERE))
    second = follower.ready(flush=True)
    assert [line.message for line in first + second] == ["line 1", "line 2", "line 3"]


def test_lines_of_several_tasks_are_shown_in_time_order_even_when_one_stream_arrives_later() -> None:
    follower = Interleaver(settle_ms=5_000)
    follower.add(lines_of([event(1, 1_000, "a" * 32), event(3, 3_000, "a" * 32)], HERE))
    assert follower.ready(flush=False) == []  # nothing is 5 s older than the newest line yet
    follower.add(lines_of([event(2, 2_000, "b" * 32), event(4, 9_000, "b" * 32)], HERE))
    shown = follower.ready(flush=False)
    assert [line.message for line in shown] == ["line 1", "line 2", "line 3"]
    assert [line.message for line in follower.ready(flush=True)] == ["line 4"]


def test_a_quiet_read_shows_everything_held() -> None:
    follower = Interleaver(settle_ms=60_000)
    follower.add(lines_of([event(1, 1_000), event(2, 2_000)], HERE))
    assert [line.message for line in follower.ready(flush=True)] == ["line 1", "line 2"]


def test_ids_older_than_the_next_read_are_forgotten() -> None:
    follower = Interleaver(settle_ms=0, overlap_ms=1_000)
    follower.add(lines_of([event(n, n * 1_000) for n in range(1, 50)], HERE))
    follower.ready(flush=True)
    assert len(follower.shown) <= 2
