"""Where the `vX.Y.Z` mirror tag is pushed: the remote `git_tag_remote` names, or nowhere.

`release` and `bump --git-tag --push` read the same setting; the output names the remote and its
URL, or says the tag was not pushed and why. Against moto with a fake `docker`, checked in the
remotes themselves with `git ls-remote`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from releasectl.core.config import load_config
from releasectl.core.errors import UsageError
from tests.support.cli import run_cli
from tests.support.git import GitRepo
from tests.support.release_world import World, bare_remote, remote_tags, result_of


def test_release_pushes_the_tag_to_the_remote_git_tag_remote_names_and_says_where(
    world: World, tmp_path: Path
) -> None:
    origin = bare_remote(world.repo, "origin", tmp_path / "origin.git")
    mirror = bare_remote(world.repo, "mirror", tmp_path / "mirror.git")
    world.repo.git("push", "-q", "origin", "main")

    proc = world.cli("release", "--no-deploy", env={"RELEASECTL_GIT_TAG_REMOTE": "mirror"})

    assert proc.code == 0, proc.stderr
    assert (remote_tags(mirror), remote_tags(origin)) == (["v0.1.0"], [])
    assert f"pushed v0.1.0 to mirror ({mirror})" in proc.stderr
    assert result_of(proc)["git_tag"] == {
        "name": "v0.1.0",
        "created": True,
        "pushed": True,
        "remote": "mirror",
        "url": str(mirror),
        "note": None,
    }


def test_release_with_git_tag_remote_none_pushes_nothing_and_says_why(world: World, tmp_path: Path) -> None:
    origin = bare_remote(world.repo, "origin", tmp_path / "origin.git")
    world.repo.git("push", "-q", "origin", "main")

    proc = world.cli("release", "--no-deploy", env={"RELEASECTL_GIT_TAG_REMOTE": "none"})

    assert proc.code == 0, proc.stderr
    assert remote_tags(origin) == []
    assert world.repo.git("rev-list", "-n1", "v0.1.0") == world.repo.head()  # the local mirror stays
    assert 'did not push v0.1.0: git_tag_remote is "none" (env RELEASECTL_GIT_TAG_REMOTE)' in proc.stderr
    assert result_of(proc)["git_tag"]["pushed"] is False


def test_release_in_a_clone_without_the_named_remote_says_it_did_not_push(world: World) -> None:
    proc = world.cli("release", "--no-deploy")

    assert proc.code == 0, proc.stderr
    assert "did not push v0.1.0: this clone has no remote 'origin' (git_tag_remote)" in proc.stderr


def test_bump_push_goes_to_the_remote_git_tag_remote_names(git_repo: GitRepo, tmp_path: Path) -> None:
    origin = bare_remote(git_repo, "origin", tmp_path / "origin.git")
    mirror = bare_remote(git_repo, "mirror", tmp_path / "mirror.git")
    git_repo.commit("chore: initial")

    result = run_cli(
        "--json", "bump", "--offline", "--git-tag", "--push",
        cwd=git_repo.path, env={"RELEASECTL_GIT_TAG_REMOTE": "mirror"},
    )  # fmt: skip

    assert result.code == 0, result.stderr
    assert (remote_tags(mirror), remote_tags(origin)) == (["v0.1.0"], [])
    payload = json.loads(result.stdout)
    assert (payload["remote"], payload["remote_url"]) == ("mirror", str(mirror))
    assert (
        payload["message"]
        == f"0.1.0 (initial): tagged v0.1.0 on {git_repo.head()[:12]}, pushed v0.1.0 to mirror ({mirror})"
    )


def test_bump_push_with_git_tag_remote_none_is_exit_2_and_creates_no_tag(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    origin = bare_remote(git_repo, "origin", tmp_path / "origin.git")
    git_repo.commit("chore: initial")

    result = run_cli(
        "bump",
        "--offline",
        "--git-tag",
        "--push",
        cwd=git_repo.path,
        env={"RELEASECTL_GIT_TAG_REMOTE": "none"},
    )

    assert result.code == 2, result.stderr
    assert 'git_tag_remote is "none"' in result.stderr
    assert (git_repo.git("tag"), remote_tags(origin)) == ("", [])


def test_bump_push_to_a_remote_the_clone_lacks_is_exit_4_and_creates_no_tag(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")

    result = run_cli("bump", "--offline", "--git-tag", "--push", cwd=git_repo.path)

    assert result.code == 4, result.stderr
    assert "no remote 'origin'" in result.stderr
    assert git_repo.git("tag") == ""


@pytest.mark.parametrize(
    ("raw", "expected"), [("origin", "origin"), ("none", None), ("NONE", None), ("", None)]
)
def test_git_tag_remote_is_a_remote_name_or_none(raw: str, expected: str | None, tmp_path: Path) -> None:
    config = load_config(env={"RELEASECTL_GIT_TAG_REMOTE": raw}, cwd=tmp_path)
    assert config.git_tag_remote == expected


def test_git_tag_remote_defaults_to_origin(tmp_path: Path) -> None:
    assert load_config(env={}, cwd=tmp_path).git_tag_remote == "origin"


@pytest.mark.parametrize("bad", ["https://token@github.com/o/r.git", "-upload-pack=x", "a..b", "a b"])
def test_git_tag_remote_that_is_not_a_remote_name_is_a_usage_error(bad: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a git remote name"):
        load_config(env={"RELEASECTL_GIT_TAG_REMOTE": bad}, cwd=tmp_path)
