"""`build` and `logs` handlers over a scripted CodeBuild/CloudWatch Logs, on fake time."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasectl.commands import build as build_cmd
from releasectl.core.errors import EnvironmentProblem, ExitCode, Interrupted, UsageError
from releasectl.core.result import Outcome
from tests.support.git import GitRepo
from tests.support.scripted_codebuild import BUILD_ID, InterruptingClock, ScriptedBuild, scripted_context


def test_starts_the_build_on_the_full_commit_sha(repo: GitRepo) -> None:
    first = repo.head()
    repo.commit("fix: second")
    world = ScriptedBuild().finish(4.0, "SUCCEEDED")
    ctx, _ = scripted_context(world, cwd=repo.path)

    result = build_cmd.build(ctx, ref=first[:7], follow=True, stop_on_interrupt=False)

    starts = [params for _, op, params in world.calls if op == "StartBuild"]
    assert len(starts) == 1
    sent = {k: v for k, v in starts[0].items() if k != "idempotencyToken"}
    assert sent == {"projectName": "hello-world-release", "sourceVersion": first}
    assert starts[0]["idempotencyToken"]
    assert result.extra["commit"] == first


@pytest.mark.parametrize(
    ("status", "outcome", "code"),
    [
        ("SUCCEEDED", Outcome.SUCCEEDED, ExitCode.OK),
        ("FAILED", Outcome.FAILED, ExitCode.FAILED),
        ("FAULT", Outcome.FAILED, ExitCode.FAILED),
        ("STOPPED", Outcome.FAILED, ExitCode.FAILED),
        ("TIMED_OUT", Outcome.FAILED, ExitCode.FAILED),
    ],
)
def test_each_terminal_build_status_maps_to_its_exit_code(
    repo: GitRepo, status: str, outcome: Outcome, code: ExitCode
) -> None:
    world = ScriptedBuild().add_lines(0.0, 3, every=1.0).finish(5.0, status)
    ctx, _ = scripted_context(world, cwd=repo.path)

    result = build_cmd.build(ctx, ref=None, follow=True, stop_on_interrupt=False)

    assert result.outcome is outcome
    assert result.exit_code == code
    assert result.extra["status"] == status


def test_a_failed_build_names_the_failed_phase_and_its_message(repo: GitRepo) -> None:
    world = ScriptedBuild(
        failed_phase=("BUILD", "COMMAND_EXECUTION_ERROR", "Error while executing command: make test")
    )
    world.finish(5.0, "FAILED")
    ctx, _ = scripted_context(world, cwd=repo.path)

    result = build_cmd.build(ctx, ref=None, follow=True, stop_on_interrupt=False)

    assert result.message == (
        f"build {BUILD_ID} ended FAILED in phase BUILD: "
        "COMMAND_EXECUTION_ERROR: Error while executing command: make test"
    )
    assert {
        "type": "BUILD",
        "status": "FAILED",
        "duration_s": 12,
        "message": result.message.split(": ", 1)[1],
    } in (result.extra["phases"])


def test_log_lines_go_to_the_reporter_and_never_to_stdout(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    world = ScriptedBuild().add_lines(0.0, 4, every=0.5).finish(4.0, "SUCCEEDED")
    ctx, reporter = scripted_context(world, cwd=repo.path, json_output=True)

    result = build_cmd.build(ctx, ref=None, follow=True, stop_on_interrupt=False)

    assert reporter.texts("log") == ["line 1", "line 2", "line 3", "line 4"]
    assert result.extra["log_lines"] == 4
    assert capsys.readouterr().out == ""


def test_exported_variables_are_printed_at_the_end_and_returned(repo: GitRepo) -> None:
    world = ScriptedBuild(exported={"RELEASE_VERSION": "1.4.0", "IMAGE_DIGEST": "sha256:" + "a" * 64})
    world.add_lines(0.0, 1, every=0.0).finish(3.0, "SUCCEEDED")
    ctx, reporter = scripted_context(world, cwd=repo.path)

    result = build_cmd.build(ctx, ref=None, follow=True, stop_on_interrupt=False)

    assert result.extra["exported_variables"] == {
        "RELEASE_VERSION": "1.4.0",
        "IMAGE_DIGEST": "sha256:" + "a" * 64,
    }
    info = reporter.texts("info")
    assert info[-3:] == [
        "exported variables:",
        "  RELEASE_VERSION=1.4.0",
        "  IMAGE_DIGEST=sha256:" + "a" * 64,
    ]


def test_interrupt_with_stop_on_interrupt_stops_the_build(repo: GitRepo) -> None:
    world = ScriptedBuild(clock=InterruptingClock(at=5.0)).add_lines(0.0, 3, every=1.0)
    ctx, _ = scripted_context(world, cwd=repo.path)

    with pytest.raises(Interrupted) as caught:
        build_cmd.build(ctx, ref=None, follow=True, stop_on_interrupt=True)

    assert [params for _, op, params in world.calls if op == "StopBuild"] == [{"id": BUILD_ID}]
    assert caught.value.exit_code == ExitCode.INTERRUPTED
    assert BUILD_ID in caught.value.message


def test_interrupt_without_stop_on_interrupt_leaves_the_build_running_and_says_so(repo: GitRepo) -> None:
    world = ScriptedBuild(clock=InterruptingClock(at=5.0))
    ctx, _ = scripted_context(world, cwd=repo.path)

    with pytest.raises(Interrupted) as caught:
        build_cmd.build(ctx, ref=None, follow=True, stop_on_interrupt=False)

    assert world.count("StopBuild") == 0
    assert caught.value.message == f"interrupted; build {BUILD_ID} is still running"


def test_interrupt_while_starting_says_a_build_may_have_started(repo: GitRepo) -> None:
    world = ScriptedBuild(interrupt_start=True)
    ctx, _ = scripted_context(world, cwd=repo.path)

    with pytest.raises(Interrupted) as caught:
        build_cmd.build(ctx, ref=None, follow=True, stop_on_interrupt=True)

    assert "one may have started" in caught.value.message
    assert caught.value.hint and "list-builds-for-project" in caught.value.hint


def test_build_timeout_gives_timed_out_while_the_build_keeps_running(repo: GitRepo) -> None:
    world = ScriptedBuild()
    ctx, _ = scripted_context(world, cwd=repo.path, build_timeout=60)

    result = build_cmd.build(ctx, ref=None, follow=True, stop_on_interrupt=False)

    assert result.outcome is Outcome.TIMED_OUT
    assert result.exit_code == ExitCode.TIMED_OUT
    assert "still IN_PROGRESS" in result.message
    assert world.clock.now() == 60.0
    assert world.count("StopBuild") == 0


def test_no_follow_waits_for_the_outcome_without_reading_logs(repo: GitRepo) -> None:
    world = ScriptedBuild().add_lines(0.0, 2, every=0.0).finish(7.0, "FAILED")
    ctx, reporter = scripted_context(world, cwd=repo.path)

    result = build_cmd.build(ctx, ref=None, follow=False, stop_on_interrupt=False)

    assert result.outcome is Outcome.FAILED
    assert world.count("GetLogEvents") == 0
    assert reporter.texts("log") == []


def test_warns_when_the_commit_is_on_no_remote_branch(repo: GitRepo) -> None:
    world = ScriptedBuild().finish(1.0, "SUCCEEDED")
    ctx, reporter = scripted_context(world, cwd=repo.path)

    build_cmd.build(ctx, ref=None, follow=True, stop_on_interrupt=False)

    assert any("on no remote branch" in text for text in reporter.texts("warn"))


def test_does_not_warn_when_the_commit_was_pushed(repo: GitRepo) -> None:
    remote = GitRepo(repo.path.parent / "remote.git")
    remote.path.mkdir()
    remote.git("init", "-q", "--bare")
    repo.git("remote", "add", "origin", str(remote.path))
    repo.git("push", "-q", "origin", "main")
    world = ScriptedBuild().finish(1.0, "SUCCEEDED")
    ctx, reporter = scripted_context(world, cwd=repo.path)

    build_cmd.build(ctx, ref=None, follow=True, stop_on_interrupt=False)

    assert reporter.texts("warn") == []


def test_an_unknown_ref_is_a_usage_error_and_starts_nothing(repo: GitRepo) -> None:
    world = ScriptedBuild()
    ctx, _ = scripted_context(world, cwd=repo.path)

    with pytest.raises(UsageError):
        build_cmd.build(ctx, ref="no-such-branch", follow=True, stop_on_interrupt=False)

    assert world.calls == []


def test_outside_a_git_repository_is_an_environment_problem(tmp_path: Path) -> None:
    world = ScriptedBuild()
    ctx, _ = scripted_context(world, cwd=tmp_path)

    with pytest.raises(EnvironmentProblem):
        build_cmd.build(ctx, ref=None, follow=True, stop_on_interrupt=False)

    assert world.calls == []


def test_an_unset_codebuild_project_is_a_usage_error(repo: GitRepo) -> None:
    world = ScriptedBuild()
    ctx, _ = scripted_context(world, cwd=repo.path, codebuild_project=None)

    with pytest.raises(UsageError, match="codebuild_project"):
        build_cmd.build(ctx, ref=None, follow=True, stop_on_interrupt=False)


# ----------------------------------------------------------------------------- logs


def test_logs_prints_every_line_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    world = ScriptedBuild(page_size=2).add_lines(0.0, 5, every=0.0).finish(0.0, "SUCCEEDED")
    ctx, _ = scripted_context(world)

    code = build_cmd.logs(ctx, build_id=BUILD_ID, follow=False)

    assert code == 0
    assert capsys.readouterr().out.splitlines() == [f"line {i}" for i in range(1, 6)]


def test_logs_follow_returns_1_when_the_build_failed(capsys: pytest.CaptureFixture[str]) -> None:
    world = ScriptedBuild().add_lines(0.0, 3, every=2.0).finish(8.0, "FAILED")
    ctx, _ = scripted_context(world)

    code = build_cmd.logs(ctx, build_id=BUILD_ID, follow=True)

    assert code == 1
    assert capsys.readouterr().out.splitlines() == ["line 1", "line 2", "line 3"]


def test_logs_of_an_unknown_build_is_an_environment_problem() -> None:
    world = ScriptedBuild()
    ctx, _ = scripted_context(world)

    with pytest.raises(EnvironmentProblem, match="not found"):
        build_cmd.logs(ctx, build_id="hello-world-release:00000000-0000-0000-0000-000000000000", follow=False)


def test_logs_json_prints_one_object_with_the_lines(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    world = ScriptedBuild().add_lines(0.0, 2, every=0.0).finish(0.0, "SUCCEEDED")
    ctx, _ = scripted_context(world, json_output=True)

    build_cmd.logs(ctx, build_id=BUILD_ID, follow=False)

    data = json.loads(capsys.readouterr().out)
    assert data["lines"] == ["line 1", "line 2"]
    assert data["status"] == "SUCCEEDED"
