"""`version` and `release` decide the release version with one function, so they agree; and a
laptop release refuses a commit that no remote branch holds.

Against moto with a fake `docker`: what `version` says is compared with what `release` claims.
"""

from __future__ import annotations

import json
from pathlib import Path

from releasectl.core.versioning import BumpDecision, next_free
from tests.support.ecr_fixtures import snapshot
from tests.support.release_world import REPOSITORY, World, bare_remote, result_of


def released_on_a_branch(world: World) -> str:
    """0.1.0 released on main's first commit, then 0.2.0 on a sibling branch; back on main.
    Returns the sibling commit."""
    repo = world.repo
    assert world.cli("release", "--no-deploy").code == 0
    repo.git("checkout", "-q", "-b", "other")
    sibling = repo.commit("feat: elsewhere", filename="other.txt")
    assert result_of(world.cli("release", "--no-deploy"))["version"] == "0.2.0"
    repo.git("checkout", "-q", "main")
    return sibling


def test_version_and_release_report_the_same_version_and_note_when_another_branch_took_the_next(
    world: World,
) -> None:
    sibling = released_on_a_branch(world)
    world.repo.commit("feat: here", filename="main.txt")
    note = f"feat → minor; 0.2.0 is already released elsewhere (commit {sibling[:12]})"

    asked = world.cli("version")
    released = world.cli("release", "--no-deploy")

    assert (asked.code, released.code) == (0, 0), asked.stderr + released.stderr
    answer, result = result_of(asked), result_of(released)
    assert (answer["next"], answer["rule"], answer["skipped"]) == ("0.3.0", note, ["0.2.0"])
    assert (result["version"], result["rule"]) == ("0.3.0", note)
    assert f"as 0.3.0 ({note})" in released.stderr


def test_a_release_as_version_another_branch_holds_is_a_conflict_for_version_and_release(
    world: World,
) -> None:
    released_on_a_branch(world)
    world.repo.commit("chore: cut\n\nRelease-As: 0.2.0", filename="main.txt")
    before = snapshot(world.ecr, REPOSITORY)

    asked = world.cli("version")
    released = world.cli("release", "--no-deploy")

    assert (asked.code, released.code) == (5, 5), asked.stderr + released.stderr
    for proc in (asked, released):
        assert "Release-As footer asks for" in json.loads(proc.stdout)["message"]
    assert snapshot(world.ecr, REPOSITORY) == before


def test_next_free_names_each_skipped_version_and_who_holds_it() -> None:
    decision = BumpDecision("1.2.0", "1.3.0", "minor", 1, "feat → minor")
    stepped = next_free(decision, ["1.3.0", "1.4.0"], holders={"1.3.0": "commit aaa", "1.4.0": "commit bbb"})
    assert (stepped.next, stepped.skipped) == ("1.5.0", ("1.3.0", "1.4.0"))
    assert (
        stepped.rule == "feat → minor; 1.3.0, 1.4.0 are already released elsewhere (commit aaa, commit bbb)"
    )


# ----------------------------------------------------------------------------- unpushed commits


def test_a_release_of_a_commit_no_remote_branch_holds_is_exit_4_and_builds_nothing(
    world: World, tmp_path: Path
) -> None:
    bare_remote(world.repo, "origin", tmp_path / "origin.git")
    world.repo.git("push", "-q", "origin", "main")
    local = world.repo.commit("feat: not pushed yet")

    proc = world.cli("release", "--no-deploy")

    assert proc.code == 4, proc.stderr
    message = json.loads(proc.stdout)["message"]
    assert f"commit {local[:12]} is on no branch of remote origin" in message
    assert (world.builds(), world.tags()) == ([], set())


def test_allow_unpushed_releases_a_commit_no_remote_branch_holds(world: World, tmp_path: Path) -> None:
    bare_remote(world.repo, "origin", tmp_path / "origin.git")

    proc = world.cli("release", "--no-deploy", "--allow-unpushed")

    assert proc.code == 0, proc.stderr
    assert result_of(proc)["version"] == "0.1.0"


def test_a_commit_pushed_to_any_branch_of_a_remote_is_released(world: World, tmp_path: Path) -> None:
    bare_remote(world.repo, "origin", tmp_path / "origin.git")
    world.repo.git("push", "-q", "origin", "HEAD:refs/heads/feature")

    proc = world.cli("release", "--no-deploy")

    assert proc.code == 0, proc.stderr


def test_a_clone_without_remotes_has_nothing_to_check(world: World) -> None:
    assert world.cli("release", "--no-deploy").code == 0


def test_inside_codebuild_a_detached_checkout_on_no_remote_branch_is_released(
    world: World, tmp_path: Path
) -> None:
    bare_remote(world.repo, "origin", tmp_path / "origin.git")
    head = world.repo.head()
    world.repo.git("checkout", "-q", "--detach", head)
    codebuild = {"CODEBUILD_BUILD_ID": "hello-world-release:1", "CODEBUILD_RESOLVED_SOURCE_VERSION": head}

    proc = world.cli("release", "--no-deploy", env=codebuild)

    assert proc.code == 0, proc.stderr
    assert result_of(proc)["commit"] == head
