"""The git adapter and version planning against real git repositories (no AWS)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from releasectl.adapters.git import Git, GitTagLedger, UnknownCommit, head_ref
from releasectl.commands.context import Context, RecordingReporter
from releasectl.commands.version import plan_version
from releasectl.core.config import load_config
from releasectl.core.errors import Conflict, EnvironmentProblem, ExitCode, OperationFailed
from tests.support.git import GitRepo


@pytest.fixture(autouse=True)
def not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    # A CI runner's own CI=true would otherwise change the no-tags answer these tests pin down.
    monkeypatch.delenv("CI", raising=False)


def context_for(repo: GitRepo, **file_config: str) -> Context:
    lines = "".join(f'{key} = "{value}"\n' for key, value in file_config.items())
    (repo.path / "pyproject.toml").write_text("[tool.releasectl]\n" + lines)
    config = load_config(env={}, cwd=repo.path)
    return Context(config=config, cwd=repo.path, reporter=RecordingReporter())


def shallow_clone(repo: GitRepo, target: Path) -> GitRepo:
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(target)],
        check=True,
        capture_output=True,
    )
    return GitRepo(target)


def released_repo(repo: GitRepo) -> GitRepo:
    repo.commit("chore: initial")
    repo.tag("v1.2.3")
    return repo


def commit_on_branch(repo: GitRepo, branch: str, message: str, *, filename: str | None = None) -> str:
    """Commit `message` on a new `branch` off HEAD, then go back to main; returns the commit."""
    repo.git("checkout", "-q", "-b", branch)
    sha = repo.commit(message, filename=filename)
    repo.git("checkout", "-q", "main")
    return sha


# ----------------------------------------------------------------------------- adapter


def test_probe_names_head_and_sees_a_full_clone(git_repo: GitRepo) -> None:
    head = git_repo.commit("chore: initial")
    probe = Git(git_repo.path).probe()
    assert (probe.head, probe.shallow) == (head, False)


def test_probe_sees_a_shallow_clone(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit("chore: one")
    git_repo.commit("fix: two")
    clone = shallow_clone(git_repo, tmp_path / "shallow")
    assert Git(clone.path).probe().shallow


def test_probe_outside_a_repository_is_an_environment_problem(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="not inside a git repository") as info:
        Git(tmp_path).probe()
    assert info.value.exit_code == ExitCode.ENVIRONMENT


def test_probe_of_a_repository_without_commits_is_an_environment_problem(git_repo: GitRepo) -> None:
    with pytest.raises(EnvironmentProblem, match="no commits yet"):
        Git(git_repo.path).probe()


def test_tags_resolve_annotated_and_lightweight_tags_to_commits(git_repo: GitRepo) -> None:
    first = git_repo.commit("chore: one")
    second = git_repo.commit("fix: two")
    git_repo.tag("v1.0.0", first)
    git_repo.tag("v1.0.1", annotated=False)
    found = {tag.name: tag.commit for tag in Git(git_repo.path).tags("v")}
    assert found == {"v1.0.0": first, "v1.0.1": second}


def test_git_tag_ledger_keeps_only_release_tags_with_the_configured_prefix(git_repo: GitRepo) -> None:
    head = git_repo.commit("chore: one")
    for name in (
        "v1.2",
        "vnext",
        "v1.2.3+b",
        "v01.2.3",
        "v1.3.0-beta.1",
        "release-2.0.0",
        "v1.3.0-rc.1",
        "v1.2.3",
    ):
        git_repo.tag(name)
    ledger = GitTagLedger(Git(git_repo.path), "v")
    assert sorted(r.version for r in ledger.releases()) == ["1.2.3", "1.3.0-rc.1"]
    assert {r.commit for r in ledger.releases()} == {head}
    assert [r.version for r in GitTagLedger(Git(git_repo.path), "release-").releases()] == ["2.0.0"]


def test_log_returns_the_range_newest_first_with_full_messages_and_its_boundary(git_repo: GitRepo) -> None:
    base = git_repo.commit("chore: base")
    git_repo.commit("feat: one\n\nBody line.\n\nRefs #1")
    git_repo.commit("fix: two")
    log = Git(git_repo.path).log(base, git_repo.head())
    assert [c.message.splitlines()[0] for c in log.commits] == ["fix: two", "feat: one"]
    assert log.commits[1].message.rstrip("\n") == "feat: one\n\nBody line.\n\nRefs #1"
    assert base in log.boundary


def test_log_boundary_lacks_a_commit_that_is_not_an_ancestor(git_repo: GitRepo) -> None:
    git_repo.commit("chore: base")
    side = commit_on_branch(git_repo, "side", "feat: side")
    git_repo.commit("fix: main")
    log = Git(git_repo.path).log(side, git_repo.head())
    assert side not in log.boundary
    assert not Git(git_repo.path).is_ancestor(side, git_repo.head())


def test_log_from_an_unknown_commit_raises_unknown_commit(git_repo: GitRepo) -> None:
    git_repo.commit("chore: base")
    with pytest.raises(UnknownCommit):
        Git(git_repo.path).log("0" * 40, git_repo.head())


def test_create_tag_makes_an_annotated_tag_and_refuses_to_move_one(git_repo: GitRepo) -> None:
    head = git_repo.commit("chore: base")
    git = Git(git_repo.path)
    git.create_tag("v0.1.0", head, "release 0.1.0")
    assert git_repo.git("cat-file", "-t", "v0.1.0") == "tag"
    with pytest.raises(Conflict):
        git.create_tag("v0.1.0", head, "again")


def test_push_tag_sends_the_tag_to_origin(git_repo: GitRepo, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git_repo.git("remote", "add", "origin", str(remote))
    head = git_repo.commit("chore: base")
    git = Git(git_repo.path)
    git.create_tag("v0.1.0", head, "release 0.1.0")
    git.push_tag("v0.1.0")
    assert (
        subprocess.run(
            ["git", "-C", str(remote), "rev-parse", "v0.1.0^{commit}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        == head
    )


def test_push_tag_failure_is_one_line_with_the_retry_command(git_repo: GitRepo) -> None:
    head = git_repo.commit("chore: base")
    git = Git(git_repo.path)
    git.create_tag("v0.1.0", head, "release 0.1.0")
    with pytest.raises(OperationFailed) as info:
        git.push_tag("v0.1.0")  # no origin configured
    assert "git push origin v0.1.0" in info.value.one_line()


def test_head_ref_honours_codebuild_resolved_source_version() -> None:
    sha = "a" * 40
    assert head_ref({"CODEBUILD_RESOLVED_SOURCE_VERSION": sha}) == sha
    assert head_ref({}) == "HEAD"
    # Non-git sources put other things there (an S3 version id): not a commit, so HEAD.
    assert head_ref({"CODEBUILD_RESOLVED_SOURCE_VERSION": "arn:aws:s3:::bucket/key"}) == "HEAD"


# ----------------------------------------------------------------------------- planning


def test_planning_costs_three_git_calls_and_no_history_walk(git_repo: GitRepo) -> None:
    released_repo(git_repo)
    git_repo.commit("feat: a")
    plan = plan_version(context_for(git_repo), offline=True, env={})
    assert [call[0] for call in plan.git.calls] == ["rev-parse", "for-each-ref", "log"]
    assert (plan.base.version, plan.decision.commits) == ("1.2.3", 1)  # the walk stopped at the base


def test_plan_reads_the_commits_since_the_nearest_release(git_repo: GitRepo) -> None:
    released_repo(git_repo)
    git_repo.commit("fix: a")
    git_repo.commit("feat: b")
    decision = plan_version(context_for(git_repo), offline=True, env={}).decision
    assert (decision.current, decision.next, decision.bump, decision.commits) == (
        "1.2.3",
        "1.3.0",
        "minor",
        2,
    )


def test_head_already_tagged_is_that_version_and_nothing_to_do(git_repo: GitRepo) -> None:
    released_repo(git_repo)
    decision = plan_version(context_for(git_repo), offline=True, env={}).decision
    assert (decision.current, decision.next, decision.bump, decision.released) == (
        "1.2.3",
        "1.2.3",
        "none",
        True,
    )


def test_highest_of_two_tags_on_the_same_commit_wins(git_repo: GitRepo) -> None:
    git_repo.commit("feat: a")
    git_repo.tag("v1.3.0-rc.2")
    git_repo.tag("v1.3.0")
    git_repo.commit("fix: b")
    decision = plan_version(context_for(git_repo), offline=True, env={}).decision
    assert (decision.current, decision.next) == ("1.3.0", "1.3.1")


def test_pre_release_on_head_is_finalised_without_pre_and_kept_with_it(git_repo: GitRepo) -> None:
    git_repo.commit("feat: a")
    git_repo.tag("v1.3.0-rc.1")
    ctx = context_for(git_repo)
    assert plan_version(ctx, offline=True, env={}).decision.next == "1.3.0"
    again = plan_version(ctx, pre="rc", offline=True, env={}).decision
    assert (again.next, again.bump) == ("1.3.0-rc.1", "none")


def test_merge_commits_count_and_the_merged_branch_commits_decide(git_repo: GitRepo) -> None:
    released_repo(git_repo)
    commit_on_branch(git_repo, "topic", "feat: from the branch", filename="topic.txt")
    git_repo.commit("fix: on main", filename="main.txt")
    git_repo.git("merge", "-q", "--no-ff", "topic", "-m", "Merge pull request #1 from team/topic")
    decision = plan_version(context_for(git_repo), offline=True, env={}).decision
    assert (decision.next, decision.commits) == ("1.3.0", 3)
    assert [r.subject for r in decision.reasons] == ["feat: from the branch"]


def test_merge_commit_alone_is_other(git_repo: GitRepo) -> None:
    released_repo(git_repo)
    git_repo.git("commit", "-q", "--allow-empty", "-m", "Merge pull request #2 from team/empty")
    decision = plan_version(context_for(git_repo), offline=True, env={}).decision
    assert decision.next == "1.2.4"
    assert {r.kind for r in decision.reasons} == {"other"}


def test_no_tags_on_a_full_clone_gives_the_initial_version(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.commit("feat!: everything")
    decision = plan_version(context_for(git_repo), offline=True, env={}).decision
    assert (decision.current, decision.next, decision.bump, decision.commits) == (None, "0.1.0", "initial", 2)


def test_shallow_clone_is_exit_4_with_the_unshallow_command(git_repo: GitRepo, tmp_path: Path) -> None:
    released_repo(git_repo)
    git_repo.commit("fix: a")
    clone = shallow_clone(git_repo, tmp_path / "shallow")
    with pytest.raises(EnvironmentProblem) as info:
        plan_version(context_for(clone), offline=True, env={})
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert "git fetch --unshallow --tags" in info.value.one_line()


def test_no_tags_in_codebuild_offline_is_exit_4_not_a_silent_first_release(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    with pytest.raises(EnvironmentProblem, match="tags were not fetched") as info:
        plan_version(context_for(git_repo), offline=True, env={"CODEBUILD_BUILD_ID": "p:1"})
    assert "git fetch --tags" in info.value.one_line()


def test_no_tags_with_a_remote_that_never_fetches_tags_is_exit_4(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.git("remote", "add", "origin", "https://example.invalid/repo.git")
    git_repo.git("config", "remote.origin.tagOpt", "--no-tags")
    with pytest.raises(EnvironmentProblem, match="never to fetch tags"):
        plan_version(context_for(git_repo), offline=True, env={})


def test_newest_release_not_reachable_from_head_is_not_the_base(git_repo: GitRepo) -> None:
    released_repo(git_repo)
    git_repo.tag("v2.0.0", commit_on_branch(git_repo, "next", "feat!: big change", filename="next.txt"))
    git_repo.commit("fix: maintenance", filename="main.txt")
    plan = plan_version(context_for(git_repo), offline=True, env={})
    assert (plan.decision.current, plan.decision.next) == ("1.2.3", "1.2.4")


def test_next_version_taken_by_a_release_elsewhere_is_stepped_past_with_a_note(git_repo: GitRepo) -> None:
    released_repo(git_repo)
    elsewhere = commit_on_branch(git_repo, "other", "fix: elsewhere", filename="other.txt")
    git_repo.tag("v1.2.4", elsewhere)
    git_repo.commit("fix: here", filename="main.txt")
    decision = plan_version(context_for(git_repo), offline=True, env={}).decision
    assert (decision.next, decision.skipped) == ("1.2.5", ("1.2.4",))
    assert decision.rule == f"fix → patch; 1.2.4 is already released elsewhere (commit {elsewhere[:12]})"


def test_codebuild_resolved_source_version_names_the_commit_to_version(git_repo: GitRepo) -> None:
    released_repo(git_repo)
    target = git_repo.commit("feat: built by codebuild")
    git_repo.commit("fix: pushed later")
    plan = plan_version(
        context_for(git_repo), offline=True, env={"CODEBUILD_RESOLVED_SOURCE_VERSION": target}
    )
    assert (plan.head, plan.decision.next, plan.decision.commits) == (target, "1.3.0", 1)


def test_tag_prefix_from_config_is_honoured(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("svc-1.0.0")
    git_repo.tag("v9.9.9")
    git_repo.commit("fix: a")
    decision = plan_version(context_for(git_repo, tag_prefix="svc-"), offline=True, env={}).decision
    assert (decision.current, decision.next) == ("1.0.0", "1.0.1")


# ----------------------------------------------------------------------------- reads started early


def test_reads_started_before_the_cli_is_imported_are_what_planning_uses(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from releasectl.adapters import git as adapter

    released_repo(git_repo)
    git_repo.commit("feat: a")
    ctx = context_for(git_repo)
    expected = plan_version(ctx, offline=True, env={}).decision
    monkeypatch.chdir(git_repo.path)
    adapter.start_version_reads()
    assert len(adapter._started) == 3
    plan = plan_version(ctx, offline=True, env={})
    assert adapter._started == {}
    assert plan.decision == expected
    assert [call[0] for call in plan.git.calls] == ["rev-parse", "for-each-ref", "log"]


def test_a_commit_made_after_the_early_start_is_not_part_of_the_answer(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from releasectl.adapters import git as adapter

    released_repo(git_repo)
    started_at = git_repo.commit("fix: a")
    monkeypatch.chdir(git_repo.path)
    adapter.start_version_reads()
    git_repo.commit("feat: committed meanwhile")
    try:
        plan = plan_version(context_for(git_repo), offline=True, env={})
    finally:
        adapter.stop_version_reads()
    assert (plan.head, plan.decision.next, plan.decision.commits) == (started_at, "1.2.4", 1)


def test_a_walk_whose_ref_moved_on_walks_from_the_commit_it_was_given(git_repo: GitRepo) -> None:
    base = git_repo.commit("chore: base")
    head = git_repo.commit("fix: a")
    git_repo.commit("feat: later")
    walk = Git(git_repo.path).walk(head, {base}, ref="HEAD")
    assert ([c.message.strip() for c in walk.commits], walk.reached, walk.linear) == (["fix: a"], base, True)


def test_reads_started_early_and_never_asked_for_are_stopped(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from releasectl.adapters import git as adapter

    released_repo(git_repo)
    monkeypatch.chdir(git_repo.path)
    adapter.start_version_reads()
    processes = [proc for proc, _ in adapter._started.values()]
    adapter.stop_version_reads()
    assert adapter._started == {}
    assert all(proc.returncode is not None for proc in processes)
