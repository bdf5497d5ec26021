"""Sandbox ECS tasks as real local processes.

A TaskRunner pulls its image from the sandbox ECR (batch_get_image through the endpoint, blobs
from the blob store), runs the image's ENTRYPOINT + CMD (or the task definition's entryPoint /
command) from the unpacked layer with the image's ENV and the container's environment, health
checks it over HTTP, sends its output to CloudWatch Logs, and stops it the way ECS does:
SIGTERM to the process group, SIGKILL after the stop timeout.

What the sandbox changes so many tasks can share one machine: HOST=127.0.0.1 and a free PORT
of the task's own (whatever the image or task definition say), `python` means the Python that
runs the sandbox, absolute paths that exist in the image are read from its unpacked layer,
and the process runs as the current user (USER is not applied).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from releasectl_sandbox.images import ImageSpec, read_image
from releasectl_sandbox.layer import unpack
from releasectl_sandbox.logship import LogShipper
from releasectl_sandbox.state import ID_ENV, BlobStore, StateDir

_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
_URL_PATH = re.compile(r"https?://[^/\s'\"]+(/[^\s'\")]*)")


@dataclass(frozen=True)
class Timings:
    """Sandbox ECS timings: short, so a rollout takes seconds."""

    tick: float = 0.1  # scheduler period
    health_interval: float = 0.5
    health_timeout: float = 1.0
    health_retries: int = 2  # consecutive failures that make a task UNHEALTHY
    start_period: float = 1.0  # failures in the first seconds of a task do not count
    drain_delay: float = 0.3  # out of the ALB before SIGTERM
    stop_timeout: float = 3.0  # SIGTERM to SIGKILL
    stopped_task_ttl: float = 3600.0  # stopped tasks stay visible to describe_tasks this long
    # One ECS minute (bake times, alarm periods) lasts this many seconds: docs/sandbox.md.
    minute: float = 1.0


class PullError(Exception):
    """The image cannot be pulled: ECS's CannotPullContainerError."""


@dataclass(frozen=True)
class LaunchSpec:
    task_id: str
    image: str
    container: Mapping[str, Any]  # the container definition
    log_group: str | None
    log_stream: str | None
    extra_env: Mapping[str, str]  # the sandbox's: region, marker


class TaskEvents(Protocol):
    def task_started(self, task_id: str, pid: int, port: int, image_digest: str) -> None: ...
    def task_healthy(self, task_id: str) -> None: ...
    def task_unhealthy(self, task_id: str, detail: str) -> None: ...
    def task_exited(self, task_id: str, exit_code: int) -> None: ...
    def task_failed_to_start(self, task_id: str, reason: str) -> None: ...
    def task_stopped(self, task_id: str, exit_code: int | None) -> None: ...


class ImageResolver:
    """Image reference → (runnable parts, unpacked root), each image unpacked once."""

    def __init__(self, ecr: Any, state: StateDir) -> None:
        self.ecr = ecr
        self.state = state
        self.store: BlobStore = state.blobs
        self._lock = threading.Lock()
        self._ready: dict[str, tuple[ImageSpec, Path]] = {}

    def resolve(self, image: str) -> tuple[ImageSpec, Path]:
        from releasectl.core.imageref import parse

        try:
            ref = parse(image)
        except Exception as exc:
            raise PullError(f"invalid image reference {image!r}: {exc}") from None
        image_id = {"imageDigest": ref.digest} if ref.digest else {"imageTag": ref.tag or "latest"}
        try:
            response = self.ecr.batch_get_image(
                repositoryName=ref.repository,
                imageIds=[image_id],
                acceptedMediaTypes=["application/vnd.oci.image.manifest.v1+json"],
            )
        except Exception as exc:
            raise PullError(f"pull image manifest {image}: {exc}") from None
        found = response.get("images") or []
        if not found:
            raise PullError(f"pull image manifest has been retried 1 time(s): {image}: not found")
        manifest = found[0]["imageManifest"]
        digest = found[0]["imageId"]["imageDigest"]
        with self._lock:
            if digest in self._ready:
                return self._ready[digest]
            try:
                spec = read_image(self.store, manifest, digest)
                root = self.state.rootfs / digest.split(":", 1)[1]
                if not root.is_dir():
                    partial = root.with_name(root.name + ".partial")
                    for layer in spec.layer_digests:
                        unpack(self.store.get(layer), partial)
                    partial.mkdir(parents=True, exist_ok=True)
                    os.replace(partial, root)
            except Exception as exc:
                raise PullError(f"{image}: {exc}") from None
            self._ready[digest] = (spec, root)
            return spec, root


def health_path(container: Mapping[str, Any]) -> str:
    """The HTTP path the task definition's health check probes (a URL in its command), else /healthz."""
    command = " ".join(str(part) for part in (container.get("healthCheck") or {}).get("command") or ())
    match = _URL_PATH.search(command)
    return match.group(1) if match else "/healthz"


def task_command(spec: ImageSpec, container: Mapping[str, Any], root: Path) -> list[str]:
    """ENTRYPOINT + CMD as Docker combines them with ECS's overrides, mapped onto this machine."""
    entrypoint = list(container.get("entryPoint") or spec.entrypoint)
    # Overriding the entry point drops the image's CMD, as `docker run --entrypoint` does.
    cmd = list(container.get("command") or ([] if container.get("entryPoint") else spec.cmd))
    argv = entrypoint + cmd
    if not argv:
        return []
    mapped = []
    for index, arg in enumerate(argv):
        if index == 0 and _PYTHON.match(os.path.basename(arg)):
            mapped.append(sys.executable)
        elif arg.startswith("/") and (root / arg.lstrip("/")).exists():
            mapped.append(str(root / arg.lstrip("/")))
        else:
            mapped.append(arg)
    return mapped


