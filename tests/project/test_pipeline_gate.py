"""The pipeline's test gate: fast (the unit layer, in parallel, pip's cache kept), pinned (a
hash-pinned lock file) and safe (a CodeBuild project whose role cannot push, delete or deploy);
and the release build pulls its base and BuildKit images by the digests the repository pins."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from releasectl.core.config import DEFAULT_BUILDKIT_IMAGE
from releasectl.localbuild.buildspec import Buildspec, parse_buildspec
from tests.project.test_template import CfnLoader, as_list, props

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "ci.lock"
RELEASE_LOCK = ROOT / "requirements" / "release.lock"
SLOW_LAYERS = ("tests/sandbox", "tests/e2e", "tests/reliability", "tests/image")
FORBIDDEN_TO_TESTS = ("ecr:Put*", "ecr:BatchDelete*", "ecr:Upload*", "ecr:CompleteLayerUpload", "ecs:Update*")


def spec(name: str) -> Buildspec:
    return parse_buildspec((ROOT / name).read_text(encoding="utf-8"), source=name)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load((ROOT / "infra" / "releasectl.yaml").read_text(), Loader=CfnLoader)  # SafeLoader


def pytest_command(buildspec: Buildspec) -> list[str]:
    pre_build = buildspec.phase("pre_build")
    assert pre_build is not None
    (command,) = [c for c in pre_build.commands if "pytest" in c]
    line = next(line for line in command.splitlines() if "pytest" in line)
    return shlex.split(line)


# ----------------------------------------------------------------------------- the lock file


def locked_names(lock: Path) -> set[str]:
    return set(re.findall(r"^([a-z0-9._-]+)==", lock.read_text(encoding="utf-8"), flags=re.MULTILINE))


@pytest.mark.parametrize("lock", [LOCK, RELEASE_LOCK], ids=lambda p: p.name)
def test_every_locked_requirement_is_pinned_by_version_and_hash(lock: Path) -> None:
    blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text(encoding="utf-8").split("\n", 2)[2])
    requirements = [b for b in blocks if b.strip() and not b.startswith("#")]
    assert len(requirements) > 10
    for block in requirements:
        assert re.match(r"^[A-Za-z0-9._-]+(\[[^\]]+\])?==[^\s;]+", block), block.splitlines()[0]
        assert "--hash=sha256:" in block, block.splitlines()[0]


def test_the_locks_hold_what_the_installs_need() -> None:
    runtime = {"typer", "boto3", "rich", "pyyaml", "tomlkit", "setuptools"}
    assert runtime <= locked_names(RELEASE_LOCK)
    assert not {"pytest", "moto", "semver"} & locked_names(RELEASE_LOCK)
    assert runtime | {"moto", "pytest", "pytest-xdist", "semver", "detect-secrets"} <= locked_names(LOCK)


def install_lines(name: str) -> list[str]:
    install = spec(name).phase("install")
    assert install is not None
    return [line.strip() for c in install.commands for line in c.splitlines()]


@pytest.mark.parametrize("name", ["buildspec.yml", "buildspec-test.yml"])
def test_the_pipeline_installs_only_hash_pinned_packages(name: str) -> None:
    pip = [line for line in install_lines(name) if "pip install" in line]
    locked = [line for line in pip if " -r " in line]
    assert len(locked) == 1 and "--require-hashes" in locked[0]
    # The project itself: no dependency resolution and no build isolation, so nothing unpinned comes in.
    for line in pip:
        assert "--no-deps" in line, line


def test_a_build_that_runs_no_tests_installs_no_test_tools() -> None:
    lines = install_lines("buildspec.yml")
    assert "lock=requirements/ci.lock" in lines
    assert 'if [ "$RUN_TESTS" = "no" ]; then lock=requirements/release.lock; fi' in lines
    assert any(line.endswith('-r "$lock"') for line in lines)
    assert any(line.endswith("-r requirements/ci.lock") for line in install_lines("buildspec-test.yml"))


# ----------------------------------------------------------------------------- the test gate


@pytest.mark.parametrize("name", ["buildspec.yml", "buildspec-test.yml"])
def test_the_gate_is_the_unit_layer_in_parallel(name: str) -> None:
    buildspec = spec(name)
    layers = buildspec.variables["UNIT_TESTS"].split()
    assert layers and all((ROOT / layer).is_dir() for layer in layers)
    assert not set(layers) & set(SLOW_LAYERS)
    words = pytest_command(buildspec)
    assert words[words.index("-n") + 1] == "$TEST_WORKERS"
    assert buildspec.variables["TEST_WORKERS"] == "auto"
    assert "not slow" in words


def test_both_buildspecs_gate_on_the_same_tests() -> None:
    assert spec("buildspec.yml").variables["UNIT_TESTS"] == spec("buildspec-test.yml").variables["UNIT_TESTS"]


@pytest.mark.parametrize("name", ["buildspec.yml", "buildspec-test.yml"])
def test_pips_cache_is_kept_between_builds(name: str) -> None:
    raw = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    assert raw["cache"]["paths"] == ["/root/.cache/pip/**/*"]


def test_the_test_buildspec_releases_nothing() -> None:
    text = (ROOT / "buildspec-test.yml").read_text(encoding="utf-8")
    assert "releasectl release" not in text and spec("buildspec-test.yml").phase("build") is None


def test_the_test_project_runs_the_test_buildspec_under_its_own_role(template: dict[str, Any]) -> None:
    project = props(template, "TestProject")
    assert project["ServiceRole"] == {"Fn::GetAtt": ["TestBuildRole", "Arn"]}
    assert project["Source"] == {"Type": "CODEPIPELINE", "BuildSpec": "buildspec-test.yml"}
    assert project["Environment"]["PrivilegedMode"] is False
    assert project["Cache"]["Type"] == "S3"
    assert props(template, "BuildProject")["Cache"]["Type"] == "S3"


def test_the_test_role_cannot_push_delete_or_deploy(template: dict[str, Any]) -> None:
    actions = [
        action
        for policy in props(template, "TestBuildRole")["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in as_list(statement["Action"])
    ]
    assert actions
    for action in actions:
        assert not any(re.fullmatch(p.replace("*", ".*"), action) for p in FORBIDDEN_TO_TESTS), action
        assert not action.startswith(("ecs:", "iam:", "ecr:")), action


def test_the_release_runs_only_after_the_tests_passed_and_does_not_rerun_them(
    template: dict[str, Any],
) -> None:
    stages = {s["Name"]: s for s in props(template, "Pipeline")["Stages"]}
    assert list(stages)[:3] == ["Source", "Test", "ReleaseStaging"]
    (test,) = stages["Test"]["Actions"]
    assert test["Configuration"]["ProjectName"] == {"Ref": "TestProject"}
    (release,) = stages["ReleaseStaging"]["Actions"]
    assert '"RUN_TESTS", "value": "no"' in release["Configuration"]["EnvironmentVariables"]
    assert spec("buildspec.yml").variables["RUN_TESTS"] == "yes"


# ----------------------------------------------------------------------------- pinned pulls


def environment(template: dict[str, Any]) -> dict[str, Any]:
    variables = props(template, "BuildProject")["Environment"]["EnvironmentVariables"]
    return {v["Name"]: v["Value"] for v in variables}


def test_the_release_pulls_the_base_and_buildkit_images_through_the_cache_by_the_pinned_digests(
    template: dict[str, Any],
) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    (base,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, flags=re.MULTILINE)
    rule = props(template, "DockerHubPullThroughCache")
    assert template["Resources"]["DockerHubPullThroughCache"]["Condition"] == "UsePullThroughCache"
    assert (rule["UpstreamRegistry"], rule["UpstreamRegistryUrl"]) == ("docker-hub", "registry-1.docker.io")
    variables = environment(template)
    for name, pinned, upstream in (
        ("RELEASECTL_BASE_IMAGE", base, f"library/{base}"),
        ("RELEASECTL_BUILDKIT_IMAGE", DEFAULT_BUILDKIT_IMAGE, DEFAULT_BUILDKIT_IMAGE),
    ):
        condition, cached, direct = variables[name]["Fn::If"]
        assert condition == "UsePullThroughCache"
        assert direct == pinned
        assert cached["Fn::Sub"].endswith("/${PullThroughCachePrefix}/" + upstream)


def test_the_release_role_may_pull_through_the_cache_prefix_only(template: dict[str, Any]) -> None:
    statements = props(template, "CodeBuildRole")["Policies"][0]["PolicyDocument"]["Statement"]
    (pull,) = [s for s in statements if "ecr:BatchImportUpstreamImage" in as_list(s["Action"])]
    assert pull["Resource"]["Fn::Sub"].endswith(":repository/${PullThroughCachePrefix}/*")
    assert "ecr:PutImage" not in as_list(pull["Action"])
