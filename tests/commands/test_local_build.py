"""`releasectl build --local`: the buildspec of a commit, in a clean checkout, with CodeBuild's variables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from releasectl.commands.context import Context, RecordingReporter
from releasectl.commands.local_build import local_build
from releasectl.core.clock import FakeClock
from releasectl.core.config import Config
from releasectl.core.errors import EnvironmentProblem, ExitCode, Interrupted, UsageError
from releasectl.core.result import Outcome
from tests.localbuild.test_buildspec_runner import running
from tests.support.cli import run_cli
from tests.support.git import GitRepo

PASSING = """\
version: 0.2
env:
  exported-variables: [RELEASE_VERSION, IMAGE_URI, IMAGE_DIGEST]
phases:
  install:
    on-failure: ABORT
    commands:
      - echo "installing in $PWD"
  pre_build:
    on-failure: ABORT
    commands:
      - echo "testing"
  build:
    on-failure: ABORT
    commands:
      - touch built-by-the-build.txt
      - RELEASE_VERSION=1.4.0
      - IMAGE_DIGEST=sha256:$(printf '%064d' 7)
      - IMAGE_URI="123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-world@$IMAGE_DIGEST"
"""

FAILING_PRE_BUILD = """\
version: 0.2
phases:
  install:
    commands: [echo install ran]
  pre_build:
    on-failure: ABORT
    commands:
      - echo "tests failing" && exit 1
  build:
    commands: [echo build ran]
"""

SHOW_ENV = """\
version: 0.2
phases:
  build:
    commands:
      - echo "id=$CODEBUILD_BUILD_ID"
      - echo "resolved=$CODEBUILD_RESOLVED_SOURCE_VERSION"
      - echo "source=$CODEBUILD_SOURCE_VERSION"
      - echo "initiator=$CODEBUILD_INITIATOR"
      - echo "arn=$CODEBUILD_BUILD_ARN"
      - echo "number=$CODEBUILD_BUILD_NUMBER"
      - echo "start=$CODEBUILD_START_TIME"
      - echo "region=$AWS_REGION/$AWS_DEFAULT_REGION"
      - echo "srcdir=$CODEBUILD_SRC_DIR"
      - echo "pwd=$PWD"
      - echo "tmpdir=$TMPDIR"
      - echo "tmpfile=$(mktemp)"
      - echo "head=$(git rev-parse HEAD)"
      - echo "branch=$(git rev-parse --abbrev-ref HEAD)"
      - echo "describe=$(git describe --tags --abbrev=0)"
      - echo "commits=$(git rev-list --count HEAD)"
