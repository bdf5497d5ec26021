"""`releasectl infra`: input checking, outputs as config or env, and the commands end to end.

Handlers are driven with a hand-built Context; the last tests run the CLI against the moto
server, through the `infra` commands registered in releasectl/cli/app.py.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from releasectl.adapters.aws.clients import AwsClients
from releasectl.cli.render import write_view
from releasectl.commands import infra
from releasectl.commands.context import Context, RecordingReporter
from releasectl.core.changeset import env_exports, parse_parameter_options, update_pyproject
from releasectl.core.clock import FakeClock
from releasectl.core.config import Config, load_config
from releasectl.core.errors import EnvironmentProblem, ExitCode, UsageError
from tests.support.cli import run_cli
from tests.support.moto_fixtures import infra_context

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Retention:
    Type: Number
    Default: 7
Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: !Ref Retention
Outputs:
  EcrRepository:
    Value: hello-world
  CacheRepository:
    Value: hello-world-cache
  EcsCluster:
    Value: hello-world
  EcsService:
    Value: hello-world
  ContainerName:
    Value: app
  CodebuildProject:
    Value: hello-world-release
  Region:
    Value: !Ref AWS::Region
  ServiceUrl:
    Value: http://example.invalid
"""
PYPROJECT = """\
[project]
name = "demo"  # the package

[tool.releasectl]
# where releases go
ecr_repository = "old-name"  # set by hand
deploy_timeout = 600

[tool.ruff]
line-length = 110
"""


