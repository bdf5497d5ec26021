"""Every shape a release tag takes in a real repository, read against real git (no AWS).

Unprefixed tags, a prefix that changed, a tag of a tag, build metadata, other pre-release
labels, and tags that look like versions but name no release: each is read as a release or
named with its reason, and none of them makes `version` answer below a release on HEAD's history.
"""

from __future__ import annotations

import pytest

from releasectl.commands.context import Context, RecordingReporter
from releasectl.commands.version import VersionView, plan_version
from releasectl.core.config import load_config
from releasectl.core.errors import EnvironmentProblem, ExitCode
from tests.support.git import GitRepo, git


@pytest.fixture(autouse=True)
def not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


def context_with(repo: GitRepo, toml: str = "") -> Context:
    """A context whose [tool.releasectl] holds ``toml`` (lines of TOML, lists allowed)."""
    (repo.path / "pyproject.toml").write_text("[tool.releasectl]\n" + toml)
    config = load_config(env={}, cwd=repo.path)
    return Context(config=config, cwd=repo.path, reporter=RecordingReporter())


def commit_at(repo: GitRepo, message: str, filename: str, when: str) -> str:
    """A commit with a given committer date, so the order of a walk by date is known."""
    (repo.path / filename).write_text(message + "\n")
    repo.git("add", filename)
    git(repo.path, "commit", "-q", "-m", message, env={"GIT_COMMITTER_DATE": when})
    return repo.head()


def warnings_of(ctx: Context) -> list[str]:
    assert isinstance(ctx.reporter, RecordingReporter)
    return ctx.reporter.texts("warn")


# ----------------------------------------------------------------------------- prefixes


