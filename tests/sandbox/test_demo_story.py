"""The demo's narration, line by line without a run, and how the demo finds the project."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from tests.support.git import git

# ----------------------------------------------------------------------------- finding the project


def test_an_installed_releasectl_uses_the_checkout_around_the_working_directory(
    checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from releasectl_sandbox.demo import scratch as demo_scratch

    installed = tmp_path / "site-packages" / "releasectl" / "demo_scratch.py"
    monkeypatch.setattr(demo_scratch, "__file__", str(installed))
    assert demo_scratch.find_project(checkout / "service") == checkout


def test_outside_a_checkout_of_the_project_the_demo_is_an_environment_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from releasectl.core.errors import EnvironmentProblem
    from releasectl_sandbox.demo import scratch as demo_scratch

    monkeypatch.setattr(demo_scratch, "__file__", str(tmp_path / "site-packages" / "releasectl" / "x.py"))
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    with pytest.raises(EnvironmentProblem, match="source checkout") as raised:
        demo_scratch.find_project(other)
    assert raised.value.hint and "make demo" in raised.value.hint


def test_the_demo_refuses_to_start_without_the_test_tools_its_builds_need(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from releasectl.core.errors import EnvironmentProblem
    from releasectl_sandbox.demo.story import _require_test_tools

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "pytest" else real(name))

    with pytest.raises(EnvironmentProblem, match="pytest") as caught:
        _require_test_tools()
    assert caught.value.hint and "make demo" in caught.value.hint


# ----------------------------------------------------------------------------- the story, line by line

BUILD = "hello-world-release:0760b5ff-83c3-4ce9-b696-9dcba3f0b4bb"
TASK_RUNS = "sandbox: ECS task 1e3b4632165d47478425a0231588c9cb of hello-world runs on 127.0.0.1:1 (pid 2)"
BUILD_LOG = [
    "[Container] 2026/12/06 21:03:41.695908 Entering phase PRE_BUILD",
    "collected 60 items",
    "============================== 60 passed in 3.46s ==============================",
    "[Container] 2026/12/06 21:03:45.745143 Phase complete: PRE_BUILD State: SUCCEEDED",
    "[Container] 2026/12/06 21:03:45.745214 Entering phase BUILD",
    "releasing 7a9396cf8f8f as 0.1.0 (first release: 0.1.0), attempt 1",
    "tagged 7a9396cf8f8f as v0.1.0",
    "[Container] 2026/12/06 21:03:48.643337 Phase complete: BUILD State: FAILED",
]


def told(*, verbose: bool = False, width: int = 80) -> tuple[Any, Any, io.StringIO, io.StringIO]:
    from releasectl_sandbox.demo.console import Feed, Narrator

    terminal, log = io.StringIO(), io.StringIO()
    narrator = Narrator(terminal, record=False, verbose=verbose, width=width, log=log)
    return narrator, Feed(narrator), terminal, log


def test_each_build_phase_is_told_as_one_line_with_its_duration_and_its_test_summary() -> None:
    _narrator, feed, terminal, _log = told()
    for line in BUILD_LOG:
        feed.build_log(BUILD, line)
    assert terminal.getvalue().splitlines() == [
        "  PRE_BUILD  SUCCEEDED   4.0 s   60 passed in 3.46s",
        "    releasing 7a9396cf8f8f as 0.1.0 (first release: 0.1.0), attempt 1",
        "  BUILD      FAILED      2.9 s",
    ]


def test_a_build_log_line_the_log_follower_prints_again_is_told_once() -> None:
    _narrator, feed, terminal, log = told()
    feed.build_log(BUILD, "release: succeeded — 0.1.0 claimed")
    on_line = feed.command(lambda line: True)
    on_line("release: succeeded — 0.1.0 claimed")  # `releasectl build` following the log
    on_line("build: succeeded — build x succeeded")  # the command's own line
    assert terminal.getvalue().splitlines() == [
        "    release: succeeded — 0.1.0 claimed",
        "  build: succeeded — build x succeeded",
    ]
    assert log.getvalue().count("release: succeeded — 0.1.0 claimed") == 1


def test_verbose_shows_every_line_of_the_full_log_as_well_as_the_summaries() -> None:
    _narrator, feed, terminal, log = told(verbose=True)
    for line in BUILD_LOG:
        feed.build_log(BUILD, line)
    feed.sandbox(
        "sandbox: ECS task 1e3b4632165d47478425a0231588c9cb of hello-world runs on 127.0.0.1:1 (pid 2)"
    )
    shown = terminal.getvalue().splitlines()
    assert shown[:5] == [*BUILD_LOG[:4], "  PRE_BUILD  SUCCEEDED   4.0 s   60 passed in 3.46s"]
    assert "collected 60 items" in shown and any("runs on 127.0.0.1" in line for line in shown)
    logged = [line.split("  ", 1)[1] for line in log.getvalue().splitlines()]
    assert logged == [line for line in shown]  # the terminal shows the full log, in the same order


def test_without_verbose_routine_lines_reach_only_the_full_log() -> None:
    _narrator, feed, terminal, log = told()
    feed.build_log(BUILD, "collected 60 items")
    feed.sandbox(
        "sandbox: ECS task 1e3b4632165d47478425a0231588c9cb of hello-world runs on 127.0.0.1:1 (pid 2)"
    )
    feed.command(lambda line: False)("  logs:    releasectl logs x --follow")
    assert terminal.getvalue() == ""
    assert len(log.getvalue().splitlines()) == 3


def test_story_lines_fit_the_width_and_a_verdict_may_take_a_second_line() -> None:
    _narrator, feed, terminal, _log = told(width=60)
    feed.sandbox(
        "sandbox: ECS task 8ca0ec133c9f4a70a363e95a046f79ec of hello-world stopped (exit 0: Task failed"
        " container health checks (sandbox: GET /healthz answered 500))"
    )
    feed.command(lambda line: True)(
        "build: failed — build hello-world-release:b2460bee-4371-47d9-b320-f1f3eb422e07 ended FAILED in "
        "phase BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: releasectl release"
    )
    shown = terminal.getvalue().splitlines()
    assert all(len(line) <= 60 for line in shown), shown
    assert shown[0] == "  sandbox: ECS task 8ca0ec13 failed its health checks: GET…"
    assert shown[1].startswith("  build: failed — build hello-world-release:b2460bee ended")
    assert len(shown) == 3 and shown[2].endswith("…")


def test_the_width_is_columns_else_80_when_not_a_terminal() -> None:
    from releasectl_sandbox.demo.console import narration_width

    assert narration_width(io.StringIO(), {"COLUMNS": "132"}) == 132
    assert narration_width(io.StringIO(), {}) == 80


def test_of_a_canary_the_story_keeps_the_traffic_shifts_the_alarm_and_the_failure_in_one_line_each() -> None:
    _narrator, feed, terminal, log = told()
    deployment = "sandbox: ECS deployment ecs-svc/6184519812345678901 of hello-world"
    alarm = "sandbox: CloudWatch alarm hello-world-staging-target-5xx"
    lines = [
        f"{deployment}: PRE_SCALE_UP, production 100/0, test 100/0",
        f"{deployment}: SCALE_UP, production 100/0, test 100/0",
        f"{deployment}: POST_SCALE_UP, production 100/0, test 100/0",
        f"{deployment}: TEST_TRAFFIC_SHIFT, production 100/0, test 0/100",
        f"{deployment}: POST_TEST_TRAFFIC_SHIFT, production 100/0, test 0/100",
        f"{deployment}: PRODUCTION_TRAFFIC_SHIFT, production 90/10, test 0/100",
        f"{alarm} is ALARM: sandbox: target 5xx rate above 5% in 2 of the last 3 periods: "
        "10.0% (4 of 40), 11.6% (5 of 43)",
        f"{deployment} FAILED (alarm hello-world-staging-target-5xx)",
        f"{alarm} is OK: sandbox: target 5xx rate at or below 5% again",
    ]
    for line in lines:
        feed.sandbox(line)
    assert terminal.getvalue().splitlines() == [
        "  sandbox: ECS: TEST_TRAFFIC_SHIFT, production 100/0, test 0/100",
        "  sandbox: ECS: PRODUCTION_TRAFFIC_SHIFT, production 90/10, test 0/100",
        "  sandbox: alarm hello-world-staging-target-5xx ALARM: 5xx over 5% in 2 of 3 min",
        "  sandbox: ECS deployment ecs-svc/61845198 FAILED (alarm)",
    ]
    assert len(log.getvalue().splitlines()) == len(lines)  # the full log keeps every line as it came
