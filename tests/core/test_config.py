"""Configuration precedence and validation (docs/design.md §3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasectl.core.config import KEYS, load_config
from releasectl.core.errors import ExitCode, UsageError


def write_pyproject(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.releasectl]\n" + body)
    return path


def test_defaults_apply_when_nothing_is_configured(tmp_path: Path) -> None:
    config = load_config(env={}, cwd=tmp_path)
    assert config.deploy_timeout == 900
    assert config.ecr_repository is None
    assert config.other_commits == "patch"


def test_file_values_are_read_from_the_nearest_pyproject(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'ecr_repository = "shop"\ndeploy_timeout = 60\n')
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    config = load_config(env={}, cwd=nested)
    assert config.ecr_repository == "shop"
    assert config.deploy_timeout == 60


def test_env_overrides_file_and_flag_overrides_env(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'ecs_service = "from-file"\n')
    env = {"RELEASECTL_ECS_SERVICE": "from-env"}
    assert load_config(env=env, cwd=tmp_path).ecs_service == "from-env"
    flagged = load_config(flags={"ecs_service": "from-flag"}, env=env, cwd=tmp_path)
    assert flagged.ecs_service == "from-flag"
    assert flagged.sources["ecs_service"] == "option"


def test_standard_aws_env_is_used_after_our_own_settings(tmp_path: Path) -> None:
    env = {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}
    config = load_config(env=env, cwd=tmp_path)
    assert config.region == "eu-west-1"
    assert config.endpoint_url == "http://127.0.0.1:5000"
    write_pyproject(tmp_path, 'region = "us-west-2"\n')
    assert load_config(env=env, cwd=tmp_path).region == "us-west-2"


def test_aws_region_beats_aws_default_region(tmp_path: Path) -> None:
    env = {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-central-1"}
    assert load_config(env=env, cwd=tmp_path).region == "eu-central-1"


def test_unknown_key_in_file_is_a_usage_error_listing_valid_keys(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'ecr_repo = "typo"\n')
    with pytest.raises(UsageError) as caught:
        load_config(env={}, cwd=tmp_path)
    assert caught.value.exit_code == ExitCode.USAGE
    assert "ecr_repo" in caught.value.message
    assert "ecr_repository" in caught.value.message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("deploy_timeout", "soon"),
        ("deploy_timeout", "0"),
        ("major_on_zero", "perhaps"),
        ("other_commits", "minor"),
        ("endpoint_url", "localhost:5000"),
        ("ecr_repository", "has space"),
        ("builder", "pod man!"),
    ],
)
def test_bad_env_value_is_a_usage_error_naming_the_key(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(UsageError) as caught:
        load_config(env={f"RELEASECTL_{key.upper()}": value}, cwd=tmp_path)
    assert key in caught.value.message


def test_invalid_toml_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.releasectl\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_config(env={}, cwd=tmp_path)


def test_explicit_config_path_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_config(env={}, config_path=tmp_path / "missing.toml")


def test_require_names_the_key_and_how_to_set_it(tmp_path: Path) -> None:
    config = load_config(env={}, cwd=tmp_path)
    with pytest.raises(UsageError) as caught:
        config.require("ecs_cluster")
    assert "ecs_cluster" in caught.value.one_line()
    assert "RELEASECTL_ECS_CLUSTER" in caught.value.one_line()


def test_cache_repository_defaults_to_the_release_repository_with_a_suffix(tmp_path: Path) -> None:
    config = load_config(env={"RELEASECTL_ECR_REPOSITORY": "shop"}, cwd=tmp_path)
    assert config.cache_repository_name == "shop-cache"


def test_every_key_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for key in KEYS:
        assert f"`{key}`" in readme, key
