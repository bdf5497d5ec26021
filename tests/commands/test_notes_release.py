"""`release` publishes the GitHub release of the tag it claims, with the notes the tag carries.

Against the moto server with a fake `docker` (the `world`) and the GitHub stand-in on 127.0.0.1
(tests/support/github_standin.py). A failure to publish is a warning: the release succeeds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.github_standin import GitHubStandin
from tests.support.release_world import World, bare_remote, result_of

REPO = "example/shop"
TOKEN = "standin-token-for-release-tests"  # the stand-in's, nothing real


@pytest.fixture
def github() -> Iterator[GitHubStandin]:
    with GitHubStandin(token=TOKEN, repositories=(REPO,)) as standin:
        yield standin


def publishing(github: GitHubStandin, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_TOKEN": TOKEN,
        "RELEASECTL_GITHUB_REPOSITORY": REPO,
        "RELEASECTL_GITHUB_API_URL": github.url,
        **extra,
    }


def tag_message(world: World, tag: str) -> str:
    return world.repo.git("tag", "-l", "--format=%(contents)", tag)


def test_release_creates_the_github_release_with_the_notes_the_tag_carries(
    world: World, github: GitHubStandin
) -> None:
    proc = world.cli("release", "--no-deploy", env=publishing(github))

    assert proc.code == 0, proc.stderr
    assert result_of(proc)["github_release"] == {
        "repository": REPO,
        "action": "created",
        "url": f"https://github.com/{REPO}/releases/tag/v0.1.0",
        "note": None,
    }
    (made,) = github.releases_of(REPO)
    assert (made["tag_name"], made["name"], made["prerelease"], made["draft"]) == (
        "v0.1.0",
        "v0.1.0",
        False,
        False,
    )
    assert made["target_commitish"] == world.repo.head()
    assert made["body"].startswith("### Features\n\n- first service (")
    assert tag_message(world, "v0.1.0") == f"release 0.1.0\n\n{made['body']}".strip()
    assert github.latest(REPO) == "v0.1.0"
    assert f"GitHub release v0.1.0 created: {made['html_url']}" in proc.stderr


def test_a_rerun_updates_the_release_and_never_makes_a_second(world: World, github: GitHubStandin) -> None:
    env = publishing(github)
    assert world.cli("release", "--no-deploy", env=env).code == 0

    again = world.cli("release", "--no-deploy", env=env)
    github.edit_release(REPO, "v0.1.0", body="edited by hand")
    third = world.cli("release", "--no-deploy", env=env)

    assert (again.code, third.code) == (0, 0), again.stderr + third.stderr
    assert result_of(again)["github_release"]["action"] == "unchanged"
    assert result_of(third)["github_release"]["action"] == "updated"
    (only,) = github.releases_of(REPO)
    assert only["body"].startswith("### Features\n")
    assert [(r.method, r.status) for r in github.writes()] == [("POST", 201), ("PATCH", 200)]


def test_the_next_release_gets_a_release_of_its_own(world: World, github: GitHubStandin) -> None:
    env = publishing(github)
    assert world.cli("release", "--no-deploy", env=env).code == 0
    world.repo.commit("fix: empty body")

    proc = world.cli("release", "--no-deploy", env=env)

    assert proc.code == 0, proc.stderr
    assert [r["tag_name"] for r in github.releases_of(REPO)] == ["v0.1.0", "v0.1.1"]
    newest = github.releases_of(REPO)[1]["body"]
    assert newest.startswith("### Fixes\n\n- empty body (") and "first service" not in newest
    assert github.latest(REPO) == "v0.1.1"


@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("401", "GitHub rejected the token (401 Bad credentials) (the token in GITHUB_TOKEN is wrong"),
        ("404", "GitHub could not create a release for v0.1.0 in example/gone (404 Not Found)"),
        ("422", "GitHub already has a release for v0.1.0 that it does not return by tag: a draft"),
        ("403", "GitHub's API rate limit is spent (403, x-ratelimit-remaining: 0); it resets at 20"),
    ],
)
def test_a_failure_to_publish_is_one_warning_and_the_release_succeeds(
    world: World, github: GitHubStandin, case: str, said: str
) -> None:
    env = publishing(github)
    if case == "401":
        env["GITHUB_TOKEN"] = "not-the-standin-token"
    elif case == "404":
        env["RELEASECTL_GITHUB_REPOSITORY"] = "example/gone"
    elif case == "422":
        github.add_release(REPO, "v0.1.0", draft=True)
    else:
        github.rate_limited = True

    proc = world.cli("-v", "release", "--no-deploy", env=env)  # -v: not even the details show the token

    assert proc.code == 0, proc.stderr
    result = result_of(proc)
    assert (result["outcome"], result["version"]) == ("succeeded", "0.1.0")
    assert "0.1.0" in world.tags()
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: GitHub release")]
    assert len(warnings) == 1 and said in warnings[0], proc.stderr
    assert result["github_release"]["action"] == "failed" and said in result["github_release"]["note"]
    assert env["GITHUB_TOKEN"] not in proc.stdout + proc.stderr
    assert len(github.releases_of(REPO)) == (1 if case == "422" else 0)


def test_without_a_token_nothing_is_sent_to_github(world: World, github: GitHubStandin) -> None:
    proc = world.cli("release", "--no-deploy", env={**publishing(github), "GITHUB_TOKEN": ""})

    assert proc.code == 0, proc.stderr
    assert result_of(proc)["github_release"]["note"] == "GITHUB_TOKEN is not set"
    assert "warning: GitHub release for example/shop not published: GITHUB_TOKEN is not set" in proc.stderr
    assert github.requests == []


def test_the_token_comes_from_the_variable_github_token_env_names(
    world: World, github: GitHubStandin
) -> None:
    env = {
        **publishing(github),
        "GITHUB_TOKEN": "",
        "RELEASE_BOT": TOKEN,
        "RELEASECTL_GITHUB_TOKEN_ENV": "RELEASE_BOT",
    }

    proc = world.cli("release", "--no-deploy", env=env)

    assert proc.code == 0, proc.stderr
    assert result_of(proc)["github_release"]["action"] == "created"
    assert github.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_the_repository_is_read_from_the_remote_the_tag_is_pushed_to(
    world: World, github: GitHubStandin, tmp_path: Path
) -> None:
    bare = bare_remote(world.repo, "origin", tmp_path / "origin.git")
    # Fetched from the stand-in's host, pushed to a bare repository here.
    world.repo.git("remote", "set-url", "origin", f"http://127.0.0.1/{REPO}.git")
    world.repo.git("remote", "set-url", "--push", "origin", str(bare))
    env = {"GITHUB_TOKEN": TOKEN, "RELEASECTL_GITHUB_API_URL": github.url}

    proc = world.cli("release", "--no-deploy", "--allow-unpushed", env=env)

    assert proc.code == 0, proc.stderr
    assert result_of(proc)["github_release"]["repository"] == REPO
    assert [r["tag_name"] for r in github.releases_of(REPO)] == ["v0.1.0"]


def test_with_git_tag_remote_none_no_remote_names_a_github_repository(
    world: World, github: GitHubStandin, tmp_path: Path
) -> None:
    world.repo.git("remote", "add", "origin", f"http://127.0.0.1/{REPO}.git")
    env = {
        "GITHUB_TOKEN": TOKEN,
        "RELEASECTL_GITHUB_API_URL": github.url,
        "RELEASECTL_GIT_TAG_REMOTE": "none",
    }

    proc = world.cli("release", "--no-deploy", "--allow-unpushed", env=env)

    assert proc.code == 0, proc.stderr
    record = result_of(proc)["github_release"]
    assert (record["action"], record["repository"]) == ("skipped", None)
    assert github.requests == []
    assert json.loads(proc.stdout)["git_tag"]["pushed"] is False
