"""`deploy --env prod` ships only what succeeded in staging, the very digest, unless a person overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.env_world import EnvWorld, keep_what_create_service_is_given, make_env_world


@pytest.fixture
def envs(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EnvWorld:
    keep_what_create_service_is_given(monkeypatch)
    return make_env_world(moto_endpoint, tmp_path)


def to_staging(world: EnvWorld, version: str, outcome: str | None = "succeeded") -> None:
    result = world.cli("deploy", "--no-wait", version)
    assert result.code == 0, result.stderr
    if outcome is not None:  # what deploy records once it has watched the rollout end (moto runs none)
        arn = world.running("staging")["taskDefinition"]["taskDefinitionArn"]
        world.ecs.tag_resource(resourceArn=arn, tags=[{"key": "releasectl:outcome", "value": outcome}])


def test_prod_before_staging_is_exit_4_and_writes_nothing(envs: EnvWorld) -> None:
    before = envs.state()
    result = envs.cli("--json", "deploy", "1.2.0", "--env", "prod")
    assert result.code == 4
    assert json.loads(result.stdout)["message"].startswith(
        "1.2.0 may not deploy to prod before it succeeds in staging: "
        "staging has no recorded deployment of 1.2.0"
    )
    assert envs.state() == before


def test_prod_is_refused_naming_what_staging_recorded(envs: EnvWorld) -> None:
    to_staging(envs, "1.2.0", outcome="rolled_back")
    before = envs.state()
    result = envs.cli("deploy", "1.2.0", "--env", "prod")
    assert result.code == 4
    assert "staging recorded 1.2.0 as rolled_back" in result.stderr
    assert envs.state() == before


def test_a_deployment_to_staging_not_yet_verified_does_not_open_the_gate(envs: EnvWorld) -> None:
    to_staging(envs, "1.2.0", outcome=None)
    assert envs.cli("deploy", "1.2.0", "--env", "prod").code == 4


def test_prod_runs_the_digest_that_succeeded_in_staging(envs: EnvWorld) -> None:
    to_staging(envs, "1.2.0")
    result = envs.cli("--json", "deploy", "--no-wait", "1.2.0", "--env", "prod")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["gate"]["recorded_outcome"] == "succeeded"
    images = {
        env: envs.running(env)["taskDefinition"]["containerDefinitions"][0]["image"]
        for env in ("staging", "prod")
    }
    assert images["staging"] == images["prod"]
    assert images["prod"].endswith("@" + envs.digests["1.2.0"])


def test_only_the_version_that_succeeded_passes(envs: EnvWorld) -> None:
    to_staging(envs, "1.1.0")
    assert envs.cli("deploy", "1.2.0", "--env", "prod").code == 4


def test_an_override_with_a_reason_proceeds_and_records_the_reason(envs: EnvWorld) -> None:
    result = envs.cli(
        "--json", "deploy", "--no-wait", "1.2.0", "--env", "prod", "--override-gate", "--reason", "hotfix"
    )
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["gate"]["overridden"] is True
    tags = {t["key"]: t["value"] for t in envs.running("prod")["tags"]}
    assert tags["releasectl:gate-override"] == "hotfix"
    assert "although staging's gate is not met" in result.stderr


def test_an_override_without_a_reason_is_exit_2_and_writes_nothing(envs: EnvWorld) -> None:
    before = envs.state()
    result = envs.cli("deploy", "1.2.0", "--env", "prod", "--override-gate")
    assert result.code == 2
    assert "--override-gate needs --reason TEXT" in result.stderr
    assert envs.state() == before


def test_an_unknown_environment_is_exit_2_naming_the_known_ones(envs: EnvWorld) -> None:
    result = envs.cli("deploy", "1.2.0", "--env", "qa")
    assert result.code == 2
    assert "unknown environment 'qa'; known: staging, prod" in result.stderr


def test_releasectl_env_selects_the_environment(envs: EnvWorld) -> None:
    assert envs.cli("deploy", "1.2.0", RELEASECTL_ENV="prod").code == 4


def test_releases_shows_an_outcome_column_per_environment(envs: EnvWorld) -> None:
    to_staging(envs, "1.2.0")
    assert envs.cli("deploy", "--no-wait", "1.2.0", "--env", "prod").code == 0
    answer = json.loads(envs.cli("--json", "releases").stdout)
    outcomes = {r["version"]: r["outcomes"] for r in answer["releases"]}
    assert outcomes["1.2.0"] == {"staging": "succeeded", "prod": None}
    table = envs.cli("releases", COLUMNS="120").stdout
    header = next(line for line in table.splitlines() if "version" in line)
    assert header.split()[-4:] == ["staging", "┃", "prod", "┃"]
