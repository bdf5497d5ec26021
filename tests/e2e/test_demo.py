"""`releasectl demo`: the whole pipeline against a sandbox of its own, run the way a user runs it.

The full demo runs once per test session (it takes most of a minute), at 80 columns: the first
pytest worker to need it runs it and records what it saw (the story, the full log, the SVG);
other workers read that record. The run happens in a copy of this checkout made to look like a
user's clone (a tag, an uncommitted edit, an untracked file), whose git state is compared before
and after. How the story is told from the lines of the sandbox and the commands is also
specified line by line, without a run.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from releasectl_sandbox.state import processes_with_marker
from tests.support.cli import start_to_interrupt
from tests.support.git import git
from tests.support.paths import ROOT

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Demo User",
    "GIT_AUTHOR_EMAIL": "user@example.invalid",
    "GIT_COMMITTER_NAME": "Demo User",
    "GIT_COMMITTER_EMAIL": "user@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def user_env() -> dict[str, str]:
    """A user's shell: none of the developer's AWS or releasectl settings (module fixtures run
    before the autouse isolation), git config of its own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "RELEASECTL_", "CODEBUILD_", "GIT_")) and k != "CI"
    }
    return {**env, **GIT_ENV, "GIT_CONFIG_GLOBAL": os.devnull, "COLUMNS": "80"}


def make_checkout(target: Path) -> Path:
    """This checkout's files as they are on disk (new ones not yet added too, so the copy runs
    the code under test), committed and tagged, then made dirty."""
    for name in git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0"):
        source = ROOT / name
        if name and source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "chore: the user's own history")
    git(target, "tag", "-a", "v9.9.9", "-m", "a tag of the user's")
    with (target / "README.md").open("a") as handle:
        handle.write("\nan uncommitted edit\n")
    (target / "notes.txt").write_text("an untracked file\n")
    return target


def snapshot(repo: Path) -> dict[str, str]:
    """Everything of a repository the demo must not change: refs, HEAD, index, config, stash,
    worktrees, status (with ignored files) and the content of every file outside .git."""
    files = hashlib.sha256()
    for path in sorted(p for p in repo.rglob("*") if ".git" not in p.relative_to(repo).parts):
        if path.is_file():
            files.update(str(path.relative_to(repo)).encode() + b"\0" + path.read_bytes())
    return {
        "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "head": git(repo, "symbolic-ref", "HEAD") + git(repo, "rev-parse", "HEAD"),
        "index": hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest(),
        "config": (repo / ".git" / "config").read_text(),
        "stash": git(repo, "stash", "list"),
        "worktrees": git(repo, "worktree", "list", "--porcelain"),
        "status": git(repo, "status", "--porcelain=v1", "--untracked-files=all", "--ignored"),
        "files": files.hexdigest(),
    }


@dataclass
class DemoRun:
    code: int
    stdout: str
    stderr: str
    seconds: float
    before: dict[str, str]
    after: dict[str, str]
    leftovers: list[int]
    svg: str
    log: str  # the full log the demo wrote

    @property
    def story(self) -> list[str]:
        """What the terminal showed (stderr under --json)."""
        return self.stderr.splitlines()

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))


def demo_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "releasectl", *args]


