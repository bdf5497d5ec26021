"""The GitHub releases client against the stand-in (tests/support/github_standin.py), which speaks
the REST API's documented request and response shapes on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from releasectl.adapters.github import GitHubClient, GitHubError, repository_of_remote, web_host
from tests.support.github_standin import GitHubStandin

REPO = "example/shop"
TOKEN = "standin-token"


@pytest.fixture
def github() -> Iterator[GitHubStandin]:
    with GitHubStandin(token=TOKEN, repositories=(REPO,)) as standin:
        yield standin


def client(github: GitHubStandin, *, token: str = TOKEN, repository: str = REPO) -> GitHubClient:
    return GitHubClient(repository, token, api_url=github.url)


def test_a_release_is_created_with_the_documented_request(github: GitHubStandin) -> None:
    made = client(github).create_release(
        "v1.2.0", commit="a" * 40, name="v1.2.0", body="### Features\n", prerelease=False, make_latest="true"
    )

    assert (made.tag_name, made.body, made.prerelease, made.draft) == (
        "v1.2.0",
        "### Features\n",
        False,
        False,
    )
    assert made.html_url == f"https://github.com/{REPO}/releases/tag/v1.2.0"
    (sent,) = github.requests
    assert (sent.method, sent.path, sent.status) == ("POST", f"/repos/{REPO}/releases", 201)
    assert sent.headers["accept"] == "application/vnd.github+json"
    assert sent.headers["x-github-api-version"] == "2022-11-28"
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["user-agent"].startswith("releasectl/")
    assert sent.body == {
        "tag_name": "v1.2.0",
        "target_commitish": "a" * 40,
        "name": "v1.2.0",
        "body": "### Features\n",
        "draft": False,
        "prerelease": False,
        "make_latest": "true",
    }


def test_a_release_is_found_by_its_tag_and_a_tag_without_one_is_none(github: GitHubStandin) -> None:
    github.add_release(REPO, "v1.0.0", body="notes")

    found = client(github).release_by_tag("v1.0.0")

    assert found is not None and (found.tag_name, found.body) == ("v1.0.0", "notes")
    assert client(github).release_by_tag("v9.9.9") is None
    assert [r.status for r in github.requests] == [200, 404]


def test_a_draft_is_not_found_by_tag_as_on_github(github: GitHubStandin) -> None:
    github.add_release(REPO, "v1.0.0", draft=True)

    assert client(github).release_by_tag("v1.0.0") is None


def test_a_release_is_updated_by_its_id(github: GitHubStandin) -> None:
    made = github.add_release(REPO, "v1.0.0", body="old")

    updated = client(github).update_release(made["id"], name="v1.0.0", body="new", prerelease=False)

    assert updated.body == "new"
    assert (github.requests[-1].method, github.requests[-1].path) == (
        "PATCH",
        f"/repos/{REPO}/releases/{made['id']}",
    )
    assert [r["body"] for r in github.releases_of(REPO)] == ["new"]


def test_a_second_release_for_a_tag_is_refused_as_422_already_exists(github: GitHubStandin) -> None:
    github.add_release(REPO, "v1.0.0", draft=True)

    with pytest.raises(GitHubError) as caught:
        client(github).create_release("v1.0.0", commit="a" * 40, name="v1.0.0", body="", prerelease=False)

    assert (caught.value.status, caught.value.code) == (422, "already_exists")
    assert "Validation Failed" in caught.value.one_line()
    assert len(github.releases_of(REPO)) == 1


def test_a_rejected_token_is_a_401_error_that_never_shows_the_token(github: GitHubStandin) -> None:
    wrong = "not-the-standin-token"

    with pytest.raises(GitHubError) as caught:
        client(github, token=wrong).release_by_tag("v1.0.0")

    assert caught.value.status == 401
    assert "Bad credentials" in caught.value.one_line()
    assert wrong not in caught.value.one_line()
    assert wrong not in repr(client(github, token=wrong))


def test_a_repository_the_token_cannot_see_is_a_404_error_naming_it(github: GitHubStandin) -> None:
    with pytest.raises(GitHubError) as caught:
        client(github, repository="example/other").create_release(
            "v1.0.0", commit="a" * 40, name="v1.0.0", body="", prerelease=False
        )

    assert caught.value.status == 404
    assert "example/other" in caught.value.one_line()


def test_a_spent_rate_limit_is_an_error_that_says_when_it_resets(github: GitHubStandin) -> None:
    github.rate_limited = True

    with pytest.raises(GitHubError) as caught:
        client(github).release_by_tag("v1.0.0")

    assert caught.value.rate_limited and caught.value.status == 403
    assert "x-ratelimit-remaining: 0" in caught.value.one_line()
    assert "resets at 20" in caught.value.one_line()  # an ISO time from x-ratelimit-reset


def test_an_api_nobody_answers_is_one_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(GitHubError, match=r"cannot reach GitHub at http://127\.0\.0\.1"):
        GitHubClient(REPO, TOKEN, api_url=f"http://127.0.0.1:{port}", timeout=5).release_by_tag("v1.0.0")


def test_a_stand_in_on_this_machine_is_reached_past_a_configured_proxy(
    github: GitHubStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")

    assert client(github).release_by_tag("v1.0.0") is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/example/shop.git", "example/shop"),
        ("https://github.com/example/shop", "example/shop"),
        ("git@github.com:example/shop.git", "example/shop"),
        ("ssh://git@github.com/example/shop.git", "example/shop"),
        ("https://x-access-token:abc@github.com/example/shop.git", "example/shop"),
        ("https://gitlab.com/example/shop.git", None),
        ("/srv/git/shop.git", None),
        ("https://github.com/example", None),
    ],
)
def test_the_repository_is_read_from_a_remote_url_on_github(url: str, expected: str | None) -> None:
    assert repository_of_remote(url, "github.com") == expected


def test_an_enterprise_server_names_its_own_host() -> None:
    assert web_host("https://api.github.com") == "github.com"
    assert web_host("https://ghe.example.com/api/v3") == "ghe.example.com"
    assert repository_of_remote("git@ghe.example.com:team/app.git", "ghe.example.com") == "team/app"
