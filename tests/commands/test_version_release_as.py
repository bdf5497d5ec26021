"""A Release-As footer applies to the first release after its commit only, and never blocks.

Planning against real git repositories (no AWS): what `version`, `bump` and `release` decide
when a footer in the range cannot, or no longer should, force the version.
"""

from __future__ import annotations

import pytest

from releasectl.commands.context import Context, RecordingReporter
from releasectl.commands.version import VersionView, plan_version
from releasectl.core.config import load_config
from releasectl.core.errors import Conflict
from tests.support.git import GitRepo


@pytest.fixture(autouse=True)
def not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


def context(repo: GitRepo) -> Context:
    config = load_config(env={}, cwd=repo.path)
    return Context(config=config, cwd=repo.path, reporter=RecordingReporter())


def footer_then_branch(repo: GitRepo, *, branch_from_footer: bool) -> str:
    """v1.0.0, then a `Release-As: 2.0.0` footer on main, and 2.0.0 released on a branch cut
    from the footer's commit (or, without ``branch_from_footer``, from before it). Back on main,
    one more fix. Returns the footer's commit."""
    repo.commit("chore: initial")
    repo.tag("v1.0.0")
    before = repo.head()
    footer = repo.commit("feat: new engine\n\nRelease-As: 2.0.0", filename="engine.txt")
    repo.git("checkout", "-q", "-b", "release-2", footer if branch_from_footer else before)
    repo.commit("fix: release polish", filename="polish.txt")
    repo.tag("v2.0.0")
    repo.git("checkout", "-q", "main")
    repo.commit("fix: after the cut", filename="main.txt")
    return footer


def test_a_footer_a_release_after_its_commit_used_no_longer_forces_the_version(git_repo: GitRepo) -> None:
    footer = footer_then_branch(git_repo, branch_from_footer=True)
    ctx = context(git_repo)
    plan = plan_version(ctx, offline=True, env={})
    assert (plan.decision.current, plan.decision.next, plan.decision.rule) == (
        "1.0.0",
        "1.1.0",
        "feat → minor",
    )
    (note,) = plan.decision.notes
    assert f"commit {footer[:12]} says Release-As: 2.0.0, which the release of 2.0.0" in note
    assert "applies to the first release after its commit only" in note
    assert isinstance(ctx.reporter, RecordingReporter)
    assert ctx.reporter.texts("warn") == [note]
    assert VersionView(plan).to_json()["warnings"] == [note]


def test_a_footer_whose_version_an_unrelated_branch_holds_is_still_a_conflict(git_repo: GitRepo) -> None:
    footer_then_branch(git_repo, branch_from_footer=False)
    with pytest.raises(Conflict, match="which a Release-As footer asks for, is already released"):
        plan_version(context(git_repo), offline=True, env={})


def test_a_footer_below_the_current_version_is_explained_and_the_release_goes_ahead(
    git_repo: GitRepo,
) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.4.0")
    cut = git_repo.commit("fix: a\n\nRelease-As: 1.0.0")
    plan = plan_version(context(git_repo), offline=True, env={})
    assert (plan.decision.next, plan.decision.bump) == ("1.4.1", "patch")
    assert plan.warnings[0].startswith(
        f"commit {cut[:12]} (fix: a) says Release-As: 1.0.0, which is not above"
    )
