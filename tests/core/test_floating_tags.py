"""The floating_tags setting: what `promote` may move and what the release repository leaves mutable."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasectl.adapters.aws.clients import AwsClients
from releasectl.core.config import load_config
from releasectl.core.errors import ExitCode, UsageError
from tests.support.cli import run_cli


def write_pyproject(tmp_path: Path, body: str) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.releasectl]\n" + body)


def test_the_default_floating_tags_are_latest_staging_and_prod(tmp_path: Path) -> None:
    assert load_config(env={}, cwd=tmp_path).floating_tags == ("latest", "staging", "prod")


def test_floating_tags_are_a_list_in_the_file(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'floating_tags = ["latest", "canary"]\n')
    assert load_config(env={}, cwd=tmp_path).floating_tags == ("latest", "canary")


def test_floating_tags_are_a_comma_separated_list_in_the_environment(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'floating_tags = ["latest"]\n')
    config = load_config(env={"RELEASECTL_FLOATING_TAGS": " latest, qa ,prod,"}, cwd=tmp_path)
    assert config.floating_tags == ("latest", "qa", "prod")
    assert config.sources["floating_tags"] == "env RELEASECTL_FLOATING_TAGS"


@pytest.mark.parametrize(
    "tag", ["1.2.3", "v1.2.0", "2.0.0-rc.1", "1.2", "V3.0", "git-" + "a" * 40, "git-main"]
)
def test_a_floating_tag_that_looks_like_a_release_tag_is_a_usage_error(tmp_path: Path, tag: str) -> None:
    with pytest.raises(UsageError) as caught:
        load_config(env={"RELEASECTL_FLOATING_TAGS": f"latest,{tag}"}, cwd=tmp_path)
    assert caught.value.exit_code is ExitCode.USAGE
    assert "floating_tags" in caught.value.message and tag in caught.value.message


@pytest.mark.parametrize("value", ["pro d", "*", "prod*", "-x", "a" * 129])
def test_a_floating_tag_that_is_not_a_docker_tag_is_a_usage_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(UsageError, match="floating_tags"):
        load_config(env={"RELEASECTL_FLOATING_TAGS": value}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("floating_tags = []\n", "between 1 and 5 tags"),
        ('floating_tags = "a,b,c,d,e,f"\n', "between 1 and 5 tags"),  # ECR's limit of exclusion filters
        ("floating_tags = 3\n", "not a list of tags"),
    ],
)
def test_floating_tags_name_one_to_five_tags(tmp_path: Path, body: str, said: str) -> None:
    write_pyproject(tmp_path, body)
    with pytest.raises(UsageError, match=f"config floating_tags: .*{said}"):
        load_config(env={}, cwd=tmp_path)


def test_a_version_like_floating_tag_in_the_config_makes_promote_exit_2(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'ecr_repository = "app"\nfloating_tags = ["latest", "1.0.0"]\n')
    result = run_cli("promote", "1.2.0", "--tag", "latest", cwd=tmp_path)
    assert result.code == 2
    assert "floating_tags" in result.stderr and "1.0.0" in result.stderr


def test_the_sandbox_release_repository_excludes_exactly_the_configured_floating_tags(
    tmp_path: Path, aws: AwsClients
) -> None:
    from releasectl_sandbox.provision import Resources, create_repositories

    config = load_config(
        env={
            "RELEASECTL_REGION": "us-east-1",
            "RELEASECTL_ECR_REPOSITORY": "app",
            "RELEASECTL_CODEBUILD_PROJECT": "app-release",
            "RELEASECTL_ECS_CLUSTER": "app",
            "RELEASECTL_ECS_SERVICE": "app",
            "RELEASECTL_CONTAINER_NAME": "app",
            "RELEASECTL_FLOATING_TAGS": "latest,qa",
        },
        cwd=tmp_path,
    )
    clients = AwsClients.from_config(config)
    create_repositories(clients, Resources.from_config(config, Path(".")))
    [repository] = clients.client("ecr").describe_repositories(repositoryNames=["app"])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repository["imageTagMutabilityExclusionFilters"] == [
        {"filterType": "WILDCARD", "filter": "latest"},
        {"filterType": "WILDCARD", "filter": "qa"},
    ]
