"""Ctrl-C during build log following, deploy waiting and release: exit 130, one line saying what
was in flight, and AWS state that matches what that line says."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_state import client, ledger_problems, snapshot
from tests.support.cli import one_line_error, run_cli, start_to_interrupt
from tests.support.faultproxy import FaultProxy
from tests.support.flows import PROJECT, SHOP, docker_env, release_world, source_repo
from tests.support.git import GitRepo
from tests.support.moto_fixtures import create_codebuild_project


def read_until(stream: Any, marker: str, seen: list[str], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return line
    raise AssertionError(f"{marker!r} never appeared in: {''.join(seen)}")


class Ticker:
    """Keeps appending lines to a build's log stream, as a build that never ends would."""

    def __init__(self, endpoint: str, build_id: str) -> None:
        self.logs = client(endpoint, "logs")
        self.group, self.stream = f"/aws/codebuild/{PROJECT}", build_id.split(":", 1)[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.logs.create_log_group(logGroupName=self.group)
        self.logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
        for n in itertools.count():
            if self.stop.wait(0.2):
                return
            self.logs.put_log_events(
                logGroupName=self.group,
                logStreamName=self.stream,
                logEvents=[{"timestamp": int(time.time() * 1000), "message": f"tick {n}\n"}],
            )

    def __enter__(self) -> Ticker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


@pytest.fixture
def project(aws_endpoint: str, git_repo: GitRepo) -> GitRepo:
    create_codebuild_project(client(aws_endpoint, "codebuild"), PROJECT)
    git_repo.commit("feat: first")
    return git_repo


def interrupt_build(endpoint: str, repo: GitRepo, *extra: str) -> tuple[int, str, str]:
    """`releasectl build` on a build whose log keeps growing, Ctrl-C once lines are streaming."""
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "RELEASECTL_CODEBUILD_PROJECT": PROJECT}
    proc = start_to_interrupt(
        [sys.executable, "-m", "releasectl", "build", *extra],
        cwd=repo.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seen: list[str] = []
    try:
        started = read_until(proc.stderr, "started build ", seen)
        build_id = started.split("started build ", 1)[1].split()[0]
        with Ticker(endpoint, build_id):
            read_until(proc.stderr, "tick ", seen)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, build_id, "".join(seen) + err


def build_status(endpoint: str, build_id: str) -> str:
    return str(client(endpoint, "codebuild").batch_get_builds(ids=[build_id])["builds"][0]["buildStatus"])


def test_ctrl_c_while_following_a_build_exits_130_and_says_the_build_still_runs(
    aws_endpoint: str, project: GitRepo
) -> None:
    code, build_id, stderr = interrupt_build(aws_endpoint, project)

    assert code == 130, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert errors == [errors[0]] and "Traceback" not in stderr
    assert f"build {build_id} is still running" in errors[0]
    assert f"releasectl logs {build_id} --follow" in errors[0]
    assert build_status(aws_endpoint, build_id) != "STOPPED"  # it said it left the build alone


def test_ctrl_c_with_stop_on_interrupt_stops_the_build_and_says_so(
    aws_endpoint: str, project: GitRepo
) -> None:
    # moto reports every build SUCCEEDED whenever it is read, so the StopBuild call itself is
    # what is checked, on its way through a proxy that injects nothing.
    with FaultProxy(aws_endpoint) as proxy:
        code, build_id, stderr = interrupt_build(proxy.url, project, "--stop-on-interrupt")

    assert code == 130, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr
    assert f"build {build_id} was asked to stop" in errors[0]
    stops = [json.loads(seen.body) for seen in proxy.log if seen.operation == "StopBuild"]
    assert stops == [{"id": build_id}]


# ----------------------------------------------------------------------------- deploy wait


@pytest.fixture
def ctrl_c_on_first_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's real clock, except that its first sleep is a Ctrl-C."""
    from releasectl.core.clock import SystemClock

    ticks = itertools.count()
    monkeypatch.setattr(SystemClock, "now", lambda self: float(next(ticks)))

    def sleep(self: SystemClock, seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(SystemClock, "sleep", sleep)


@pytest.mark.parametrize("command", [("deploy", "1.2.0"), ("rollback", "--to", "1.1.0")])
def test_ctrl_c_while_waiting_for_a_rollout_exits_130_naming_the_deployment_ecs_carries_on_with(
    command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ctrl_c_on_first_wait: None
) -> None:
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.commands import deploy as deploy_module
    from releasectl.commands import rollback as rollback_module
    from tests.support.scripted_ecs import REPO_URI, ScriptedEcs, digest, release, task_definition_body

    fake = ScriptedEcs()
    first = fake.add_revision(
        task_definition_body(image=f"{REPO_URI}@{digest(1)}"),
        tags={"releasectl:version": "1.1.0", "releasectl:outcome": "succeeded"},
    )
    fake.add_revision(task_definition_body(image=f"{REPO_URI}@{digest(2)}"))
    current = (
        first
        if command[0] == "deploy"
        else fake.add_revision(task_definition_body(image=f"{REPO_URI}@{digest(2)}"))
    )
    fake.start_service(current)
    api = EcsApi(fake, cluster=fake.cluster, service=fake.service_name)
    for module in (deploy_module, rollback_module):
        monkeypatch.setattr(module, "boundary", lambda ctx: (api, lambda: REPO_URI))
        monkeypatch.setattr(module, "load_releases", lambda ctx: [release("1.2.0", 2), release("1.1.0", 1)])
    (tmp_path / "pyproject.toml").write_text(
        '[tool.releasectl]\necr_repository = "hello-world"\ncontainer_name = "app"\n'
        'ecs_cluster = "web"\necs_service = "hello-world"\n'
    )

    ran = run_cli(*command, cwd=tmp_path)

    assert ran.code == 130, ran.stderr
    assert one_line_error(ran), ran.stderr
    assert fake.rollout is not None
    line = ran.error_lines[0]
    assert f"deployment {fake.rollout.new_id}" in line
    assert "ECS carries on with it" in line
    assert "releasectl status" in line
    # What the line says is what ECS holds: the service points at the revision being rolled out.
    assert fake.service["taskDefinition"] == fake.rollout.new_td
    assert fake.count("update_service") == 1


# ----------------------------------------------------------------------------- release


@pytest.fixture
def blocking_docker(tmp_path: Path, aws_endpoint: str) -> Iterator[dict[str, str]]:
    """The fake docker, except that `buildx build` hangs (as a long build does) after saying so."""
    env = docker_env(tmp_path / "bin", tmp_path / "docker-state", aws_endpoint)
    wrapper_dir = tmp_path / "slow-bin"
    wrapper_dir.mkdir()
    marker = tmp_path / "building"
    wrapper = wrapper_dir / "docker"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'if [ "$1 $2" = "buildx build" ]; then echo "#1 building..."; touch "{marker}"; exec sleep 60; fi\n'
        f'exec "{tmp_path / "bin" / "docker"}" "$@"\n'
    )
    wrapper.chmod(0o755)
    yield {**env, "PATH": f"{wrapper_dir}{os.pathsep}{env['PATH']}", "MARKER": str(marker)}


def test_ctrl_c_during_a_release_build_exits_130_saying_nothing_was_claimed(
    aws_endpoint: str, tmp_path: Path, blocking_docker: dict[str, str]
) -> None:
    release_world(aws_endpoint)
    repo = source_repo(tmp_path / "repo")
    marker = Path(blocking_docker.pop("MARKER"))
    proc = start_to_interrupt(
        [sys.executable, "-m", "releasectl", "release", "--no-deploy"],
        cwd=repo,
        env={**os.environ, **blocking_docker, "AWS_ENDPOINT_URL": aws_endpoint},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert marker.exists(), proc.communicate(timeout=5)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()

    assert proc.returncode == 130, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert "interrupted while building 0.1.0 of commit" in errors[0]
    assert "nothing was claimed" in errors[0]
    state = snapshot(aws_endpoint)
    assert all(tags == () for tags in state["ecr"][SHOP]["images"].values())
    assert ledger_problems(state) == []


# ----------------------------------------------------------------------------- started in the background


def test_a_child_started_to_be_interrupted_takes_ctrl_c_even_when_the_suite_ignores_it() -> None:
    # `nohup make test &` starts the suite with SIGINT ignored, and children inherit that.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = start_to_interrupt(
            [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"],
            stdout=subprocess.PIPE,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == -signal.SIGINT  # an unhandled KeyboardInterrupt ends by SIGINT
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
