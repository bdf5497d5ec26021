"""`build --local` overrides the buildspec's variables the way a start-build override does: with
`--build-env KEY=VALUE`, and with UNIT_TESTS from the caller's environment, as buildspec.yml says."""

from __future__ import annotations

import pytest

from releasectl.commands import build as build_cmd
from releasectl.commands.local_build import build_overrides, local_build
from releasectl.core.errors import UsageError
from tests.commands.test_local_build import commit_buildspec, context, values
from tests.support.cli import run_cli
from tests.support.git import GitRepo
from tests.support.scripted_codebuild import ScriptedBuild, scripted_context

SHOW_VARIABLES = """\
version: 0.2
env:
  variables:
    UNIT_TESTS: "tests"
    OTHER: "from the buildspec"
phases:
  build:
    commands:
      - echo "UNIT_TESTS=$UNIT_TESTS"
      - echo "OTHER=$OTHER"
"""


def test_unit_tests_from_the_environment_overrides_the_buildspec(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, SHOW_VARIABLES)
    ctx = context(git_repo)
    result = local_build(ctx, ref=None, environ={"UNIT_TESTS": "tests/core", "OTHER": "ignored"})
    assert result.extra["status"] == "SUCCEEDED"
    assert values(ctx)["UNIT_TESTS"] == "tests/core"
    # Only what buildspec.yml documents as overridable comes from the caller's environment.
    assert values(ctx)["OTHER"] == "from the buildspec"


def test_env_options_override_the_buildspec_and_the_environment(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, SHOW_VARIABLES)
    ctx = context(git_repo)
    local_build(
        ctx, ref=None, env=["UNIT_TESTS=tests/cli", "OTHER=a=b c"], environ={"UNIT_TESTS": "tests/core"}
    )
    assert values(ctx) == {"UNIT_TESTS": "tests/cli", "OTHER": "a=b c"}


def test_without_overrides_the_buildspec_value_stands(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, SHOW_VARIABLES)
    ctx = context(git_repo)
    local_build(ctx, ref=None, environ={})
    assert values(ctx)["UNIT_TESTS"] == "tests"


@pytest.mark.parametrize("item", ["UNIT_TESTS", "=x", "1X=y", "A B=c"])
def test_an_env_option_that_is_not_key_value_is_a_usage_error(item: str) -> None:
    with pytest.raises(UsageError):
        build_overrides([item], {})


def test_the_cli_passes_env_options_to_the_local_build(git_repo: GitRepo) -> None:
    commit_buildspec(git_repo, SHOW_VARIABLES)
    proc = run_cli("build", "--local", "--build-env", "OTHER=from the option", cwd=git_repo.path)
    assert proc.code == 0, proc.stderr
    assert "OTHER=from the option" in proc.stdout + proc.stderr


def test_a_codebuild_build_sends_env_options_as_start_build_overrides(repo: GitRepo) -> None:
    world = ScriptedBuild().finish(4.0, "SUCCEEDED")
    ctx, _ = scripted_context(world, cwd=repo.path)
    build_cmd.build(ctx, ref=None, follow=True, stop_on_interrupt=False, env={"UNIT_TESTS": "tests/core"})
    (start,) = [params for _, op, params in world.calls if op == "StartBuild"]
    assert start["environmentVariablesOverride"] == [
        {"name": "UNIT_TESTS", "value": "tests/core", "type": "PLAINTEXT"}
    ]