def test_unprefixed_tags_are_releases_with_an_empty_tag_prefix(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("1.4.0")
    git_repo.commit("fix: a")
    plan = plan_version(context_with(git_repo, 'tag_prefix = ""\n'), offline=True, env={})
    assert (plan.decision.current, plan.decision.next) == ("1.4.0", "1.4.1")
    assert plan.tags.tag_name("1.4.1") == "1.4.1"


def test_a_legacy_unprefixed_tag_among_v_tags_is_read_alongside_them(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v8.0.0")
    git_repo.commit("fix: tagged by hand")
    git_repo.tag("8.0.1")
    git_repo.commit("fix: b")
    ctx = context_with(git_repo, 'legacy_tag_prefixes = ["", "release-"]\n')
    plan = plan_version(ctx, offline=True, env={})
    assert (plan.decision.current, plan.decision.next, plan.decision.commits) == ("8.0.1", "8.0.2", 1)
    assert plan.tags.tag_name("8.0.2") == "v8.0.2"


def test_a_release_tag_under_an_old_prefix_is_read_from_legacy_tag_prefixes(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("release-2.3.0")
    git_repo.commit("feat: a")
    plan = plan_version(context_with(git_repo, 'legacy_tag_prefixes = ["release-"]\n'), offline=True, env={})
    assert (plan.decision.current, plan.decision.next) == ("2.3.0", "2.4.0")


def test_a_v_tag_under_an_empty_prefix_is_named_with_the_setting_that_reads_it(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("1.0.0")
    git_repo.commit("fix: a")
    elsewhere = git_repo.git("rev-parse", "HEAD~1")
    git_repo.git("checkout", "-q", "-b", "old", elsewhere)
    git_repo.commit("fix: on an old line", filename="old.txt")
    git_repo.tag("v0.9.9")
    git_repo.git("checkout", "-q", "main")
    ctx = context_with(git_repo, 'tag_prefix = ""\n')
    plan = plan_version(ctx, offline=True, env={})
    assert plan.decision.next == "1.0.1"
    assert [u.tag for u in plan.unread_tags] == ["v0.9.9"]
    assert 'add "v" to legacy_tag_prefixes' in warnings_of(ctx)[0]


# ----------------------------------------------------------------------------- a tag of a tag


def test_a_tag_of_a_release_candidate_tag_releases_its_commit(git_repo: GitRepo) -> None:
    git_repo.commit("feat: a")
    git_repo.tag("v1.2.0-rc.1")
    git_repo.tag("v1.2.0", "v1.2.0-rc.1")  # promoting the candidate: an annotated tag of a tag
    plan = plan_version(context_with(git_repo), offline=True, env={})
    assert (plan.decision.next, plan.decision.released) == ("1.2.0", True)


def test_after_a_promoted_candidate_the_next_fix_is_a_patch_of_it(git_repo: GitRepo) -> None:
    git_repo.commit("feat: a")
    git_repo.tag("v1.2.0-rc.1")
    git_repo.tag("v1.2.0", "v1.2.0-rc.1")
    git_repo.commit("fix: b")
    decision = plan_version(context_with(git_repo), offline=True, env={}).decision
    assert (decision.current, decision.next) == ("1.2.0", "1.2.1")


# ----------------------------------------------------------------------------- other shapes


def test_build_metadata_is_set_aside_and_the_version_read(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.3.0+build.1")
    git_repo.commit("fix: a")
    ctx = context_with(git_repo)
    plan = plan_version(ctx, offline=True, env={})
    assert (plan.decision.current, plan.decision.next) == ("1.3.0", "1.3.1")
    assert warnings_of(ctx) == []


def test_a_beta_tag_is_a_release_when_beta_is_a_configured_label(git_repo: GitRepo) -> None:
    git_repo.commit("feat!: new api")
    git_repo.tag("v2.0.0-beta.1")
    git_repo.commit("fix: a")
    ctx = context_with(git_repo, 'prerelease_labels = ["rc", "beta"]\n')
    decision = plan_version(ctx, offline=True, env={}).decision
    assert (decision.current, decision.next) == ("2.0.0-beta.1", "2.0.0")
    assert plan_version(ctx, pre="rc", offline=True, env={}).decision.next == "2.0.0-rc.1"


def test_a_beta_tag_without_the_label_on_history_refuses_rather_than_answer_below_it(
    git_repo: GitRepo,
) -> None:
    git_repo.commit("feat!: new api")
    git_repo.tag("v2.0.0-beta.1")
    git_repo.commit("fix: a")
    ctx = context_with(git_repo)
    with pytest.raises(EnvironmentProblem) as info:
        plan_version(ctx, offline=True, env={})
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert warnings_of(ctx) == []  # the error names the tag: no second line saying it again
    line = info.value.one_line()
    assert "tag v2.0.0-beta.1" in line
    assert "its pre-release label 'beta' is not in prerelease_labels (rc)" in line
    assert 'add "beta" to prerelease_labels' in line


def test_a_two_number_tag_after_the_base_refuses_to_answer_below_it(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.1.0")
    git_repo.commit("feat: b")
    git_repo.tag("v1.2")
    git_repo.commit("fix: c")
    with pytest.raises(EnvironmentProblem) as info:
        plan_version(context_with(git_repo), offline=True, env={})
    assert "tag v1.2" in info.value.message
    assert "1.2 has 2 numbers, not MAJOR.MINOR.PATCH" in info.value.message
    assert "git tag -a v1.2.0 v1.2^{commit}" in str(info.value.hint)


def test_a_version_like_tag_on_another_branch_is_a_warning_and_in_the_json(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    git_repo.git("checkout", "-q", "-b", "experiment")
    git_repo.commit("feat: try", filename="try.txt")
    git_repo.tag("v01.5.0")
    git_repo.git("checkout", "-q", "main")
    git_repo.commit("fix: a")
    ctx = context_with(git_repo)
    plan = plan_version(ctx, offline=True, env={})
    assert plan.decision.next == "1.0.1"
    (warning,) = warnings_of(ctx)
    assert warning.startswith("tag v01.5.0 is not read as a release: 01.5.0 has leading zeros")
    document = VersionView(plan).to_json()
    assert document["warnings"] == [warning]
    assert document["unread_tags"][0]["tag"] == "v01.5.0"


def test_only_unread_tags_in_ci_name_the_tag_not_a_fetch_problem(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v3.1")
    git_repo.commit("fix: a")
    with pytest.raises(EnvironmentProblem) as info:
        plan_version(context_with(git_repo), offline=True, env={"CODEBUILD_BUILD_ID": "p:1"})
    assert "tag v3.1" in info.value.message
    assert "not fetched" not in info.value.one_line()


def test_two_tags_naming_one_version_on_different_commits_are_both_named(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    git_repo.commit("fix: rebuilt")
    git_repo.tag("v1.0.0+rebuild")
    git_repo.commit("fix: a")
    ctx = context_with(git_repo)
    plan = plan_version(ctx, offline=True, env={})
    assert (plan.decision.current, plan.decision.next) == ("1.0.0", "1.0.1")
    assert "it names 1.0.0 too, which v1.0.0 names on commit" in warnings_of(ctx)[0]


# ----------------------------------------------------------------------------- many releases elsewhere


def test_a_maintenance_branch_costs_three_git_calls_however_many_newer_releases(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    git_repo.git("checkout", "-q", "-b", "maint-1.0")
    git_repo.git("checkout", "-q", "main")
    for minor in range(1, 13):
        git_repo.commit(f"feat: feature {minor}")
        git_repo.tag(f"v1.{minor}.0")
    git_repo.git("checkout", "-q", "maint-1.0")
    git_repo.commit("fix: backport", filename="maint.txt")
    plan = plan_version(context_with(git_repo), offline=True, env={})
    assert (plan.decision.current, plan.decision.next) == ("1.0.0", "1.0.1")
    assert [call[0] for call in plan.git.calls] == ["rev-parse", "for-each-ref", "log"]


def test_a_newer_release_merged_in_from_another_branch_becomes_the_base(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    git_repo.git("checkout", "-q", "-b", "release")
    commit_at(git_repo, "feat: released on the branch", "release.txt", "2030-01-01T00:00:00Z")
    git_repo.tag("v1.1.0")
    git_repo.git("checkout", "-q", "main")
    commit_at(git_repo, "fix: on main", "main.txt", "2030-02-01T00:00:00Z")
    git_repo.tag("v1.0.1")  # newer by date than v1.1.0: the walk back from HEAD meets it first
    merge = {"GIT_COMMITTER_DATE": "2030-03-01T00:00:00Z"}
    git(git_repo.path, "merge", "-q", "--no-ff", "release", "-m", "Merge branch 'release'", env=merge)
    commit_at(git_repo, "fix: after the merge", "after.txt", "2030-04-01T00:00:00Z")
    plan = plan_version(context_with(git_repo), offline=True, env={})
    assert (plan.decision.current, plan.decision.next) == ("1.1.0", "1.1.1")
    assert plan.decision.commits == 3  # the merge, the fix after it and the fix on main