def task_environment(
    spec: ImageSpec, container: Mapping[str, Any], port: int, extra: Mapping[str, str]
) -> dict[str, str]:
    env = dict(spec.env)
    env.update(
        {str(e["name"]): str(e.get("value", "")) for e in container.get("environment") or () if "name" in e}
    )
    env.update(extra)
    env.update({"HOST": "127.0.0.1", "PORT": str(port), "PATH": os.environ.get("PATH", os.defpath)})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_check(port: int, path: str, timeout: float) -> tuple[bool, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": "releasectl-sandbox-health-check"})
        response = connection.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as exc:
        return False, f"GET {path}: {exc.__class__.__name__}: {exc}"
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return True, f"GET {path}: {response.status}"
    return False, f"GET {path} answered {response.status}"


@dataclass
class TaskRunner:
    spec: LaunchSpec
    resolver: ImageResolver
    events: TaskEvents
    timings: Timings
    shipper: LogShipper
    state: StateDir
    checker: Callable[[int, str, float], tuple[bool, str]] = http_check
    _stop: threading.Event = field(default_factory=threading.Event)
    _now: threading.Event = field(default_factory=threading.Event)  # stop without draining
    _thread: threading.Thread | None = None
    _proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"sandbox-task-{self.spec.task_id[:8]}", daemon=True
        )
        self._thread.start()

    def request_stop(self, *, drain: bool = True) -> None:
        if not drain:
            self._now.set()
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        task_id = self.spec.task_id
        try:
            image, root = self.resolver.resolve(self.spec.image)
        except PullError as exc:
            self.events.task_failed_to_start(task_id, f"CannotPullContainerError: {exc}")
            return
        argv = task_command(image, self.spec.container, root)
        if not argv:
            self.events.task_failed_to_start(task_id, "CannotStartContainerError: no command specified")
            return
        if self._stop.is_set():
            self.events.task_stopped(task_id, None)
            return
        port = free_port()
        workdir = root / image.workdir.lstrip("/")
        workdir.mkdir(parents=True, exist_ok=True)
        env = task_environment(image, self.spec.container, port, self.spec.extra_env)
        try:
            proc = subprocess.Popen(
                argv,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            self.events.task_failed_to_start(task_id, f"CannotStartContainerError: {exc}")
            return
        self._proc = proc
        self.state.record_pid(proc.pid, f"task {task_id} {' '.join(argv)}")
        pump = threading.Thread(target=self._pump, args=(proc,), daemon=True)
        pump.start()
        self.events.task_started(task_id, proc.pid, port, image.digest)
        self._watch(proc, port)
        code = self._end(proc)
        pump.join(timeout=2)
        self.events.task_stopped(task_id, code)

    def _watch(self, proc: subprocess.Popen[bytes], port: int) -> None:
        path = health_path(self.spec.container)
        started = time.monotonic()
        healthy = reported = False
        failures = 0
        while not self._stop.wait(self.timings.health_interval):
            code = proc.poll()
            if code is not None:
                self.events.task_exited(self.spec.task_id, code)
                self._stop.wait()
                return
            ok, detail = self.checker(port, path, self.timings.health_timeout)
            if ok:
                failures = 0
                if not healthy:
                    healthy = True
                    self.events.task_healthy(self.spec.task_id)
                continue
            if not healthy and time.monotonic() - started < self.timings.start_period:
                continue
            failures += 1
            if failures >= self.timings.health_retries and not reported:
                reported = True
                self.events.task_unhealthy(self.spec.task_id, detail)

    def _end(self, proc: subprocess.Popen[bytes]) -> int | None:
        if proc.poll() is None and not self._now.is_set():
            # Deregistered from the load balancer already; let in-flight requests finish.
            self._now.wait(self.timings.drain_delay)
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=self.timings.stop_timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        # Whatever the task started outlives it no more than the task itself.
        _signal_group(proc.pid, signal.SIGKILL)
        return proc.returncode

    def _pump(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        group, stream = self.spec.log_group, self.spec.log_stream
        with proc.stdout:
            for raw in iter(proc.stdout.readline, b""):
                if group and stream:
                    self.shipper.write(group, stream, raw.decode("utf-8", errors="replace").rstrip("\r\n"))


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def awslogs_location(container: Mapping[str, Any], task_id: str) -> tuple[str | None, str | None]:
    """(group, stream) the awslogs driver writes to: stream `prefix/container/task-id`."""
    config = container.get("logConfiguration") or {}
    if config.get("logDriver") != "awslogs":
        return None, None
    options = config.get("options") or {}
    group = options.get("awslogs-group")
    prefix = options.get("awslogs-stream-prefix")
    name = container.get("name", "container")
    stream = f"{prefix}/{name}/{task_id}" if prefix else task_id
    return (group, stream) if group else (None, None)


def marker_env(marker: str, region: str) -> dict[str, str]:
    return {ID_ENV: marker, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}


def stop_all(runners: Sequence[TaskRunner], timeout: float) -> None:
    for runner in runners:
        runner.request_stop(drain=False)
    deadline = time.monotonic() + timeout
    for runner in runners:
        runner.join(max(0.1, deadline - time.monotonic()))
