"""A Docker engine for the image tests: the client, the images they build, the containers they run.

The engine is the one DOCKER_HOST names (scripts/docker-engine.sh starts a private one and prints
it); DOCKER_CLI picks the client when the first `docker` on PATH is not the engine's own. Without
an answering engine every image test is skipped, with the reason, so `make test` on a machine
without Docker still passes; CI starts the engine, so there they run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ENGINE_SCRIPT = ROOT / "scripts" / "docker-engine.sh"
# Set it to an image the engine has (e.g. the pinned python base) to skip making one offline.
BASE_VAR = "IMAGE_TESTS_BASE"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Docker:
    """The `docker` client, talking to one engine."""

    executable: str
    env: Mapping[str, str] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.executable, *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc

    def inspect(self, ref: str) -> dict[str, Any]:
        data = json.loads(self.run("inspect", ref).stdout)
        assert isinstance(data, list) and len(data) == 1
        return dict(data[0])

    def build(self, context: Path, tag: str, build_args: Mapping[str, str]) -> str:
        """`docker build` with BuildKit; returns its plain progress log (which steps were CACHED)."""
        argv = ["build", "--progress=plain", "--tag", tag]
        for name, value in build_args.items():
            argv += ["--build-arg", f"{name}={value}"]
        proc = subprocess.run(
            [self.executable, *argv, str(context)],
            env={**os.environ, **self.env, "DOCKER_BUILDKIT": "1"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            raise AssertionError(f"docker build exited {proc.returncode}:\n{proc.stderr[-3000:]}")
        return proc.stderr + proc.stdout


@cache
def engine() -> tuple[Docker | None, str]:
    """The engine's client, or None and why there is none."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return None, 'DOCKER_HOST is not set (start an engine: eval "$(scripts/docker-engine.sh start)")'
    executable = os.environ.get("DOCKER_CLI") or shutil.which("docker")
    if not executable:
        return None, "no docker client on PATH (apt-get install docker.io, or set DOCKER_CLI)"
    docker = Docker(executable, {"DOCKER_HOST": host})
    try:
        answer = docker.run("version", "--format", "{{.Server.Version}}", check=False, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"the engine at {host} does not answer: {exc}"
    if answer.returncode != 0:
        last = (answer.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"the engine at {host} does not answer: {last}"
    return docker, f"Docker {answer.stdout.strip()} at {host}"


def make_base(docker: Docker, tag: str) -> str:
    """The base image: IMAGE_TESTS_BASE if set, else this machine's python3 imported offline."""
    given = os.environ.get(BASE_VAR)
    if given:
        return given
    subprocess.run(
        ["bash", str(ENGINE_SCRIPT), "base", tag],
        env={**os.environ, **docker.env, "DOCKER": docker.executable},
        check=True,
        capture_output=True,
        timeout=120,
    )
    return tag


@dataclass
class Container:
    docker: Docker
    id: str
    port: int

    def get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=timeout) as response:  # a loopback URL built here
            return int(response.status), bytes(response.read())

    def state(self) -> dict[str, Any]:
        return dict(self.docker.inspect(self.id)["State"])

    def health(self) -> str:
        return str(self.state().get("Health", {}).get("Status", "none"))

    def wait_health(self, status: str, timeout: float) -> float:
        """Seconds until the engine reports `status`; fails after `timeout`."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.health() == status:
                return time.monotonic() - started
            time.sleep(0.25)
        raise AssertionError(f"not {status} after {timeout:.0f} s: {self.state().get('Health')}")

    def wait_serving(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.get("/healthz", timeout=1)
                return
            except OSError:
                if time.monotonic() > deadline:
                    logs = self.docker.run("logs", self.id, check=False)
                    raise AssertionError(
                        f"not serving after {timeout} s: {logs.stdout}{logs.stderr}"
                    ) from None
                time.sleep(0.1)

    def remove(self) -> None:
        self.docker.run("rm", "--force", self.id, check=False)


def start(docker: Docker, image: str, *extra: str) -> Container:
    """Run the image as ECS would, hardened: read-only root, no capabilities, no privilege gain.

    Host networking (the engine runs with no bridge), bound to 127.0.0.1 on a free port.
    """
    port = free_port()
    cid = docker.run(
        "run",
        "--detach",
        "--network",
        "host",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--env",
        f"PORT={port}",
        "--env",
        "HOST=127.0.0.1",
        *extra,
        image,
    ).stdout.strip()
    return Container(docker, cid, port)
