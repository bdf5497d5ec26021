"""`releasectl deploy` from the service definition: the file plus the release's digest decide what runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.env_world import EnvWorld, keep_what_create_service_is_given, make_env_world
from tests.support.service_definitions import EXAMPLE


@pytest.fixture
def envs(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EnvWorld:
    keep_what_create_service_is_given(monkeypatch)
    return make_env_world(moto_endpoint, tmp_path)


def deployed(world: EnvWorld, *args: str) -> dict[str, object]:
    # moto runs no rollout, so nothing would ever be verified: the outcome is not what these test.
    result = world.cli("--json", "deploy", "--no-wait", *args)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def environment_of(definition: dict[str, object]) -> dict[str, str]:
    app = definition["taskDefinition"]["containerDefinitions"][0]  # type: ignore[index]
    return {e["name"]: e["value"] for e in app["environment"]}


def test_the_first_deploy_creates_the_service_from_the_definition(envs: EnvWorld) -> None:
    result = deployed(envs, "1.2.0")
    assert result["action"] == "create"
    service = envs.service("staging")
    assert service is not None and service["desiredCount"] == 2
    assert service["loadBalancers"][0]["containerPort"] == 8080
    running = envs.running("staging")["taskDefinition"]
    assert running["family"] == "shop-staging"
    assert running["containerDefinitions"][0]["image"].endswith("@" + envs.digests["1.2.0"])


def test_a_changed_environment_variable_ships_with_deploy(envs: EnvWorld) -> None:
    deployed(envs, "1.2.0")
    envs.write_definition(EXAMPLE.replace('LOG_LEVEL = "info"', 'LOG_LEVEL = "debug"'))
    result = deployed(envs, "1.2.0")
    assert result["action"] == "register"
    assert result["changes"] == [
        {
            "field": "containers.app.environment.LOG_LEVEL",
            "kind": "changed",
            "before": "info",
            "after": "debug",
        }
    ]
    assert environment_of(envs.running("staging"))["LOG_LEVEL"] == "debug"


def test_a_changed_desired_count_alone_keeps_the_revision(envs: EnvWorld) -> None:
    deployed(envs, "1.2.0")
    before = envs.running("staging")["taskDefinition"]["taskDefinitionArn"]
    envs.write_definition(EXAMPLE.replace("desired_count = 2", "desired_count = 5"))
    result = deployed(envs, "1.2.0")
    assert result["action"] == "settings"
    service = envs.service("staging")
    assert service is not None and (service["taskDefinition"], service["desiredCount"]) == (before, 5)


def test_deploying_what_runs_as_the_file_says_changes_nothing(envs: EnvWorld) -> None:
    deployed(envs, "1.2.0")
    before = envs.state()
    assert deployed(envs, "1.2.0")["outcome"] == "noop"
    assert envs.state() == before


def verified_in(world: EnvWorld, environment: str, outcome: str = "succeeded") -> None:
    """What deploy records once it has watched the rollout end (moto runs none)."""
    arn = world.running(environment)["taskDefinition"]["taskDefinitionArn"]
    world.ecs.tag_resource(resourceArn=arn, tags=[{"key": "releasectl:outcome", "value": outcome}])


def test_the_environment_table_of_the_definition_applies_to_prod_only(envs: EnvWorld) -> None:
    deployed(envs, "1.2.0")
    verified_in(envs, "staging")
    deployed(envs, "1.2.0", "--env", "prod")
    prod, staging = envs.service("prod"), envs.service("staging")
    assert prod is not None and staging is not None
    assert (staging["desiredCount"], prod["desiredCount"]) == (2, 3)


def test_a_bad_field_is_exit_2_naming_it_and_its_line_and_nothing_is_written(envs: EnvWorld) -> None:
    envs.write_definition(EXAMPLE.replace("memory = 512", "memory = 100"))
    before = envs.state()
    result = envs.cli("deploy", "1.2.0")
    assert result.code == 2
    line = EXAMPLE.splitlines().index("memory = 512") + 1
    assert f"service.toml:{line}: memory: 100 is outside 512..122880" in result.stderr
    assert envs.state() == before


def test_dry_run_prints_the_plan_and_makes_no_aws_write(envs: EnvWorld) -> None:
    from releasectl.commands.context import Context, RecordingReporter
    from releasectl.commands.deploy import deploy
    from releasectl.core.config import load_config

    deployed(envs, "1.1.0")
    envs.write_definition(EXAMPLE.replace('LOG_LEVEL = "info"', 'LOG_LEVEL = "debug"'))
    reporter = RecordingReporter()
    ctx = Context(config=load_config(cwd=envs.cwd, env=envs.env), cwd=envs.cwd, reporter=reporter)
    calls: list[str] = []
    ctx.aws.call_hooks.append(lambda service, operation: calls.append(operation))
    before = envs.state()
    result = deploy(ctx, version="1.2.0", timeout=None, wait=True, dry_run=True)
    assert result.extra["dry_run"] is True and result.extra["plan"]["action"] == "register"
    assert calls and all(op.startswith(("Describe", "List", "BatchGet", "Get")) for op in calls), calls
    assert envs.state() == before
    assert any("LOG_LEVEL: 'info' -> 'debug'" in line for line in reporter.texts("info"))


def test_rollback_in_an_environment_returns_to_the_revision_that_ran_there(envs: EnvWorld) -> None:
    deployed(envs, "1.1.0", "--env", "staging")
    first = envs.running("staging")["taskDefinition"]["taskDefinitionArn"]
    envs.ecs.tag_resource(resourceArn=first, tags=[{"key": "releasectl:outcome", "value": "succeeded"}])
    deployed(envs, "1.2.0", "--env", "staging")
    result = envs.cli("--json", "rollback", "--to", "1.1.0", "--no-wait", "--env", "staging")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["action"] == "reuse"
    assert envs.running("staging")["taskDefinition"]["taskDefinitionArn"] == first


def test_status_takes_the_environment(envs: EnvWorld) -> None:
    deployed(envs, "1.2.0")
    staging = json.loads(envs.cli("--json", "status", "--env", "staging").stdout)
    assert staging["version"] == "1.2.0"
    assert envs.cli("status", "--env", "prod").code == 4
