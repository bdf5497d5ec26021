"""`releasectl demo`: the whole pipeline against a sandbox of its own, run the way a user runs it.

The full demo runs once per test session (it takes most of a minute): the first pytest worker to
need it runs it and records what it saw; other workers read that record. The run happens in a
copy of this checkout made to look like a user's clone (a tag, an uncommitted edit, an
untracked file), whose git state is compared before and after.
"""

from __future__ import annotations

import fcntl
import hashlib
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

from releasectl.sandbox.state import processes_with_marker
from tests.conftest import ROOT

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
    return {**env, **GIT_ENV, "GIT_CONFIG_GLOBAL": os.devnull}


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**user_env(), "GIT_OPTIONAL_LOCKS": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


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

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))


def demo_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "releasectl", *args]


def run_demo_process(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Like subprocess.run, but a demo that overruns gets Ctrl-C (so it stops its sandbox), not SIGKILL."""
    proc = subprocess.Popen(
        argv, cwd=cwd, env=user_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
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
        marker = json.loads(proc.stdout)["sandbox"]["id"]
    except (ValueError, KeyError, TypeError):
        marker = None
    return DemoRun(
        code=proc.returncode,
        stdout=proc.stdout,
        stderr=proc.stderr,
        seconds=seconds,
        before=before,
        after=snapshot(checkout),
        leftovers=processes_with_marker(marker) if marker else [],
        svg=svg.read_text() if svg.is_file() else "",
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
    found = re.search(r"-> (\S+)/repo \(a new git repo\)", narration)
    assert found, narration
    return Path(found.group(1))


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
        (5, ["status"], 0, True),
        (5, ["releases"], 0, True),
    ]


def test_a_feature_then_a_fix_then_a_broken_patch_get_the_versions_the_rules_give(demo: DemoRun) -> None:
    assert [s["version"] for s in demo.payload["steps"][:3]] == ["0.1.0", "0.1.1", "0.1.2"]


def test_each_build_runs_the_buildspec_in_the_sandbox_codebuild_with_live_logs(demo: DemoRun) -> None:
    narration = demo.stderr
    assert narration.count("$ releasectl build") == 3
    assert narration.count("Running on the releasectl sandbox") == 3
    assert narration.count("Running command releasectl release --env-file release.env") == 3
    assert narration.count("60 passed") == 3  # the UNIT_TESTS subset ran in pre_build
    for version in ("0.1.0", "0.1.1", "0.1.2"):
        assert f"RELEASE_VERSION={version}" in narration


def test_the_alb_answers_each_good_release_and_the_first_version_after_the_rollback(demo: DemoRun) -> None:
    narration = demo.stderr
    for version in ("0.1.0", "0.1.1"):
        assert f"-> 200 Hello from CI/CD! (version {version})" in narration
    assert "rollback: succeeded" in narration
    after_rollback = narration.split("$ releasectl rollback --to 0.1.0", 1)[1]
    assert "-> 200 Hello from CI/CD! (version 0.1.0)" in after_rollback
    assert "pinned to 0.1.0's digest" in after_rollback


def test_the_broken_release_is_reported_rolled_back_while_the_alb_keeps_the_previous_version(
    demo: DemoRun,
) -> None:
    act3 = demo.payload["steps"][2]
    assert any(c.startswith("ALB answered 0.1.1 throughout") for c in act3["checks"])
    assert "release reported rolled_back" in act3["checks"]
    narration = demo.stderr
    assert re.search(r"^  release: rolled_back — 0\.1\.2 claimed", narration, re.MULTILINE)
    assert "FAILED (circuit breaker)" in narration
    assert "build: failed" in narration


def test_status_and_releases_tables_are_shown(demo: DemoRun) -> None:
    narration = demo.stderr.split("── 5.", 1)[1]
    assert re.search(r"^  version\s+0\.1\.0 ", narration, re.MULTILINE)
    assert "Deployments" in narration
    assert re.search(r"0\.1\.2 .*rolled_back", narration)
    assert "Releases in hello-world" in narration


def test_the_demo_says_it_runs_locally_against_the_sandbox(demo: DemoRun) -> None:
    assert "locally, against the releasectl sandbox" in demo.stderr
    assert "sandbox: AWS endpoint (moto" in demo.stderr
    assert "via the sandbox ALB" in demo.stderr


def test_under_json_stdout_holds_only_the_one_result_object(demo: DemoRun) -> None:
    assert demo.stdout.lstrip().startswith("{")
    assert demo.payload["leftover_processes"] == []
    assert "── 1." not in demo.stdout


def test_record_saves_the_whole_session_as_svg(demo: DemoRun) -> None:
    assert demo.svg.lstrip().startswith("<svg")
    for text in (
        "releasectl&#160;demo",
        "rolled_back",
        "RELEASE_VERSION=0.1.1",
        "Releases&#160;in&#160;hello-world",
    ):
        assert text in demo.svg


def test_no_process_the_demo_started_remains_after_it_succeeds(demo: DemoRun) -> None:
    assert demo.payload["sandbox"]["id"]
    assert demo.leftovers == []
    assert not scratch_dir(demo.stderr).exists()


def test_the_users_repository_is_untouched(demo: DemoRun) -> None:
    assert demo.after == demo.before
    assert "tracked files of the checkout 'checkout' ->" in demo.stderr


# ----------------------------------------------------------------------------- failure and interrupt


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return make_checkout(tmp_path / "checkout")


def test_a_step_that_misbehaves_fails_the_demo_naming_it_and_leaves_nothing_running(checkout: Path) -> None:
    # The unit tests the builds run fail, so the first build fails where the demo expects success.
    with (checkout / "tests" / "test_outcome.py").open("a") as handle:
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
    proc = subprocess.Popen(
        demo_argv("--json", "demo"),
        cwd=checkout,
        env=user_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
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
    _read_until(proc.stderr, r"Entering phase PRE_BUILD", lines, 60)  # a build is running now
    running = processes_with_marker(marker)
    assert len(running) >= 3  # two tasks and the build, at least

    proc.send_signal(signal.SIGINT)
    stdout, rest = proc.communicate(timeout=60)

    assert proc.returncode == 130, "".join(lines) + rest
    assert json.loads(stdout)["outcome"] == "interrupted"
    assert "✗ interrupted" in rest
    assert processes_with_marker(marker) == []
    assert not scratch_dir("".join(lines)).exists()


# ----------------------------------------------------------------------------- finding the project


def test_an_installed_releasectl_uses_the_checkout_around_the_working_directory(
    checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from releasectl import demo_scratch

    installed = tmp_path / "site-packages" / "releasectl" / "demo_scratch.py"
    monkeypatch.setattr(demo_scratch, "__file__", str(installed))
    assert demo_scratch.find_project(checkout / "service") == checkout


def test_outside_a_checkout_of_the_project_the_demo_is_an_environment_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from releasectl import demo_scratch
    from releasectl.errors import EnvironmentProblem

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

    from releasectl.demo import _require_test_tools
    from releasectl.errors import EnvironmentProblem

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "pytest" else real(name))

    with pytest.raises(EnvironmentProblem, match="pytest") as caught:
        _require_test_tools()
    assert caught.value.hint and "make demo" in caught.value.hint
