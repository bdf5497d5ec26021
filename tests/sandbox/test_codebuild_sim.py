"""The sandbox's CodeBuild runs the real buildspec in a checkout of the commit, over time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from releasectl_sandbox.sandbox import Sandbox
from releasectl_sandbox.state import processes_with_marker
from tests.support.cli import run_cli
from tests.support.git import git
from tests.support.sandbox_projects import CONFIG, init_repo, project_config, wait_for

pytestmark = pytest.mark.e2e

PROJECT = "hello-world-release"
BUILDSPEC = """\
version: 0.2
env:
  exported-variables:
    - BUILT_FROM
phases:
  install:
    commands:
      - echo "checkout $CODEBUILD_SRC_DIR at $CODEBUILD_RESOLVED_SOURCE_VERSION"
  build:
    commands:
      - echo "content is $(cat content.txt)"
      - export BUILT_FROM="$(cat content.txt)"
      - if [ -n "$HOLD" ]; then while [ ! -f "$HOLD" ]; do sleep 0.05; done; fi
      - if [ -f fail.txt ]; then echo "failing on purpose"; exit 3; fi
  post_build:
    commands:
      - echo "sandbox=$RELEASECTL_SANDBOX endpoint=$AWS_ENDPOINT_URL repo=$RELEASECTL_ECR_REPOSITORY"