"""


def commit_buildspec(repo: GitRepo, text: str, message: str = "ci: buildspec") -> str:
    (repo.path / "buildspec.yml").write_text(text)
    repo.git("add", "buildspec.yml")
    repo.git("commit", "-q", "-m", message)
    return repo.head()


def context(repo: GitRepo, **config: object) -> Context:
    return Context(
        config=Config(**{"region": "eu-west-1", **config}),  # type: ignore[arg-type]
        cwd=repo.path,
        reporter=RecordingReporter(),
        clock=FakeClock(),
    )


def output(ctx: Context) -> list[str]:
    reporter = ctx.reporter
    assert isinstance(reporter, RecordingReporter)
    return [line for line in reporter.texts("log") if not line.startswith("[Container]")]


def values(ctx: Context) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output(ctx) if "=" in line)


def repo_state(repo: GitRepo) -> tuple[str, str, str, str, list[str]]:
    return (
        repo.git("status", "--porcelain", "--ignored"),
        repo.git("show-ref"),
        repo.git("worktree", "list", "--porcelain"),
        repo.head(),
        sorted(p.name for p in repo.path.iterdir()),
    )


def test_local_build_of_a_passing_buildspec_succeeds_with_exit_0(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, PASSING)
    ctx = context(git_repo)
    result = local_build(ctx, ref=None)
    assert (result.outcome, result.exit_code) == (Outcome.SUCCEEDED, ExitCode.OK)


def test_local_build_runs_the_phases_in_order_and_streams_their_output(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, PASSING)
    ctx = context(git_repo)
    local_build(ctx, ref=None)
    reporter = ctx.reporter
    assert isinstance(reporter, RecordingReporter)
    entered = [
        line.rsplit(" ", 1)[-1] for line in reporter.texts("log") if line.startswith("[Container] Entering")
    ]
    assert entered == ["INSTALL", "PRE_BUILD", "BUILD"]
    assert output(ctx)[1] == "testing"


def test_local_build_result_lists_each_phase_with_its_status(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, PASSING)
    result = local_build(context(git_repo), ref=None)
    assert [(p["type"], p["status"]) for p in result.extra["phases"]] == [
        ("INSTALL", "SUCCEEDED"),
        ("PRE_BUILD", "SUCCEEDED"),
        ("BUILD", "SUCCEEDED"),
    ]


def test_local_build_reports_the_exported_release_variables(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, PASSING)
    result = local_build(context(git_repo, ecr_repository="hello-world"), ref=None)
    digest = "sha256:" + "0" * 63 + "7"
    assert result.version == "1.4.0"
    assert result.image is not None
    assert (result.image.digest, result.image.uri) == (
        digest,
        f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-world@{digest}",
    )
    assert result.extra["exported_variables"]["RELEASE_VERSION"] == "1.4.0"


def test_local_build_with_a_failing_phase_exits_1_naming_the_phase(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, FAILING_PRE_BUILD)
    ctx = context(git_repo)
    result = local_build(ctx, ref=None)
    assert (result.outcome, result.exit_code) == (Outcome.FAILED, ExitCode.FAILED)
    assert "PRE_BUILD" in result.message
    assert result.extra["failed_phase"] == "PRE_BUILD"


def test_local_build_stops_at_the_failed_phase_like_codebuild(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, FAILING_PRE_BUILD)
    ctx = context(git_repo)
    result = local_build(ctx, ref=None)
    assert output(ctx) == ["install ran", "tests failing"]
    assert result.extra["skipped_phases"] == ["BUILD"]


def test_local_build_sets_codebuilds_environment_variables(git_repo: GitRepo) -> None:
    sha = commit_buildspec(git_repo, SHOW_ENV)
    ctx = context(git_repo)
    local_build(ctx, ref=None)
    seen = values(ctx)
    assert seen["id"].startswith("local:")
    assert seen["resolved"] == sha
    assert seen["source"] == sha
    assert seen["initiator"] == "releasectl-local"
    assert seen["arn"] == f"arn:aws:codebuild:eu-west-1:000000000000:build/{seen['id']}"
    assert seen["number"].isdigit()
    assert seen["start"].isdigit() and len(seen["start"]) == 13  # Unix time in milliseconds
    assert seen["region"] == "eu-west-1/eu-west-1"


def test_local_build_runs_in_a_clean_checkout_of_the_commit_with_history_and_tags(git_repo: GitRepo) -> None:
    git_repo.commit("feat: first")
    git_repo.tag("v1.0.0")
    sha = commit_buildspec(git_repo, SHOW_ENV)
    ctx = context(git_repo)
    local_build(ctx, ref=None)
    seen = values(ctx)
    assert seen["srcdir"] == seen["pwd"]
    assert Path(seen["srcdir"]) != git_repo.path
    assert seen["head"] == sha
    assert seen["branch"] == "HEAD"  # detached, as in CodeBuild
    assert seen["describe"] == "v1.0.0"
    assert seen["commits"] == git_repo.git("rev-list", "--count", "HEAD")


def test_local_build_source_version_is_the_ref_asked_for(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, SHOW_ENV)
    ctx = context(git_repo)
    local_build(ctx, ref="main")
    assert values(ctx)["source"] == "main"


def test_local_build_of_an_older_ref_builds_that_commit(git_repo: GitRepo) -> None:
    old = commit_buildspec(git_repo, SHOW_ENV)
    git_repo.commit("fix: later")
    ctx = context(git_repo)
    local_build(ctx, ref=old[:10])
    assert values(ctx)["head"] == old


def test_local_build_can_build_a_commit_no_branch_reaches(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, SHOW_ENV)
    git_repo.git("checkout", "-q", "--detach")
    dangling = git_repo.commit("chore: detached work")
    git_repo.git("checkout", "-q", "main")
    ctx = context(git_repo)
    local_build(ctx, ref=dangling)
    assert values(ctx)["head"] == dangling


def test_local_build_removes_its_checkout_afterwards(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, SHOW_ENV)
    ctx = context(git_repo)
    local_build(ctx, ref=None)
    srcdir = Path(values(ctx)["srcdir"])
    assert not srcdir.exists()
    assert not srcdir.parent.exists()


def test_local_build_keeps_its_temporary_files_beside_its_checkout_and_removes_them(
    git_repo: GitRepo,
) -> None:
    commit_buildspec(git_repo, SHOW_ENV)
    ctx = context(git_repo)
    local_build(ctx, ref=None)
    seen = values(ctx)
    assert Path(seen["tmpdir"]).parent == Path(seen["srcdir"]).parent
    assert Path(seen["tmpfile"]).parent == Path(seen["tmpdir"])
    assert not Path(seen["tmpfile"]).exists()


def test_local_build_removes_its_checkout_when_the_build_fails(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, FAILING_PRE_BUILD.replace("echo install ran", 'echo "srcdir=$PWD"'))
    ctx = context(git_repo)
    local_build(ctx, ref=None)
    assert not Path(values(ctx)["srcdir"]).exists()


class InterruptingReporter(RecordingReporter):
    """Plays Ctrl-C when the build phase starts."""

    def log_line(self, line: str) -> None:
        super().log_line(line)
        if line == "[Container] Entering phase BUILD":
            raise KeyboardInterrupt


def test_interrupted_local_build_ends_its_processes_and_removes_its_checkout(git_repo: GitRepo) -> None:
    commit_buildspec(
        git_repo,
        "version: 0.2\nphases:\n  install:\n    commands:\n"
        '      - \'sleep 300 >/dev/null 2>&1 & echo "pid=$!"; echo "srcdir=$PWD"\'\n'
        "  build:\n    commands: [echo never]\n",
    )
    ctx = context(git_repo)
    ctx.reporter = InterruptingReporter()
    with pytest.raises(Interrupted) as caught:
        local_build(ctx, ref=None)
    assert caught.value.exit_code == ExitCode.INTERRUPTED
    seen = values(ctx)
    assert not Path(seen["srcdir"]).exists()
    assert not running(int(seen["pid"]))
    assert "never" not in output(ctx)


def test_local_build_leaves_the_users_tree_and_refs_untouched(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, PASSING)
    (git_repo.path / "notes.txt").write_text("untracked work in progress\n")
    before = repo_state(git_repo)
    local_build(context(git_repo), ref=None)
    assert repo_state(git_repo) == before
    assert not (git_repo.path / "built-by-the-build.txt").exists()


def test_local_build_builds_the_commit_not_uncommitted_changes(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, PASSING)
    (git_repo.path / "buildspec.yml").write_text(FAILING_PRE_BUILD)
    ctx = context(git_repo)
    result = local_build(ctx, ref=None)
    assert result.outcome is Outcome.SUCCEEDED
    reporter = ctx.reporter
    assert isinstance(reporter, RecordingReporter)
    assert any("uncommitted changes are not part of the build" in w for w in reporter.texts("warn"))


def test_local_build_of_an_unknown_ref_is_a_usage_error(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, PASSING)
    with pytest.raises(UsageError, match="no-such-branch") as caught:
        local_build(context(git_repo), ref="no-such-branch")
    assert caught.value.exit_code == ExitCode.USAGE


def test_local_build_outside_a_git_repository_is_an_environment_problem(tmp_path: Path) -> None:
    ctx = Context(config=Config(), cwd=tmp_path, reporter=RecordingReporter(), clock=FakeClock())
    with pytest.raises(EnvironmentProblem, match="not inside a git repository") as caught:
        local_build(ctx, ref=None)
    assert caught.value.exit_code == ExitCode.ENVIRONMENT


def test_local_build_of_a_commit_without_buildspec_is_an_environment_problem(git_repo: GitRepo) -> None:
    git_repo.commit("feat: no buildspec yet")
    with pytest.raises(EnvironmentProblem, match=r"has no buildspec\.yml") as caught:
        local_build(context(git_repo), ref=None)
    assert caught.value.exit_code == ExitCode.ENVIRONMENT


def test_local_build_of_an_invalid_buildspec_is_a_usage_error_naming_the_key(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, "version: 0.2\nphases:\n  build:\n    comands: [echo]\n")
    with pytest.raises(UsageError, match=r"phases\.build\.comands"):
        local_build(context(git_repo), ref=None)


def test_local_build_sets_origin_to_the_real_remote(git_repo: GitRepo) -> None:
    git_repo.git("remote", "add", "origin", "https://github.com/example/hello-world.git")
    commit_buildspec(
        git_repo,
        "version: 0.2\nphases:\n  build:\n    commands: ['echo origin=$(git remote get-url origin)']\n",
    )
    ctx = context(git_repo)
    local_build(ctx, ref=None)
    assert values(ctx)["origin"] == "https://github.com/example/hello-world.git"


def test_build_local_through_the_cli_exits_1_naming_the_failed_phase(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, FAILING_PRE_BUILD)
    result = run_cli("build", "--local", cwd=git_repo.path, env={"RELEASECTL_REGION": "eu-west-1"})
    assert result.code == 1, result.stderr
    assert "PRE_BUILD" in result.stdout
    assert "tests failing" in result.stderr


def test_build_local_through_the_cli_succeeds_with_json_outcome(git_repo: GitRepo) -> None:
    import json

    commit_buildspec(git_repo, PASSING)
    result = run_cli("--json", "build", "--local", cwd=git_repo.path, env={"PATH": os.environ["PATH"]})
    assert result.code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["command"], answer["outcome"], answer["version"]) == ("build", "succeeded", "1.4.0")
