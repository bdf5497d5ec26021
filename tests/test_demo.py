"""`releasectl demo`: a real, checked walk-through on a scratch repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from releasectl.config import load_config
from releasectl.context import Context, RecordingReporter
from releasectl.demo import Step, run_demo, walkthrough
from tests.conftest import GitRepo, run_cli

FIRST_RELEASE = walkthrough()[0]


def context(tmp_path: Path, *, json_output: bool = False) -> Context:
    return Context(
        config=load_config(env={}, cwd=tmp_path),
        cwd=tmp_path,
        json_output=json_output,
        reporter=RecordingReporter(),
    )


def test_demo_walks_through_every_rule_and_exits_0() -> None:
    result = run_cli("demo", timeout=120)
    assert result.code == 0, result.stdout + result.stderr
    steps = walkthrough()
    assert f"{len(steps)}/{len(steps)} steps behaved" in result.stdout
    for step in steps:
        assert step.title in result.stdout
    assert "✗" not in result.stdout


def test_demo_exits_1_when_a_step_does_not_behave(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wrong = FIRST_RELEASE._replace(expect={"next": "9.9.9"})
    assert run_demo(context(tmp_path), record=None, steps=[wrong]) == 1
    out = capsys.readouterr().out
    assert "next = '0.1.0', expected '9.9.9'" in out
    assert "0/1 steps behaved" in out


def test_demo_never_touches_the_callers_repository(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    head = git_repo.commit("chore: mine")
    assert run_demo(context(git_repo.path), record=None, steps=[FIRST_RELEASE, walkthrough()[1]]) == 0
    assert git_repo.head() == head
    assert git_repo.git("tag") == ""


def test_demo_is_not_swayed_by_ci_or_releasectl_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # CI=true makes an untagged clone fail closed, and a foreign tag prefix would hide the tags.
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("RELEASECTL_TAG_PREFIX", "elsewhere-")
    assert run_demo(context(tmp_path), record=None, steps=[FIRST_RELEASE]) == 0


def test_demo_record_saves_the_session_as_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "demo.svg"
    assert run_demo(context(tmp_path), record=target, steps=[FIRST_RELEASE]) == 0
    svg = target.read_text()
    assert svg.lstrip().startswith("<svg")
    assert "steps" in svg and "behaved" in svg


def test_demo_json_prints_one_object_with_each_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    step = Step("shallow", (), ("version", "--offline"), 4, {"exit_code": 4}, in_shallow_clone=True)
    assert run_demo(context(tmp_path, json_output=True), record=None, steps=[FIRST_RELEASE, step]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["outcome"] == "succeeded"
    assert [s["ok"] for s in payload["steps"]] == [True, True]
    assert "shallow" in captured.err  # the narration goes to stderr under --json