"""


@pytest.fixture(scope="module")
def build_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return init_repo(
        tmp_path_factory.mktemp("codebuild") / "repo",
        {"pyproject.toml": CONFIG, "buildspec.yml": BUILDSPEC, "content.txt": "first\n"},
    )


@pytest.fixture(scope="module")
def sandbox(build_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    state = tmp_path_factory.mktemp("codebuild-state")
    with Sandbox(
        build_project,
        config=project_config(build_project),
        state_dir=state / "sandbox",
        env_file=state / "env",
    ) as running:
        yield running


@pytest.fixture
def codebuild(sandbox: Sandbox) -> Any:
    return sandbox.clients().client("codebuild")


def finished(codebuild: Any, build_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        if build["buildStatus"] != "IN_PROGRESS":
            return dict(build)
        time.sleep(0.1)
    raise AssertionError(f"build {build_id} still IN_PROGRESS after {timeout} s")


def log_lines(sandbox: Sandbox, build: dict[str, Any]) -> list[str]:
    logs = sandbox.clients().client("logs")
    events = logs.get_log_events(
        logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"], startFromHead=True
    )["events"]
    return [e["message"] for e in events]


def phase(build: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in build["phases"] if p["phaseType"] == name)


def test_a_build_runs_the_buildspec_and_succeeds_with_its_log_in_cloudwatch(
    sandbox: Sandbox, codebuild: Any, build_project: Path
) -> None:
    commit = git(build_project, "rev-parse", "HEAD")
    build = finished(
        codebuild, codebuild.start_build(projectName=PROJECT, sourceVersion=commit)["build"]["id"]
    )
    assert build["buildStatus"] == "SUCCEEDED"
    assert build["currentPhase"] == "COMPLETED"
    assert build["resolvedSourceVersion"] == commit
    assert [p["phaseType"] for p in build["phases"]][:4] == [
        "SUBMITTED",
        "QUEUED",
        "PROVISIONING",
        "DOWNLOAD_SOURCE",
    ]
    assert phase(build, "BUILD")["phaseStatus"] == "SUCCEEDED"
    assert build["logs"]["groupName"] == f"/aws/codebuild/{PROJECT}"
    assert build["logs"]["streamName"] == build["id"].split(":", 1)[1]
    wait_for(
        lambda: any("content is first" in line for line in log_lines(sandbox, build)), 5, "the build log"
    )
    lines = log_lines(sandbox, build)
    assert any(f"at {commit}" in line for line in lines)
    assert any(f"sandbox=1 endpoint={sandbox.endpoint} repo=hello-world" in line for line in lines)
    assert any("Entering phase BUILD" in line for line in lines)


def test_exported_variables_are_recorded_on_the_build(codebuild: Any) -> None:
    build = finished(
        codebuild, codebuild.start_build(projectName=PROJECT, sourceVersion="main")["build"]["id"]
    )
    assert build["exportedEnvironmentVariables"] == [{"name": "BUILT_FROM", "value": "first"}]


def test_a_build_checks_out_the_requested_commit_not_the_branch_tip(
    codebuild: Any, build_project: Path
) -> None:
    first = git(build_project, "rev-parse", "HEAD")
    (build_project / "content.txt").write_text("second\n")
    git(build_project, "commit", "-q", "-am", "fix: second")
    try:
        build = finished(
            codebuild, codebuild.start_build(projectName=PROJECT, sourceVersion=first)["build"]["id"]
        )
    finally:
        git(build_project, "reset", "-q", "--hard", first)
    assert build["exportedEnvironmentVariables"] == [{"name": "BUILT_FROM", "value": "first"}]


def test_a_running_build_is_in_progress_in_its_current_phase(codebuild: Any, tmp_path: Path) -> None:
    release = tmp_path / "release-me"
    started = codebuild.start_build(
        projectName=PROJECT,
        sourceVersion="main",
        environmentVariablesOverride=[{"name": "HOLD", "value": str(release), "type": "PLAINTEXT"}],
    )["build"]
    wait_for(
        lambda: codebuild.batch_get_builds(ids=[started["id"]])["builds"][0]["currentPhase"] == "BUILD",
        15,
        "BUILD",
    )
    running = codebuild.batch_get_builds(ids=[started["id"]])["builds"][0]
    assert running["buildStatus"] == "IN_PROGRESS"
    assert phase(running, "INSTALL")["phaseStatus"] == "SUCCEEDED"
    assert "phaseStatus" not in phase(running, "BUILD")
    release.write_text("go")
    assert finished(codebuild, started["id"])["buildStatus"] == "SUCCEEDED"


def test_stop_build_ends_the_running_command_and_the_build_is_stopped(
    sandbox: Sandbox, codebuild: Any, tmp_path: Path
) -> None:
    started = codebuild.start_build(
        projectName=PROJECT,
        sourceVersion="main",
        environmentVariablesOverride=[
            {"name": "HOLD", "value": str(tmp_path / "never"), "type": "PLAINTEXT"}
        ],
    )["build"]
    wait_for(lambda: bool(processes_with_marker(sandbox.marker)), 15, "the build's processes")
    codebuild.stop_build(id=started["id"])
    build = finished(codebuild, started["id"])
    assert build["buildStatus"] == "STOPPED"
    assert phase(build, "BUILD")["phaseStatus"] == "STOPPED"
    wait_for(lambda: not processes_with_marker(sandbox.marker), 5, "the build's processes to end")


def test_a_stopped_build_says_stopped_in_its_log_not_timed_out(
    sandbox: Sandbox, codebuild: Any, tmp_path: Path
) -> None:
    started = codebuild.start_build(
        projectName=PROJECT,
        sourceVersion="main",
        environmentVariablesOverride=[
            {"name": "HOLD", "value": str(tmp_path / "never"), "type": "PLAINTEXT"}
        ],
    )["build"]
    wait_for(lambda: bool(processes_with_marker(sandbox.marker)), 15, "the build's processes")
    codebuild.stop_build(id=started["id"])
    build = finished(codebuild, started["id"])
    logs = sandbox.clients().client("logs")
    group, stream = build["logs"]["groupName"], build["logs"]["streamName"]

    def log() -> list[str]:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
        return [e["message"] for e in events]

    wait_for(lambda: any("(build STOPPED)" in line for line in log()), 10, "the build's last log line")
    lines = log()
    assert any(line.endswith("Phase complete: BUILD State: STOPPED") for line in lines), lines
    assert [line for line in lines if "TIMED_OUT" in line or "timed out" in line] == []
    assert "contexts" not in phase(build, "BUILD")


def test_an_unknown_source_version_fails_the_build_in_download_source(codebuild: Any) -> None:
    build = finished(
        codebuild, codebuild.start_build(projectName=PROJECT, sourceVersion="no-such-branch")["build"]["id"]
    )
    assert build["buildStatus"] == "FAILED"
    download = phase(build, "DOWNLOAD_SOURCE")
    assert download["phaseStatus"] == "FAILED"
    assert "no-such-branch" in download["contexts"][0]["message"]


def test_releasectl_build_of_a_failing_commit_exits_1_showing_the_log(
    sandbox: Sandbox, build_project: Path
) -> None:
    base = git(build_project, "rev-parse", "HEAD")
    (build_project / "fail.txt").write_text("fail\n")
    git(build_project, "add", "fail.txt")
    git(build_project, "commit", "-q", "-m", "fix: breaks the build")
    failing = git(build_project, "rev-parse", "HEAD")
    git(build_project, "reset", "-q", "--hard", base)  # the commit stays reachable by its sha
    result = run_cli("--json", "build", "--ref", failing, cwd=build_project, env=sandbox.env, timeout=90)
    assert result.code == 1, result.stderr
    assert "failing on purpose" in result.stderr
    assert "Error while executing command" in result.stderr
    assert '"status": "FAILED"' in result.stdout


def test_releasectl_build_of_a_good_commit_exits_0_with_exported_variables(
    sandbox: Sandbox, build_project: Path
) -> None:
    result = run_cli("build", cwd=build_project, env=sandbox.env, timeout=90)
    assert result.code == 0, result.stderr
    assert "content is first" in result.stderr
    assert "BUILT_FROM=first" in result.stderr
