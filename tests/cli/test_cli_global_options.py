"""Global options (--region, --profile, --endpoint-url, --json, --config, -v) before or after the command.

Every command is parsed through the real click tree (nothing is invoked), so a command added
later without them fails here; a few runs of the CLI show the options reach what they
steer: the AWS endpoint, and the form an error takes under --json.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import pytest

from releasectl import __version__
from releasectl.cli.options import GLOBAL_NAMES, GlobalOptions, record_global_option, walk
from tests.support.cli import run_cli
from tests.support.click_tree import command_tree, parse_to_leaf
from tests.support.moto_fixtures import create_fargate_service

GLOBALS = (
    "--region",
    "eu-north-1",
    "--profile",
    "ops",
    "--endpoint-url",
    "http://127.0.0.1:4566",
    "--json",
    "--config",
    "ci.toml",
    "-v",
)
EXPECTED = GlobalOptions(
    json_output=True,
    verbose=True,
    region="eu-north-1",
    profile="ops",
    endpoint_url="http://127.0.0.1:4566",
    config=Path("ci.toml"),
)


def leaf_paths() -> list[tuple[str, ...]]:
    return [path for path, command in walk(command_tree()) if path and not isinstance(command, click.Group)]


def required_arguments(path: Sequence[str]) -> list[str]:
    command: click.Command = command_tree()
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return ["x:1" for param in command.params if isinstance(param, click.Argument) and param.required]


def parse(args: Sequence[str]) -> tuple[GlobalOptions, click.Context]:
    """Parse like `releasectl ARGS` down to the leaf command, without invoking anything."""
    options = GlobalOptions()
    return options, parse_to_leaf(args, obj=options)


def without_command(options: GlobalOptions) -> GlobalOptions:
    options.command = None  # set by the top-level callback, which parsing alone does not run
    return options


@pytest.mark.parametrize("path", leaf_paths(), ids=" ".join)
def test_every_command_accepts_every_global_option_after_its_name(path: tuple[str, ...]) -> None:
    options, _ = parse([*path, *required_arguments(path), *GLOBALS])
    assert without_command(options) == EXPECTED


@pytest.mark.parametrize("path", leaf_paths(), ids=" ".join)
def test_global_options_mean_the_same_before_and_after_the_command(path: tuple[str, ...]) -> None:
    before, _ = parse([*GLOBALS, *path, *required_arguments(path)])
    after, _ = parse([*path, *required_arguments(path), *GLOBALS])
    assert before == after == EXPECTED


def test_every_command_is_covered_including_nested_groups() -> None:
    paths = leaf_paths()
    assert ("status",) in paths and ("infra", "deploy") in paths and ("sandbox", "up") in paths
    assert len(paths) >= 17


def test_no_command_gives_a_global_option_a_meaning_of_its_own() -> None:
    # `demo -v` must mean what `-v demo` means: a command reads context.verbose, not its own -v.
    own = {
        (" ".join(path), opt)
        for path, command in walk(command_tree())
        for param in command.params
        if param.callback is not record_global_option
        for opt in getattr(param, "opts", ())
        if opt in GLOBAL_NAMES
    }
    assert own == set()


def test_a_nested_group_accepts_global_options_before_its_subcommand() -> None:
    options, ctx = parse(["infra", "--json", "--region", "eu-north-1", "deploy"])
    assert ctx.command_path == "releasectl infra deploy"
    assert options.json_output and options.region == "eu-north-1"


def test_the_later_of_two_occurrences_wins() -> None:
    options, _ = parse(["--region", "us-east-1", "deploy", "1.2.0", "--region", "eu-north-1"])
    assert options.region == "eu-north-1"


def test_a_global_option_after_the_command_does_not_undo_one_before_it() -> None:
    options, _ = parse(["--json", "-v", "status", "--region", "eu-north-1"])
    assert options.json_output and options.verbose and options.region == "eu-north-1"


def test_the_equals_form_and_command_options_around_it_parse() -> None:
    options, ctx = parse(["deploy", "--region=eu-north-1", "1.2.0", "--timeout", "60", "--json", "--no-wait"])
    assert options.region == "eu-north-1" and options.json_output
    assert {k: ctx.params[k] for k in ("version", "timeout", "wait")} == {
        "version": "1.2.0",
        "timeout": 60,
        "wait": False,
    }


def test_env_is_a_global_option_before_or_after_the_command() -> None:
    before, _ = parse(["--env", "prod", "deploy", "1.2.0"])
    after, _ = parse(["deploy", "1.2.0", "--env=prod"])
    assert before.env == after.env == "prod"


def test_after_double_dash_a_global_option_name_is_an_argument() -> None:
    options, ctx = parse(["logs", "--", "--json"])
    assert ctx.params["build_id"] == "--json"
    assert not options.json_output


def test_combined_short_flags_include_verbose() -> None:
    options, ctx = parse(["logs", "p:1", "-fv"])
    assert ctx.params["follow"] is True and options.verbose


def test_version_flag_stays_eager_and_answers_before_the_command() -> None:
    result = run_cli("--version", "status")
    assert result.code == 0
    assert result.stdout.strip() == f"releasectl {__version__}"


def test_command_help_says_global_options_may_follow_without_listing_them_again() -> None:
    result = run_cli("status", "--help")
    assert result.code == 0
    assert "go before or after the command" in result.stdout
    assert "--endpoint-url TEXT" not in result.stdout


def test_top_level_help_still_lists_the_global_options() -> None:
    result = run_cli("--help")
    for name in (
        "--region",
        "--profile",
        "--endpoint-url",
        "--json",
        "--config",
        "-v, --verbose",
        "--version",
    ):
        assert name in result.stdout


# ----------------------------------------------------------------------------- run


def test_json_after_the_command_turns_an_error_into_one_object(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.releasectl]\ndeploy_timeout = "never"\n')
    result = run_cli("status", "--json", cwd=tmp_path)
    assert result.code == 2
    payload = json.loads(result.stdout)
    assert payload["outcome"] == "error" and payload["command"] == "status"
    assert "deploy_timeout" in payload["message"]


def test_json_after_an_unknown_option_still_reports_one_object(tmp_path: Path) -> None:
    result = run_cli("status", "--wiggle", "--json", cwd=tmp_path)
    assert result.code == 2
    payload = json.loads(result.stdout)
    assert payload["exit_code"] == 2 and "--wiggle" in payload["message"]
    assert len(result.stderr.strip().splitlines()) == 1


def test_json_after_a_bad_option_value_still_reports_one_object(tmp_path: Path) -> None:
    result = run_cli("deploy", "1.2.0", "--timeout", "soon", "--json", cwd=tmp_path)
    assert result.code == 2
    assert "--timeout" in json.loads(result.stdout)["message"]


@pytest.fixture
def service(moto_endpoint: str, tmp_path: Path) -> dict[str, Any]:
    """An ECS service in moto, and a project whose config names it but no endpoint or region."""
    import boto3

    ecs = boto3.client("ecs", endpoint_url=moto_endpoint, region_name="eu-north-1")
    create_fargate_service(
        ecs, cluster="web", service="api", image="123456789012.dkr.ecr.eu-north-1.amazonaws.com/api:1.4.0"
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.releasectl]\necs_cluster = "web"\necs_service = "api"\ncontainer_name = "app"\n'
    )
    return {"endpoint": moto_endpoint, "cwd": tmp_path}


def test_endpoint_and_region_after_the_command_reach_aws(service: dict[str, Any]) -> None:
    # The service exists only in eu-north-1 at the moto endpoint: both options must take effect.
    where = ("--endpoint-url", service["endpoint"], "--region", "eu-north-1")
    after = run_cli("status", *where, "--json", cwd=service["cwd"])
    before = run_cli("--json", *where, "status", cwd=service["cwd"])
    assert after.code == before.code == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert json.loads(after.stdout)["service"] == "api"
