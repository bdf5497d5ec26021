"""Environments: [tool.releasectl.environments.<name>], chosen by --env or RELEASECTL_ENV."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasectl.core.config import load_config
from releasectl.core.errors import ExitCode, UsageError

TWO = """
ecs_cluster = "top-level"
ecs_service = "top-level"

[tool.releasectl.environments.staging]
cluster = "shop-staging"
service = "shop"
stack = "shop-staging"

[tool.releasectl.environments.prod]
cluster = "shop-prod"
service = "shop"
region = "eu-west-1"
stack = "shop-prod"
role_arn = "arn:aws:iam::222222222222:role/shop-prod-deploy"
after = "staging"
"""


def project(tmp_path: Path, body: str = TWO) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.releasectl]\n" + body)
    return tmp_path


def refused(tmp_path: Path, **kwargs: object) -> str:
    with pytest.raises(UsageError) as caught:
        load_config(cwd=tmp_path, **kwargs)  # type: ignore[arg-type]
    assert caught.value.exit_code == ExitCode.USAGE
    return caught.value.message


def test_the_first_environment_listed_is_the_default(tmp_path: Path) -> None:
    config = load_config(env={}, cwd=project(tmp_path))
    assert (config.env, config.ecs_cluster, config.ecs_service) == ("staging", "shop-staging", "shop")
    assert config.stack_name == "shop-staging"
    assert config.role_arn is None


def test_env_key_in_the_file_names_the_default(tmp_path: Path) -> None:
    config = load_config(env={}, cwd=project(tmp_path, 'env = "prod"\n' + TWO))
    assert config.env == "prod"


def test_releasectl_env_selects_one_that_sets_cluster_region_role_and_stack(
    tmp_path: Path,
) -> None:
    config = load_config(env={"RELEASECTL_ENV": "prod"}, cwd=project(tmp_path))
    assert (config.ecs_cluster, config.region, config.stack_name) == ("shop-prod", "eu-west-1", "shop-prod")
    assert config.role_arn == "arn:aws:iam::222222222222:role/shop-prod-deploy"
    assert config.environment is not None and config.environment.after == "staging"
    assert config.sources["ecs_cluster"] == "environment prod"


def test_the_env_flag_wins_over_releasectl_env(tmp_path: Path) -> None:
    config = load_config(flags={"env": "staging"}, env={"RELEASECTL_ENV": "prod"}, cwd=project(tmp_path))
    assert config.env == "staging"


def test_an_exported_cluster_never_redirects_a_selected_environment(tmp_path: Path) -> None:
    env = {"RELEASECTL_ENV": "prod", "RELEASECTL_ECS_CLUSTER": "shop-staging"}
    assert load_config(env=env, cwd=project(tmp_path)).ecs_cluster == "shop-prod"


def test_an_option_that_contradicts_the_environment_is_refused(tmp_path: Path) -> None:
    message = refused(project(tmp_path), flags={"env": "prod", "region": "us-east-1"}, env={})
    assert "--region us-east-1 contradicts environment prod's region eu-west-1" in message


def test_an_unknown_environment_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    message = refused(project(tmp_path), flags={"env": "qa"}, env={})
    assert message == "unknown environment 'qa'; known: staging, prod"


def test_an_environment_named_without_any_configured_is_refused(tmp_path: Path) -> None:
    message = refused(project(tmp_path, 'ecr_repository = "shop"\n'), env={"RELEASECTL_ENV": "prod"})
    assert "there is no [tool.releasectl.environments] table" in message


def test_without_environments_the_top_level_keys_apply_as_before(tmp_path: Path) -> None:
    config = load_config(env={}, cwd=project(tmp_path, 'ecs_cluster = "c"\necs_service = "s"\n'))
    assert (config.env, config.ecs_cluster, config.ecs_service, config.environments) == (None, "c", "s", {})


def test_after_must_name_a_configured_environment(tmp_path: Path) -> None:
    body = '[tool.releasectl.environments.prod]\ncluster = "c"\nservice = "s"\nafter = "staging"\n'
    assert "after: 'staging' is not an environment (known: prod)" in refused(project(tmp_path, body), env={})


def test_an_after_chain_that_loops_is_refused(tmp_path: Path) -> None:
    body = (
        '[tool.releasectl.environments.a]\ncluster = "c"\nservice = "s"\nafter = "b"\n'
        '[tool.releasectl.environments.b]\ncluster = "c"\nservice = "s"\nafter = "a"\n'
    )
    assert "loops back" in refused(project(tmp_path, body), env={})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ('cluster = "c"\ncolour = "blue"', "unknown config key environments.prod.'colour'"),
        (
            'cluster = "c"\nrole_arn = "prod-role"',
            "role_arn: 'prod-role' is not an IAM role ARN",
        ),
        ('cluster = ""', "environments.prod.cluster: '' is not a valid AWS resource name"),
    ],
)
def test_a_bad_environment_field_is_refused_naming_it(tmp_path: Path, fields: str, expected: str) -> None:
    body = f'[tool.releasectl.environments.prod]\nservice = "s"\n{fields}\n'
    assert expected in refused(project(tmp_path, body), env={})


def test_an_environment_without_a_service_is_refused(tmp_path: Path) -> None:
    body = '[tool.releasectl.environments.prod]\ncluster = "c"\n'
    assert refused(project(tmp_path, body), env={}) == "config environments.prod.service is not set"
