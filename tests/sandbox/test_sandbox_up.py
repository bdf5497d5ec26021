"""`sandbox up`: provisions what the config names, prints and writes the env, and leaves nothing
running when it stops (SIGTERM of the command, or the end of an in-process Sandbox)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from releasectl.commands.context import Context, RecordingReporter
from releasectl.core.errors import EnvironmentProblem
from releasectl_sandbox.command import sandbox_up
from releasectl_sandbox.process import SandboxProcess
from releasectl_sandbox.sandbox import Sandbox
from releasectl_sandbox.state import ID_ENV, StateDir, pid_alive, processes_with_marker, read_env_file
from tests.support.sandbox_projects import CONFIG, get, init_repo, project_config, service_files, wait_for

pytestmark = pytest.mark.e2e

SLOW_BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - sleep 60
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = {"pyproject.toml": CONFIG, "buildspec.yml": SLOW_BUILDSPEC, **service_files()}
    return init_repo(tmp_path_factory.mktemp("up") / "project", files)


@pytest.fixture(scope="module")
def up(project: Path) -> Iterator[SandboxProcess]:
    """`python -m releasectl_sandbox up` in a child process, as a user (or the demo) runs it."""
    # Module fixtures run before the autouse isolation: keep the developer's AWS settings out.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RELEASECTL_", "CODEBUILD_"))}
    process = SandboxProcess(project, env=env, build_env={"UNIT_TESTS": "tests/test_fast.py"})
    process.start()
    try:
        yield process
    finally:
        process.stop()


def api(up: SandboxProcess, service: str) -> Any:
    env = up.env
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def test_the_env_file_holds_what_to_export(up: SandboxProcess, project: Path) -> None:
    written = read_env_file(project / ".releasectl" / "sandbox.env")
    assert written == up.env
    assert written["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert (written["AWS_ACCESS_KEY_ID"], written["AWS_SECRET_ACCESS_KEY"]) == ("testing", "testing")
    assert written["RELEASECTL_ECR_REPOSITORY"] == "hello-world"
    assert written["RELEASECTL_SANDBOX_STATE"] == str(project / ".releasectl" / "sandbox")


def test_the_release_repository_is_immutable_except_the_floating_tags(up: SandboxProcess) -> None:
    ecr = api(up, "ecr")
    release = ecr.describe_repositories(repositoryNames=["hello-world"])["repositories"][0]
    assert release["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert release["imageTagMutabilityExclusionFilters"] == [
        {"filterType": "WILDCARD", "filter": tag} for tag in ("latest", "staging", "prod")
    ]
    cache = ecr.describe_repositories(repositoryNames=["hello-world-cache"])["repositories"][0]
    assert cache["imageTagMutability"] == "MUTABLE"


def test_the_codebuild_project_builds_this_repository(up: SandboxProcess, project: Path) -> None:
    found = api(up, "codebuild").batch_get_projects(names=["hello-world-release"])["projects"][0]
    assert found["source"]["location"] == str(project)
    variables = {v["name"]: v["value"] for v in found["environment"]["environmentVariables"]}
    assert variables["RELEASECTL_ECS_SERVICE"] == "hello-world"
    assert variables["UNIT_TESTS"] == "tests/test_fast.py"  # --build-env: overrides the buildspec's value
    groups = api(up, "logs").describe_log_groups()["logGroups"]
    assert {"/aws/codebuild/hello-world-release", "/ecs/hello-world"} <= {g["logGroupName"] for g in groups}


def test_the_service_runs_two_tasks_and_the_alb_answers(up: SandboxProcess) -> None:
    found = api(up, "ecs").describe_services(cluster="hello-world", services=["hello-world"])["services"][0]
    assert (found["desiredCount"], found["runningCount"]) == (2, 2)
    assert get(up.alb_url) == (200, "Hello from CI/CD! (version 0.0.0-dev)\n")


def test_sigterm_stops_the_sandbox_and_every_process_it_started(up: SandboxProcess, project: Path) -> None:
    state = StateDir(project / ".releasectl" / "sandbox")
    info = state.read_info()
    assert info is not None
    build = api(up, "codebuild").start_build(projectName="hello-world-release")["build"]["id"]
    wait_for(lambda: len(processes_with_marker(info["marker"])) >= 3, 15, "two tasks and a build running")
    started = state.recorded_pids()
    assert started

    assert up.stop() == 0, up.log_path.read_text()

    assert processes_with_marker(info["marker"]) == []
    assert [pid for pid in started if pid_alive(pid)] == []
    assert not (project / ".releasectl" / "sandbox.env").exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(up.endpoint.rsplit(":", 1)[1])), timeout=1).close()
    assert "sandbox: stopped" in up.log_path.read_text()
    assert build


def test_leaving_an_in_process_sandbox_ends_its_tasks_and_builds(project: Path, tmp_path: Path) -> None:
    with Sandbox(
        project, config=project_config(project), state_dir=tmp_path / "state", env_file=None
    ) as sandbox:
        sandbox.clients().client("codebuild").start_build(projectName="hello-world-release")
        wait_for(lambda: len(processes_with_marker(sandbox.marker)) >= 3, 15, "two tasks and a build running")
        pids = StateDir(tmp_path / "state").recorded_pids()
    assert processes_with_marker(sandbox.marker) == []
    assert [pid for pid in pids if pid_alive(pid)] == []


def test_stopping_returns_only_once_a_stray_process_carrying_its_marker_is_gone(
    project: Path, tmp_path: Path
) -> None:
    sandbox = Sandbox(project, config=project_config(project), state_dir=tmp_path / "state", env_file=None)
    # Nothing the orderly stop knows of: only the marker in its environment ties it to the sandbox.
    stray = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], env={**os.environ, ID_ENV: sandbox.marker}
    )
    try:
        wait_for(lambda: processes_with_marker(sandbox.marker) == [stray.pid], 10, "the stray process")
        sandbox.stop()
        assert processes_with_marker(sandbox.marker) == []
        assert stray.wait(timeout=5) == -signal.SIGKILL
    finally:
        stray.kill()
        stray.wait()


def test_sandbox_up_prints_the_env_and_returns_0_when_stopped(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stop = threading.Event()
    reporter = RecordingReporter()
    ctx = Context(config=project_config(project), cwd=project, reporter=reporter)
    codes: list[int] = []
    env_file = tmp_path / "sandbox.env"
    worker = threading.Thread(
        target=lambda: codes.append(
            sandbox_up(
                ctx, port=None, alb_port=None, state_dir=tmp_path / "state", env_file=env_file, stop=stop
            )
        )
    )
    worker.start()
    try:
        wait_for(lambda: any("sandbox: running" in t for t in reporter.texts()), 30, "the sandbox to be up")
    finally:
        stop.set()
        worker.join(30)
    assert codes == [0]
    out = capsys.readouterr().out
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in out
    assert "# sandbox ready:" in out
    assert not env_file.exists()
    assert all(line.startswith("sandbox:") for line in reporter.texts())


def test_a_port_in_use_is_an_environment_problem_and_starts_nothing(project: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sandbox = Sandbox(
            project, config=project_config(project), state_dir=tmp_path / "s", env_file=None, port=port
        )
        started = time.monotonic()
        with pytest.raises(EnvironmentProblem, match=f"127.0.0.1:{port}"):
            sandbox.start()
    assert time.monotonic() - started < 5
    assert processes_with_marker(sandbox.marker) == []


def _sandbox_up_options() -> set[str]:
    """Every option `releasectl sandbox up` accepts, its own and the global ones."""
    import typer

    from releasectl.cli.app import app

    root = typer.main.get_command(app)
    up = root.commands["sandbox"].commands["up"]  # type: ignore[attr-defined]
    return {name for command in (root, up) for param in command.params for name in param.opts}


def test_a_second_sandbox_up_in_the_same_project_refuses_and_leaves_the_first_running(
    tmp_path: Path,
) -> None:
    project = init_repo(tmp_path / "project", {"pyproject.toml": CONFIG, **service_files()})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RELEASECTL_", "CODEBUILD_"))}
    env_file = project / ".releasectl" / "sandbox.env"
    first = SandboxProcess(project, env=env)
    first.start()
    assert first.pid is not None
    try:
        written = env_file.read_text()

        second = subprocess.run(
            [sys.executable, "-m", "releasectl", "sandbox", "up"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert second.returncode == 4, second.stderr
        lines = second.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: a sandbox (pid "), second.stderr
        assert f"pid {first.pid}" in lines[0]
        named = set(re.findall(r"(?<![\w-])--?[a-z][a-z-]*", lines[0]))
        assert named <= _sandbox_up_options(), named
        assert env_file.read_text() == written
        assert get(first.alb_url)[0] == 200
        assert (
            api(first, "ecs").describe_services(cluster="hello-world", services=["hello-world"])["services"][
                0
            ]["runningCount"]
            == 2
        )
    finally:
        os.kill(first.pid, signal.SIGTERM)  # stopped by its pid, as a user would
        assert first.stop() == 0, first.log_path.read_text()
    assert not env_file.exists()