def run_demo_process(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Like subprocess.run, but a demo that overruns gets Ctrl-C (so it stops its sandbox), not SIGKILL."""
    proc = start_to_interrupt(argv, cwd=cwd, env=user_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        raise AssertionError(f"the demo ran over {timeout:g} s:\n{stderr[-4000:]}") from None
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def run_full_demo(base: Path) -> DemoRun:
    checkout = make_checkout(base / "checkout")
    svg = base / "demo.svg"
    before = snapshot(checkout)
    started = time.monotonic()
    proc = run_demo_process(demo_argv("--json", "demo", "--record", str(svg)), checkout, timeout=300)
    seconds = time.monotonic() - started
    try:
        payload = json.loads(proc.stdout)
        marker, log_path = payload["sandbox"]["id"], Path(payload["log"])
    except (ValueError, KeyError, TypeError):
        marker, log_path = None, None
    log = ""
    if log_path is not None and log_path.is_file():
        log = log_path.read_text()
        log_path.unlink()
    return DemoRun(
        code=proc.returncode,
        stdout=proc.stdout,
        stderr=proc.stderr,
        seconds=seconds,
        before=before,
        after=snapshot(checkout),
        leftovers=processes_with_marker(marker) if marker else [],
        svg=svg.read_text() if svg.is_file() else "",
        log=log,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One full run per session, shared by pytest-xdist workers through a locked record."""
    base = tmp_path_factory.getbasetemp()
    # Workers' temp dirs share the session's; without xdist the session's own dir is the one.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    record = shared / "releasectl-demo-run.json"
    with (shared / "releasectl-demo-run.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.is_file():
            run = run_full_demo(tmp_path_factory.mktemp("demo"))
            record.write_text(json.dumps(asdict(run)))
    return DemoRun(**json.loads(record.read_text()))


def scratch_dir(narration: str) -> Path:
    found = re.search(r"^Scratch copy of [^\n]* ->\s+(\S+)/repo$", narration, re.MULTILINE)
    assert found, narration
    return Path(found.group(1))


def act(demo: DemoRun, number: int) -> list[str]:
    """The story's lines of one act, heading first."""
    text = demo.stderr.split(f"── {number}. ", 1)[1]
    return f"── {number}. {text}".split("\n\n", 1)[0].splitlines()


def index_of(lines: list[str], pattern: str) -> int:
    found = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    assert found, f"no line matches {pattern!r} in:\n" + "\n".join(lines)
    return found[0]


# ----------------------------------------------------------------------------- the full run


def test_the_demo_exits_0_with_every_step_as_expected(demo: DemoRun) -> None:
    assert demo.code == 0, demo.stderr[-4000:]
    payload = demo.payload
    assert payload["command"] == "demo"
    assert payload["outcome"] == "succeeded"
    assert [(s["act"], s["command"][1:], s["exit_code"], s["ok"]) for s in payload["steps"]] == [
        (1, ["build"], 0, True),
        (2, ["build"], 0, True),
        (3, ["build"], 1, True),
        (4, ["rollback", "--to", "0.1.0"], 0, True),
        (5, ["--json", "status"], 0, True),
        (5, ["--json", "releases"], 0, True),
    ]


def test_a_feature_then_a_fix_then_a_broken_patch_get_the_versions_the_rules_give(demo: DemoRun) -> None:
    assert [s["version"] for s in demo.payload["steps"][:3]] == ["0.1.0", "0.1.1", "0.1.2"]


def test_the_story_fits_in_under_100_lines_of_80_columns(demo: DemoRun) -> None:
    assert len(demo.story) < 100, demo.stderr
    assert [line for line in demo.story if len(line) > 80] == []


def test_each_heading_names_the_rule_releasectl_version_reported_for_the_commit(demo: DemoRun) -> None:
    headings = [line for line in demo.story if re.match(r"^── [123]\. ", line)]
    assert headings == [
        "── 1. A feature → 0.1.0 (`releasectl version`: first release: 0.1.0)",
        "── 2. A fix → 0.1.1 (`releasectl version`: fix → patch)",
        "── 3. A bad release → 0.1.2 (`releasectl version`: other commits → patch)",
    ]
    rules = [s["rule"] for s in demo.payload["steps"][:3]]
    assert rules == ["first release: 0.1.0", "fix → patch", "other commits → patch"]
    assert "(first release: 0.1.0), attempt 1" in demo.stderr  # what the release in the build applied


def test_each_build_phase_is_one_line_with_its_duration(demo: DemoRun) -> None:
    phases = [
        m.groups()
        for line in demo.story
        if (m := re.match(r"^  (INSTALL|PRE_BUILD|BUILD) +(SUCCEEDED|FAILED) +\d+\.\d s(?:   (.*))?$", line))
    ]
    assert [(phase, status) for phase, status, _ in phases] == [
        *[("INSTALL", "SUCCEEDED"), ("PRE_BUILD", "SUCCEEDED"), ("BUILD", "SUCCEEDED")] * 2,
        ("INSTALL", "SUCCEEDED"),
        ("PRE_BUILD", "SUCCEEDED"),
        ("BUILD", "FAILED"),
    ]
    tests = [summary for phase, _, summary in phases if phase == "PRE_BUILD"]
    assert all(summary and summary.startswith("60 passed in ") for summary in tests), tests
    assert "collected 60 items" not in demo.stderr  # the test run's own output is in the full log


def test_the_sandbox_and_the_commands_are_told_in_the_order_things_happened(demo: DemoRun) -> None:
    for number, version in ((1, "0.1.0"), (2, "0.1.1"), (3, "0.1.2")):
        lines = act(demo, number)
        releasing = index_of(lines, rf"^    releasing \w+ as {re.escape(version)} ")
        deployment = index_of(lines, r"^  sandbox: ECS deployment \S+ started")
        verdict = index_of(lines, r"^    release: (succeeded|rolled_back)")
        built = index_of(lines, r"^  build: (succeeded|failed)")
        assert releasing < deployment < verdict < built, lines
    bad = act(demo, 3)
    assert index_of(bad, r"FAILED \(circuit breaker\)") < index_of(bad, r"^    release: rolled_back")


def test_the_full_log_holds_every_line_of_the_builds_the_sandbox_and_the_commands(demo: DemoRun) -> None:
    assert re.search(r"^Full log: /\S+\.log \(--verbose shows it here\)$", demo.stderr, re.MULTILINE)
    assert any(line.startswith("Full log: ") for line in demo.story[-3:])  # named again at the end
    log = demo.log
    assert log.count("Running on the releasectl sandbox") == 3
    assert log.count("collected 60 items") == 3
    # Each once: the line `releasectl build` prints again as it follows the build's log is dropped.
    assert log.count("Running command releasectl release --env-file release.env") == 3
    assert re.search(r"sandbox: ECS task [0-9a-f]{32} of hello-world runs on 127\.0\.0\.1", log)
    assert "RELEASE_VERSION=0.1.1" in log and "Deployments" not in demo.stderr


def test_the_closing_table_lists_each_version_with_its_rule_and_outcome(demo: DemoRun) -> None:
    table = demo.stderr.split("── Summary: versions and outcomes\n", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("  ") for line in table.splitlines()]
    cells = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    assert cells == [
        ["act", "version", "how", "exit", "outcome", "ALB then"],
        ["1", "0.1.0", "first release: 0.1.0", "0", "succeeded", "0.1.0"],
        ["2", "0.1.1", "fix → patch", "0", "succeeded", "0.1.1"],
        ["3", "0.1.2", "other commits → patch", "1", "rolled_back", "0.1.1"],
        ["4", "0.1.0", "rollback --to 0.1.0", "0", "succeeded", "0.1.0"],
    ]


def test_the_alb_answers_each_good_release_and_the_first_version_after_the_rollback(demo: DemoRun) -> None:
    for number, version in ((1, "0.1.0"), (2, "0.1.1")):
        assert f"✓ the sandbox ALB answered {version} to all 4 requests" in "\n".join(act(demo, number))
    rollback = "\n".join(act(demo, 4))
    assert "rollback: succeeded" in rollback
    assert "✓ the sandbox ALB answered 0.1.0 to all 4 requests" in rollback
    assert "pinned to 0.1.0's digest" in rollback


def test_the_broken_release_is_reported_rolled_back_while_the_alb_keeps_the_previous_version(
    demo: DemoRun,
) -> None:
    act3 = demo.payload["steps"][2]
    assert any(c.startswith("ALB answered 0.1.1 throughout") for c in act3["checks"])
    assert "release reported rolled_back" in act3["checks"]
    assert act3["outcome"] == "rolled_back"
    story = "\n".join(act(demo, 3))
    assert re.search(r"^    release: rolled_back — 0\.1\.2 claimed", story, re.MULTILINE)
    assert "FAILED (circuit breaker)" in story
    assert "failed its health checks: GET /healthz answered 500" in story
    assert "build: failed" in story


def test_status_and_the_ledger_are_checked_through_the_cli(demo: DemoRun) -> None:
    story = "\n".join(act(demo, 5))
    assert "✓ `releasectl status`: version 0.1.0, rollout COMPLETED" in story
    assert "✓ `releasectl releases`: 0.1.0 succeeded, 0.1.1 succeeded, 0.1.2 rolled_back" in story


def test_the_demo_says_it_runs_locally_against_the_sandbox(demo: DemoRun) -> None:
    assert "locally, against the releasectl sandbox" in demo.stderr
    assert "sandbox: AWS endpoint (moto" in demo.stderr
    assert "via the sandbox ALB" in demo.stderr


def test_under_json_stdout_holds_only_the_one_result_object(demo: DemoRun) -> None:
    assert demo.stdout.lstrip().startswith("{")
    assert demo.payload["leftover_processes"] == []
    assert "── 1." not in demo.stdout


def test_record_saves_the_story_as_svg(demo: DemoRun) -> None:
    assert demo.svg.lstrip().startswith("<svg")
    for text in (
        "releasectl&#160;demo",
        "rolled_back",
        "0.1.1",
        "Summary:&#160;versions&#160;and&#160;outcomes",
    ):
        assert text in demo.svg


def test_no_process_the_demo_started_remains_after_it_succeeds(demo: DemoRun) -> None:
    assert demo.payload["sandbox"]["id"]
    assert demo.leftovers == []
    assert not scratch_dir(demo.stderr).exists()


def test_the_users_repository_is_untouched(demo: DemoRun) -> None:
    assert demo.after == demo.before
    assert "Scratch copy of 'checkout' (" in demo.stderr


# ----------------------------------------------------------------------------- failure and interrupt


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return make_checkout(tmp_path / "checkout")


def test_a_step_that_misbehaves_fails_the_demo_naming_it_and_leaves_nothing_running(checkout: Path) -> None:
    # The unit tests the builds run fail, so the first build fails where the demo expects success.
    with (checkout / "tests" / "core" / "test_outcome.py").open("a") as handle:
        handle.write("\n\ndef test_broken_on_purpose() -> None:\n    assert False\n")
    proc = run_demo_process(demo_argv("--json", "demo"), checkout, timeout=180)
    assert proc.returncode == 1, proc.stderr[-4000:]
    payload = json.loads(proc.stdout)
    assert payload["outcome"] == "failed"
    assert payload["message"].startswith("act 1 (")
    assert "`releasectl build` exited 1, expected 0" in payload["message"]
    assert "✗ unexpected: act 1" in proc.stderr
    assert processes_with_marker(payload["sandbox"]["id"]) == []
    assert payload["leftover_processes"] == []
    assert not scratch_dir(proc.stderr).exists()
    Path(payload["log"]).unlink()


def _read_until(stream: Any, pattern: str, lines: list[str], timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if found := re.search(pattern, line):
            return found
    raise AssertionError(f"no line matching {pattern!r}; output so far:\n{''.join(lines)[-4000:]}")


@pytest.fixture
def interrupted_demo(checkout: Path) -> Iterator[subprocess.Popen[str]]:
    proc = start_to_interrupt(
        demo_argv("--json", "demo"),
        cwd=checkout,
        env=user_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)


def test_ctrl_c_stops_the_sandbox_and_every_process_the_demo_started_and_exits_130(
    interrupted_demo: subprocess.Popen[str],
) -> None:
    proc = interrupted_demo
    assert proc.stderr is not None and proc.stdout is not None
    lines: list[str] = []
    marker = _read_until(proc.stderr, r"✓ sandbox ([0-9a-f]{32}) is up", lines, 60).group(1)
    _read_until(proc.stderr, r"^  INSTALL +SUCCEEDED", lines, 60)  # a build is running now
    running = processes_with_marker(marker)
    assert len(running) >= 3  # two tasks and the build, at least

    proc.send_signal(signal.SIGINT)
    stdout, rest = proc.communicate(timeout=60)

    assert proc.returncode == 130, "".join(lines) + rest
    payload = json.loads(stdout)
    Path(payload["log"]).unlink()
    assert payload["outcome"] == "interrupted"
    assert "✗ interrupted" in rest
    assert processes_with_marker(marker) == []
    assert not scratch_dir("".join(lines)).exists()


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
