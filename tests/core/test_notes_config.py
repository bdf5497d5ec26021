"""The configuration of GitHub releases: a repository, the name of the token's variable, the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasectl.core.config import load_config
from releasectl.core.errors import ExitCode, UsageError


def test_the_defaults_read_the_token_from_github_token_and_talk_to_github_com(tmp_path: Path) -> None:
    config = load_config(env={}, cwd=tmp_path)

    assert (config.github_repository, config.github_token_env, config.github_api_url) == (
        None,
        "GITHUB_TOKEN",
        "https://api.github.com",
    )


def test_a_repository_is_owner_slash_name_or_none(tmp_path: Path) -> None:
    assert load_config(
        env={"RELEASECTL_GITHUB_REPOSITORY": "example/shop"}, cwd=tmp_path
    ).github_repository == ("example/shop")
    assert load_config(env={"RELEASECTL_GITHUB_REPOSITORY": "None"}, cwd=tmp_path).github_repository == "none"
    for bad in ("shop", "https://github.com/example/shop", "example/shop.git", "a/b/c"):
        with pytest.raises(UsageError, match="is not a GitHub repository") as caught:
            load_config(env={"RELEASECTL_GITHUB_REPOSITORY": bad}, cwd=tmp_path)
        assert caught.value.exit_code == ExitCode.USAGE


def test_a_token_written_where_its_variable_name_belongs_is_refused_without_being_echoed(
    tmp_path: Path,
) -> None:
    token = "ghp_" + "x" * 36
    (tmp_path / "pyproject.toml").write_text(f'[tool.releasectl]\ngithub_token_env = "{token}"\n')

    with pytest.raises(UsageError) as caught:
        load_config(env={}, cwd=tmp_path)

    assert "looks like a token" in caught.value.one_line()
    assert token not in caught.value.one_line()


def test_the_token_variable_is_a_variable_name(tmp_path: Path) -> None:
    assert load_config(
        env={"RELEASECTL_GITHUB_TOKEN_ENV": "RELEASE_BOT_TOKEN"}, cwd=tmp_path
    ).github_token_env == ("RELEASE_BOT_TOKEN")
    with pytest.raises(UsageError, match="not an environment variable name"):
        load_config(env={"RELEASECTL_GITHUB_TOKEN_ENV": "$TOKEN"}, cwd=tmp_path)


def test_the_api_is_https_except_on_this_machine(tmp_path: Path) -> None:
    def api(url: str) -> str:
        return load_config(env={"RELEASECTL_GITHUB_API_URL": url}, cwd=tmp_path).github_api_url

    assert api("https://ghe.example.com/api/v3/") == "https://ghe.example.com/api/v3"
    assert api("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    with pytest.raises(UsageError, match="not https; the token would travel in the clear"):
        api("http://ghe.example.com/api/v3")
