"""`releasectl diff`: what a deploy would change, field by field, without writing anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.env_world import EnvWorld, keep_what_create_service_is_given, make_env_world
from tests.support.service_definitions import EXAMPLE


@pytest.fixture
def envs(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EnvWorld:
    keep_what_create_service_is_given(monkeypatch)
    world = make_env_world(moto_endpoint, tmp_path)
    assert world.cli("deploy", "--no-wait", "1.1.0").code == 0
    return world


def test_diff_lists_version_image_variables_secrets_and_settings_and_writes_nothing(envs: EnvWorld) -> None:
    envs.write_definition(
        EXAMPLE.replace('LOG_LEVEL = "info"', 'LOG_LEVEL = "debug"')
        .replace("desired_count = 2", "desired_count = 4")
        .replace("minimum_healthy_percent = 100", "minimum_healthy_percent = 50")
        .replace("cpu = 256\nmemory = 512", "cpu = 512\nmemory = 1024")
        .replace("API_TOKEN =", "SERVICE_TOKEN =")
    )
    before = envs.state()
    result = envs.cli("--json", "diff", "1.2.0")
    assert result.code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["running"]["version"], answer["target"]["version"]) == ("1.1.0", "1.2.0")
    fields = {c["field"]: (c["before"], c["after"]) for c in answer["changes"]}
    assert fields["containers.app.image"][1].endswith(envs.digests["1.2.0"])
    assert fields["containers.app.environment.LOG_LEVEL"] == ("info", "debug")
    assert fields["service.desired_count"] == (2, 4)
    assert fields["service.deployment.minimum_healthy_percent"] == (100, 50)
    assert (fields["cpu"], fields["memory"]) == (("256", "512"), (512, 1024))
    assert fields["containers.app.secrets.SERVICE_TOKEN"][0] is None
    assert fields["containers.app.secrets.API_TOKEN"][1] is None
    assert envs.state() == before


def test_diff_of_what_runs_says_no_changes(envs: EnvWorld) -> None:
    result = envs.cli("diff", "1.1.0")
    assert result.code == 0
    assert "no changes: a deploy would do nothing" in result.stdout


def test_diff_takes_the_environment(envs: EnvWorld) -> None:
    result = envs.cli("diff", "1.1.0", "--env", "prod")
    assert result.code == 4
    assert "ECS service 'shop' does not exist in cluster 'shop-prod'" in result.stderr


def test_diff_of_an_unreleased_version_is_exit_4(envs: EnvWorld) -> None:
    assert envs.cli("diff", "9.9.9").code == 4
