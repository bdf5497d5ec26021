"""The hello-world service, run as a real process on 127.0.0.1, answers and stops as documented."""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "service" / "hello_world.py"
READY_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ServiceProcess:
    """A service subprocess whose stdout lines are collected as they arrive."""

    def __init__(self, argv: list[str], *, cwd: Path, env: Mapping[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.port = 0
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def next_event(self, event: str, timeout: float = READY_TIMEOUT_S) -> dict[str, Any]:
        """The next stdout JSON object with this event, failing after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {event!r} line within {timeout}s; saw {self.seen}") from None
            record = json.loads(line)
            self.seen.append(record)
            if record.get("event") == event:
                return record

    def wait_ready(self) -> None:
        self.port = int(self.next_event("started")["port"])
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz").status == 200:
                    return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("service never answered /healthz")

    def request(self, method: str, path: str) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request(method, path)
            answer = conn.getresponse()
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
        finally:
            conn.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._pump_thread.join(timeout=5)  # stdout reaches EOF once the process is gone
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def service_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("APP_VERSION", "GIT_COMMIT", "PORT", "HOST")}
    return {**env, "HOST": "127.0.0.1", "PORT": "0", **overrides}


@pytest.fixture
def start_service() -> Iterator[Any]:
    started: list[ServiceProcess] = []

    def start(**env: str) -> ServiceProcess:
        service = ServiceProcess([sys.executable, str(SERVICE)], cwd=ROOT, env=service_env(**env))
        started.append(service)
        service.wait_ready()
        return service

    try:
        yield start
    finally:
        for service in started:
            service.stop()


def test_root_greets_with_the_running_version(start_service: Any) -> None:
    answer = start_service(APP_VERSION="1.4.0").request("GET", "/")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.body.decode() == "Hello from CI/CD! (version 1.4.0)\n"


def test_healthz_answers_ok_as_json(start_service: Any) -> None:
    answer = start_service().request("GET", "/healthz")
    assert (answer.status, answer.headers["content-type"], answer.json()) == (
        200,
        "application/json",
        {"status": "ok"},
    )


def test_version_reports_app_version_git_commit_and_start_time(start_service: Any) -> None:
    before = datetime.now(UTC)
    answer = start_service(APP_VERSION="2.0.1", GIT_COMMIT="a" * 40).request("GET", "/version")
    body = answer.json()
    assert answer.status == 200
    assert (body["version"], body["commit"]) == ("2.0.1", "a" * 40)
    started_at = datetime.fromisoformat(body["started_at"].replace("Z", "+00:00"))
    assert before.replace(microsecond=0) <= started_at <= datetime.now(UTC)


def test_version_falls_back_to_dev_defaults_without_build_metadata(start_service: Any) -> None:
    body = start_service().request("GET", "/version").json()
    assert (body["version"], body["commit"]) == ("0.0.0-dev", "unknown")


def test_unknown_path_is_a_404_json_error(start_service: Any) -> None:
    answer = start_service().request("GET", "/nope?x=1")
    assert answer.status == 404
    assert answer.json() == {"error": "not found", "path": "/nope"}


def test_head_returns_the_get_headers_without_a_body(start_service: Any) -> None:
    service = start_service()
    get, head = service.request("GET", "/"), service.request("HEAD", "/")
    assert head.status == 200
    assert head.body == b""
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.body))


def test_writes_are_refused_with_405_and_the_allowed_methods(start_service: Any) -> None:
    answer = start_service().request("POST", "/")
    assert (answer.status, answer.headers["allow"]) == (405, "GET, HEAD")


def test_every_request_is_one_json_line_on_stdout_and_nothing_on_stderr(start_service: Any) -> None:
    service = start_service()
    service.request("GET", "/version")
    service.request("GET", "/missing")
    logged: dict[str, dict[str, Any]] = {}
    while not {"/version", "/missing"} <= logged.keys():  # lines from handler threads may interleave
        record = service.next_event("request")
        logged[record["path"]] = record
    version, missing = logged["/version"], logged["/missing"]
    assert (version["method"], version["status"], missing["status"]) == ("GET", 200, 404)
    assert isinstance(version["duration_ms"], float | int) and version["duration_ms"] >= 0
    assert datetime.fromisoformat(version["ts"].replace("Z", "+00:00")).tzinfo is not None
    service.proc.send_signal(signal.SIGTERM)
    service.proc.wait(timeout=2)
    assert service.proc.stderr is not None and service.proc.stderr.read() == ""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_shuts_it_down_within_2s_with_exit_0(
    start_service: Any, signum: signal.Signals
) -> None:
    service = start_service()
    sent = time.monotonic()
    service.proc.send_signal(signum)
    assert service.proc.wait(timeout=2) == 0
    assert time.monotonic() - sent < 2
    assert service.next_event("stopping", timeout=1)["signal"] == signum.name
    service.next_event("stopped", timeout=1)


def test_port_comes_from_the_port_variable(start_service: Any) -> None:
    port = free_port()
    service = start_service(PORT=str(port))
    assert service.port == port
    assert service.request("GET", "/healthz").status == 200


def test_once_prints_exactly_the_greeting_and_exits_0() -> None:
    proc = subprocess.run(
        [sys.executable, str(SERVICE), "--once"], capture_output=True, text=True, timeout=30
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Hello from CI/CD!\n", "")


def test_check_mode_is_healthy_only_when_the_server_answers(start_service: Any) -> None:
    service = start_service()

    def check(port: int) -> int:
        env = service_env(PORT=str(port))
        return subprocess.run(
            [sys.executable, str(SERVICE), "--check"], env=env, capture_output=True, timeout=30
        ).returncode

    assert check(service.port) == 0
    assert check(free_port()) == 1


def test_a_bad_port_is_a_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, str(SERVICE)],
        env=service_env(PORT="http"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "PORT must be a number" in proc.stderr