class NoAwsCalls:
    """A client that fails the test if anything reaches AWS."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected AWS call: {name}")


def offline_ctx(tmp_path: Path) -> Context:
    clients = AwsClients(region="us-east-1", profile=None, endpoint_url=None)
    clients.set_client("cloudformation", NoAwsCalls())
    return Context(
        config=Config(), cwd=tmp_path, reporter=RecordingReporter(), clock=FakeClock(), _aws=clients
    )


@pytest.fixture
def moto_ctx(tmp_path: Path) -> Iterator[Context]:
    with infra_context(tmp_path, TEMPLATE) as ctx:
        yield ctx


def create_stack_with_outputs(name: str = "releasectl") -> None:
    # create_stack, not a change set: moto drops a stack's outputs when it executes a change set.
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName=name, TemplateBody=TEMPLATE
    )


# ----------------------------------------------------------------------------- input checking


@pytest.mark.parametrize("item", ["DesiredCount", "=2", "Desired-Count=2", " =x"])
def test_malformed_parameter_is_a_usage_error_before_any_aws_call(tmp_path: Path, item: str) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "releasectl.yaml").write_text(TEMPLATE)

    with pytest.raises(UsageError) as caught:
        infra.deploy(offline_ctx(tmp_path), parameters=[item])

    assert caught.value.exit_code == ExitCode.USAGE
    assert "KEY=VALUE" in caught.value.message


def test_parameter_values_may_contain_equals_signs_and_be_empty() -> None:
    assert parse_parameter_options(["CertificateArn=", "Query=a=b"]) == {"CertificateArn": "", "Query": "a=b"}


def test_a_parameter_given_twice_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="given twice"):
        parse_parameter_options(["DesiredCount=1", "DesiredCount=2"])


def test_a_parameter_the_template_does_not_declare_is_a_usage_error(moto_ctx: Context) -> None:
    with pytest.raises(UsageError, match="DesiredCont is not a parameter") as caught:
        infra.deploy(moto_ctx, parameters=["DesiredCont=2"])

    assert "Retention" in (caught.value.hint or "")


def test_a_required_parameter_without_a_value_is_a_usage_error(moto_ctx: Context) -> None:
    template = moto_ctx.cwd / "infra" / "releasectl.yaml"
    template.write_text(
        TEMPLATE.replace("Parameters:\n", "Parameters:\n  GitHubRepository:\n    Type: String\n")
    )

    with pytest.raises(UsageError, match="GitHubRepository has no default") as caught:
        infra.diff(moto_ctx)

    assert caught.value.hint == "pass --parameter GitHubRepository=VALUE"


def test_a_missing_template_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        infra.diff(offline_ctx(tmp_path), template=Path("nowhere.yaml"))


def test_destroy_without_yes_changes_nothing_and_exits_2(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        infra.destroy(offline_ctx(tmp_path), stack_name="app")

    assert caught.value.exit_code == ExitCode.USAGE
    assert caught.value.hint == "add --yes to confirm"


# ----------------------------------------------------------------------------- outputs


def test_outputs_of_a_stack_that_does_not_exist_exit_4(moto_ctx: Context) -> None:
    with pytest.raises(EnvironmentProblem) as caught:
        infra.outputs(moto_ctx, stack_name="nothing-here")

    assert caught.value.exit_code == ExitCode.ENVIRONMENT


def test_outputs_map_onto_config_keys(moto_ctx: Context) -> None:
    create_stack_with_outputs()

    view = infra.outputs(moto_ctx)

    assert view.config == {
        "region": "us-east-1",
        "ecr_repository": "hello-world",
        "cache_repository": "hello-world-cache",
        "codebuild_project": "hello-world-release",
        "ecs_cluster": "hello-world",
        "ecs_service": "hello-world",
        "container_name": "app",
    }
    assert view.to_json()["outputs"]["ServiceUrl"] == "http://example.invalid"


def test_outputs_write_config_edits_only_tool_releasectl(moto_ctx: Context) -> None:
    create_stack_with_outputs()
    pyproject = moto_ctx.cwd / "pyproject.toml"
    pyproject.write_text(PYPROJECT)

    infra.outputs(moto_ctx, write_config=True)

    text = pyproject.read_text()
    assert text.startswith(
        '[project]\nname = "demo"  # the package\n\n[tool.releasectl]\n# where releases go\n'
    )
    assert 'ecr_repository = "hello-world"  # set by hand\n' in text
    assert text.endswith("[tool.ruff]\nline-length = 110\n")
    config = load_config(env={}, config_path=pyproject)
    assert (config.ecs_service, config.region, config.deploy_timeout) == ("hello-world", "us-east-1", 600)


def test_outputs_env_prints_one_export_per_config_key(
    moto_ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    create_stack_with_outputs()

    write_view(infra.outputs(moto_ctx, env=True), json_output=False)

    lines = capsys.readouterr().out.splitlines()
    assert "export RELEASECTL_ECS_CLUSTER=hello-world" in lines
    assert len(lines) == 7 and all(line.startswith("export RELEASECTL_") for line in lines)


def test_env_exports_are_shell_quoted() -> None:
    assert env_exports({"ecs_service": "it's"}) == ["export RELEASECTL_ECS_SERVICE='it'\"'\"'s'"]


def test_update_pyproject_appends_the_section_when_missing() -> None:
    text = update_pyproject('[project]\nname = "x"', {"ecs_cluster": "c"})

    assert text == '[project]\nname = "x"\n\n[tool.releasectl]\necs_cluster = "c"\n'


def test_update_pyproject_adds_new_keys_at_the_end_of_the_section() -> None:
    text = update_pyproject('[tool.releasectl]\nregion = "a"\n\n[tool.other]\nx = 1\n', {"ecs_cluster": "c"})

    assert text == '[tool.releasectl]\nregion = "a"\necs_cluster = "c"\n\n[tool.other]\nx = 1\n'


def test_update_pyproject_escapes_values() -> None:
    text = update_pyproject("", {"ecs_service": 'a"b\\c'})

    assert tomllib.loads(text)["tool"]["releasectl"]["ecs_service"] == 'a"b\\c'


def test_update_pyproject_refuses_a_file_that_is_not_toml() -> None:
    with pytest.raises(UsageError, match="not valid TOML"):
        update_pyproject("[tool.releasectl\n", {"region": "x"})


def test_update_pyproject_sets_keys_where_the_section_is_written_as_dotted_keys_or_inline() -> None:
    dotted = update_pyproject('tool.releasectl.region = "a"  # here\n', {"region": "b"})
    inline = update_pyproject('[tool]\nreleasectl = { region = "a" }\n', {"region": "b", "ecs_cluster": "c"})

    assert dotted == 'tool.releasectl.region = "b"  # here\n'
    assert tomllib.loads(inline)["tool"]["releasectl"] == {"region": "b", "ecs_cluster": "c"}


def test_update_pyproject_refuses_a_tool_releasectl_that_is_not_a_table() -> None:
    with pytest.raises(UsageError, match="not a table"):
        update_pyproject('[tool]\nreleasectl = "x"\n', {"region": "x"})


# ----------------------------------------------------------------------------- the CLI


def _cli_has_infra() -> bool:
    from releasectl.cli.app import app

    return any(group.name == "infra" for group in app.registered_groups)


needs_cli = pytest.mark.skipif(not _cli_has_infra(), reason="`releasectl infra` is not registered in cli.py")


@needs_cli
def test_cli_deploy_then_redeploy_then_destroy_against_the_moto_server(
    tmp_path: Path, moto_endpoint: str
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.releasectl]\n")
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "releasectl.yaml").write_text(TEMPLATE)
    base = ("--endpoint-url", moto_endpoint, "--json", "infra")

    first = run_cli(*base, "deploy", "--stack-name", "cli", "-p", "Retention=14", cwd=tmp_path)
    again = run_cli(*base, "deploy", "--stack-name", "cli", cwd=tmp_path)
    refused = run_cli(*base, "destroy", "--stack-name", "cli", cwd=tmp_path)
    gone = run_cli(*base, "destroy", "--stack-name", "cli", "--yes", cwd=tmp_path)

    assert (first.code, json.loads(first.stdout)["outcome"]) == (0, "succeeded"), first.stderr
    assert (again.code, json.loads(again.stdout)["outcome"]) == (0, "noop"), again.stderr
    assert refused.code == 2 and "--yes" in refused.stderr
    assert (gone.code, json.loads(gone.stdout)["outcome"]) == (0, "succeeded"), gone.stderr


@needs_cli
def test_cli_diff_prints_the_change_set(tmp_path: Path, moto_endpoint: str) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.releasectl]\n")
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "releasectl.yaml").write_text(TEMPLATE)

    result = run_cli("--endpoint-url", moto_endpoint, "infra", "diff", "--stack-name", "d", cwd=tmp_path)

    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "stack d would be created: 1 to add, 0 to change, 0 to remove"
    assert "+ Logs  AWS::Logs::LogGroup" in result.stdout


@needs_cli
def test_cli_malformed_parameter_exits_2(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.releasectl]\n")

    result = run_cli("infra", "deploy", "--parameter", "DesiredCount", cwd=tmp_path)

    assert result.code == 2 and "KEY=VALUE" in result.stderr


@needs_cli
def test_infra_acts_on_the_environments_stack_and_names_the_environment(
    tmp_path: Path, moto_endpoint: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.releasectl]\n"
        '[tool.releasectl.environments.staging]\ncluster = "c-staging"\nservice = "s"\n'
        'stack = "shop-staging"\n'
        '[tool.releasectl.environments.prod]\ncluster = "c-prod"\nservice = "s"\nstack = "shop-prod"\n'
    )
    (tmp_path / "infra").mkdir()
    template = TEMPLATE.replace(
        "Parameters:\n", "Parameters:\n  EnvironmentName:\n    Type: String\n    Default: staging\n"
    )
    (tmp_path / "infra" / "releasectl.yaml").write_text(template)

    result = run_cli(
        "--endpoint-url", moto_endpoint, "--json", "infra", "deploy", "--env", "prod", cwd=tmp_path
    )

    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["derived_parameters"] == {"EnvironmentName": "prod"}
    cloudformation = boto3.client("cloudformation", endpoint_url=moto_endpoint, region_name="us-east-1")
    stack = cloudformation.describe_stacks(StackName="shop-prod")["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["EnvironmentName"] == "prod"
