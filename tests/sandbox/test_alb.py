"""The sandbox load balancer: round robin over healthy targets, retries, 503 when there are none."""

from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from releasectl_sandbox.alb import LoadBalancer
from tests.support.sandbox_projects import get


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        text = (
            f"{self.server.name} {self.command} {self.path} {body.decode()} {self.headers['X-Forwarded-For']}"  # type: ignore[attr-defined]
        )
        payload = text.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer


@pytest.fixture
def backends() -> Iterator[list[tuple[str, int]]]:
    servers = []
    for name in ("a", "b"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        server.name = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
    try:
        yield [(s.name, s.server_address[1]) for s in servers]  # type: ignore[attr-defined]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def balancer() -> Iterator[tuple[LoadBalancer, list[tuple[str, int]]]]:
    targets: list[tuple[str, int]] = []
    alb = LoadBalancer(lambda: list(targets))
    alb.start()
    try:
        yield alb, targets
    finally:
        alb.close()


def test_requests_go_round_robin_to_the_healthy_targets(
    balancer: tuple[LoadBalancer, list[tuple[str, int]]], backends: list[tuple[str, int]]
) -> None:
    alb, targets = balancer
    targets.extend(backends)
    answered = {get(f"{alb.url}/x")[1].split()[0] for _ in range(4)}
    assert answered == {"a", "b"}


def test_a_target_that_refuses_is_skipped_and_the_request_still_succeeds(
    balancer: tuple[LoadBalancer, list[tuple[str, int]]], backends: list[tuple[str, int]]
) -> None:
    alb, targets = balancer
    targets.extend([("gone", closed_port()), backends[0]])
    for _ in range(4):
        assert get(f"{alb.url}/")[0] == 200


def test_no_healthy_target_is_a_503_that_names_the_sandbox(
    balancer: tuple[LoadBalancer, list[tuple[str, int]]],
) -> None:
    alb, _ = balancer
    status, body = get(alb.url)
    assert status == 503
    assert "sandbox ALB" in body


def test_method_path_body_and_client_address_reach_the_target(
    balancer: tuple[LoadBalancer, list[tuple[str, int]]], backends: list[tuple[str, int]]
) -> None:
    alb, targets = balancer
    targets.append(backends[1])
    request = urllib.request.Request(f"{alb.url}/submit?q=1", data=b"payload", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.headers["X-Sandbox-Target"] == "b"
        assert response.read().decode() == "b POST /submit?q=1 payload 127.0.0.1"
