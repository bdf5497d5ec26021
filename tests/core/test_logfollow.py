"""The log follower against a scripted CodeBuild + CloudWatch Logs, on fake time."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from releasectl.adapters.aws.codebuild import CodeBuildReader, parse_build
from releasectl.adapters.aws.logs import CloudWatchLogReader
from releasectl.core import log_follow as logfollow
from releasectl.core.log_follow import FollowPolicy, LogLocation
from tests.support.scripted_codebuild import GROUP, STREAM, FakeCodeBuild, FakeLogs, ScriptedBuild


def run(world: ScriptedBuild, **options: Any) -> tuple[logfollow.FollowResult, list[tuple[float, str]]]:
    shown: list[tuple[float, str]] = []
    result = logfollow.follow(
        parse_build(world.build_record()),
        builds=CodeBuildReader(FakeCodeBuild(world)),
        logs=CloudWatchLogReader(FakeLogs(world)),
        clock=world.clock,
        emit=lambda line: shown.append((world.clock.now(), line)),
        **options,
    )
    return result, shown


def texts(shown: list[tuple[float, str]]) -> list[str]:
    return [text for _, text in shown]


def test_waits_while_the_stream_does_not_exist_then_shows_its_lines() -> None:
    world = ScriptedBuild(stream_created_at=20.0).add_lines(21.0, 3, every=1.0).finish(30.0, "SUCCEEDED")

    result, shown = run(world)

    assert texts(shown) == ["line 1", "line 2", "line 3"]
    assert result.build.status == "SUCCEEDED"
    assert not result.timed_out
    missing_reads = [t for t in world.times("GetLogEvents") if t < 20.0]
    assert len(missing_reads) >= 15, "kept polling (politely) while the stream was absent"


def test_empty_pages_with_a_fresh_token_do_not_end_the_stream() -> None:
    world = ScriptedBuild().add_lines(0.0, 5, every=0.0).finish(2.0, "SUCCEEDED")
    world.add_lines(2.5, 3, every=0.1)  # flushed after the build was already over
    # Every read from the 3rd on answers empty with a new token, four times in a row.
    world.empty_page_calls = {3, 4, 5, 6}

    _, shown = run(world)

    assert texts(shown) == [f"line {i}" for i in range(1, 9)]


def test_the_token_coming_back_unchanged_means_no_new_data_not_an_error() -> None:
    world = (
        ScriptedBuild().add_lines(0.0, 2, every=0.0).add_lines(10.0, 1, every=0.0).finish(12.0, "SUCCEEDED")
    )

    result, shown = run(world)

    assert texts(shown) == ["line 1", "line 2", "line 3"]
    tokens_sent = [params.get("nextToken") for _, op, params in world.calls if op == "GetLogEvents"]
    assert tokens_sent.count("f/2") >= 5, "the repeated end token was sent back while idle"
    assert result.build.status == "SUCCEEDED"


def test_stops_only_after_the_build_is_terminal_and_two_reads_find_nothing() -> None:
    world = ScriptedBuild().add_lines(0.0, 2, every=0.0).finish(6.0, "SUCCEEDED")
    policy = FollowPolicy(status_interval=3.0)

    result, shown = run(world, policy=policy)

    terminal_seen = next(t for t, op, _ in world.calls if op == "BatchGetBuilds" and t >= 6.0)
    reads_after = [t for t in world.times("GetLogEvents") if t >= terminal_seen]
    assert len(reads_after) == 2
    assert result.build.terminal
    assert texts(shown) == ["line 1", "line 2"]


def test_lines_flushed_after_the_build_ended_are_still_shown() -> None:
    world = ScriptedBuild().add_lines(0.0, 1, every=0.0).finish(3.0, "FAILED")
    world.lines.append((3.5, "late line"))  # between the two closing reads

    _, shown = run(world, policy=FollowPolicy(status_interval=3.0))

    assert texts(shown) == ["line 1", "late line"]


def test_throttled_log_reads_back_off_and_lose_no_line() -> None:
    world = ScriptedBuild().add_lines(0.0, 30, every=0.5).finish(20.0, "SUCCEEDED")
    world.throttle_log_calls = {3, 4, 5}

    result, shown = run(world)

    assert texts(shown) == [f"line {i}" for i in range(1, 31)]
    assert result.throttled == 3
    times = world.times("GetLogEvents")
    gaps = [b - a for a, b in pairwise(times[2:7])]
    assert gaps[:3] == [2.0, 4.0, 8.0], "backoff doubles while throttled"
    assert times[6] - times[5] == 1.0, "and returns to the normal cadence once a read succeeds"


def test_throttled_status_polls_back_off_without_failing() -> None:
    world = ScriptedBuild().add_lines(0.0, 1, every=0.0).finish(5.0, "SUCCEEDED")
    world.throttle_status_calls = {1, 2}

    result, _ = run(world)

    assert result.build.status == "SUCCEEDED"
    assert result.throttled == 2


def test_every_line_is_shown_exactly_once_and_in_order_across_many_pages() -> None:
    world = ScriptedBuild(page_size=7).add_lines(0.0, 250, every=0.05).finish(14.0, "SUCCEEDED")

    _, shown = run(world)

    assert texts(shown) == [f"line {i}" for i in range(1, 251)]


def test_reads_at_most_once_a_second_and_shows_lines_within_two_seconds() -> None:
    world = ScriptedBuild(stream_created_at=3.0).add_lines(3.0, 120, every=0.37).finish(50.0, "SUCCEEDED")
    readable_at = {text: at for at, text in world.lines}

    result, shown = run(world)

    reads = world.times("GetLogEvents")
    assert (len(reads) - 1) / (reads[-1] - reads[0]) <= 1.0
    assert all(b - a >= 1.0 for a, b in pairwise(reads))
    delays = [t - readable_at[text] for t, text in shown]
    assert len(delays) == 120
    assert max(delays) <= 2.0
    assert result.log_reads == len(reads)


def test_build_status_is_polled_every_few_seconds_not_on_every_log_read() -> None:
    world = ScriptedBuild().add_lines(0.0, 60, every=1.0).finish(60.0, "SUCCEEDED")

    run(world, policy=FollowPolicy(status_interval=3.0))

    polls = world.times("BatchGetBuilds")
    assert all(b - a >= 3.0 for a, b in pairwise(polls))
    assert world.count("BatchGetBuilds") <= world.count("GetLogEvents") / 2.5


def test_a_pause_in_the_output_brings_the_status_poll_forward_so_the_end_is_seen_at_once() -> None:
    world = ScriptedBuild().add_lines(0.0, 6, every=0.5).finish(3.0, "SUCCEEDED")

    result, shown = run(world, policy=FollowPolicy(status_interval=30.0))

    assert texts(shown) == [f"line {i}" for i in range(1, 7)]
    assert result.build.terminal
    first_terminal_poll = min(t for t in world.times("BatchGetBuilds") if t >= 3.0)
    assert first_terminal_poll <= 4.0, "polled when a read found nothing new after lines"
    assert world.clock.now() <= 6.0


def test_a_silent_build_is_polled_once_early_then_at_the_status_interval() -> None:
    world = ScriptedBuild().add_lines(0.0, 2, every=0.0).finish(40.0, "SUCCEEDED")

    run(world, policy=FollowPolicy(status_interval=10.0))

    polls = [t for t in world.times("BatchGetBuilds") if t < 40.0]
    assert polls[0] <= 2.0, "the pause after the first lines"
    assert all(b - a >= 10.0 for a, b in pairwise(polls)), "then the usual cadence: silence is no news"


def test_a_terminal_build_that_never_wrote_a_stream_finishes_without_hanging() -> None:
    world = ScriptedBuild(stream_created_at=None).finish(0.0, "SUCCEEDED")

    result, shown = run(world)

    assert shown == []
    assert not result.stream_seen
    assert world.count("GetLogEvents") == 2
    assert world.clock.now() <= 2.0


def test_gives_up_at_the_deadline_while_the_build_still_runs() -> None:
    world = ScriptedBuild().add_lines(0.0, 5, every=1.0)

    result, shown = run(world, deadline=30.0)

    assert result.timed_out
    assert result.build.status == "IN_PROGRESS"
    assert world.clock.now() == 30.0
    assert len(shown) == 5


def test_follows_the_group_and_stream_codebuild_reports_over_the_default_guess() -> None:
    world = ScriptedBuild(group="/custom/builds", stream=f"prefix/{STREAM}", stream_created_at=2.0)
    world.add_lines(2.0, 2, every=0.0)
    world.finish(8.0, "SUCCEEDED")

    _, shown = run(world)

    assert texts(shown) == ["line 1", "line 2"]
    groups = {params["logGroupName"] for _, op, params in world.calls if op == "GetLogEvents"}
    assert groups == {GROUP, "/custom/builds"}


def test_does_not_read_logs_when_cloudwatch_logs_are_disabled_for_the_project() -> None:
    world = ScriptedBuild(logs_enabled=False).finish(4.0, "SUCCEEDED")

    result, _ = run(world)

    assert world.count("GetLogEvents") == 0
    assert result.build.status == "SUCCEEDED"


def test_without_reading_logs_it_only_polls_the_build_until_it_ends() -> None:
    world = ScriptedBuild().add_lines(0.0, 3, every=0.0).finish(10.0, "FAULT")

    result, shown = run(world, read_logs=False)

    assert shown == []
    assert world.count("GetLogEvents") == 0
    assert result.build.status == "FAULT"


def test_read_all_prints_every_page_and_stops_when_the_token_repeats() -> None:
    world = ScriptedBuild(page_size=4).add_lines(0.0, 10, every=0.0)
    shown: list[str] = []

    count = logfollow.read_all(
        CloudWatchLogReader(FakeLogs(world)), LogLocation(GROUP, STREAM), emit=shown.append
    )

    assert count == 10
    assert shown == [f"line {i}" for i in range(1, 11)]
    assert world.count("GetLogEvents") == 4  # three pages with data, one that repeats the token
    assert world.clock.sleeps == []


def test_read_all_reports_a_missing_stream_as_none() -> None:
    world = ScriptedBuild(stream_created_at=None)

    count = logfollow.read_all(CloudWatchLogReader(FakeLogs(world)), LogLocation(GROUP, STREAM), emit=print)

    assert count is None


def test_decide_waits_until_the_next_thing_is_due() -> None:
    world = ScriptedBuild()
    policy = FollowPolicy(log_interval=1.0, status_interval=3.0)
    state = logfollow.initial_state(
        parse_build(world.build_record()), now=0.0, deadline=100.0, read_logs=True, policy=policy
    )
    state = logfollow.on_missing(state, started=0.0, policy=policy)

    assert logfollow.decide(state, 0.25, policy) == logfollow.Wait(0.75)
    assert logfollow.decide(state, 1.0, policy) == logfollow.ReadLogs()
    assert logfollow.decide(state, 3.0, policy) == logfollow.PollStatus()
    assert logfollow.decide(state, 100.0, policy) == logfollow.Done(timed_out=True)
