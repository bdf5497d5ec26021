"""The sandbox's load balancer: one HTTP port on 127.0.0.1 in front of the service's tasks.

Requests go round robin to the tasks ECS reports RUNNING and HEALTHY and still wants running
(a task being drained gets no new requests). When a target refuses or drops the connection,
the request goes to the next healthy target (GET and HEAD on any connection error, other
methods only when nothing was sent), so a rollout never shows callers an error. No healthy
target: 503, saying so. Each response names its target in `X-Sandbox-Target`.

A listener whose rule forwards to several target groups with weights (what ECS sets during a
blue/green, canary or linear deployment) first picks the target group, by smooth weighted round
robin over those with a weight and a healthy target, so 10 % is exactly every tenth request;
then a target of it. Every answer a target gives is reported with its target group
(`on_response`), which is what the sandbox's 5xx alarms count.
"""

from __future__ import annotations

import http.client
import itertools
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Target = tuple[str, int]  # (task id, port)
Targets = Callable[[], list[Target]]  # the healthy targets
# (target group, weight, its healthy targets) of each target group the listener forwards to
Groups = Callable[[], list[tuple[str, float, list[Target]]]]

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
_IDEMPOTENT = {"GET", "HEAD", "OPTIONS"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        groups: Groups,
        timeout: float,
        on_response: Callable[[str, int], None],
    ) -> None:
        super().__init__(address, _Handler)
        self.groups = groups
        self.target_timeout = timeout
        self.on_response = on_response
        self.counter = itertools.count()
        self._credit: dict[str, float] = {}
        self._pick_lock = threading.Lock()

    def pick(self, tried: set[str]) -> tuple[str, Target] | None:
        """A target group by smooth weighted round robin, then one of its targets round robin."""
        candidates = []
        for name, weight, targets in self.groups():
            left = [t for t in targets if t[0] not in tried]
            if left and weight > 0:
                candidates.append((name, weight, left))
        if not candidates:
            return None
        with self._pick_lock:
            total = sum(weight for _, weight, _ in candidates)
            for name, weight, _ in candidates:
                self._credit[name] = self._credit.get(name, 0.0) + weight
            name, _, targets = max(candidates, key=lambda c: self._credit[c[0]])
            self._credit[name] -= total
        return name, targets[next(self.counter) % len(targets)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "releasectl-sandbox-alb"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tasks log their own requests to CloudWatch Logs."""

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        client = self.client_address[0]
        headers["X-Forwarded-For"] = ", ".join(p for p in (self.headers.get("X-Forwarded-For"), client) if p)
        headers["X-Forwarded-Proto"] = "http"
        headers["X-Forwarded-Port"] = str(self.server.server_address[1])
        tried: set[str] = set()
        last_error = "no healthy targets"
        while True:
            picked = self.server.pick(tried)
            if picked is None:
                break
            group, (task_id, port) = picked
            tried.add(task_id)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=self.server.target_timeout)
            sent = False
            try:
                connection.connect()
                sent = True
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                last_error = f"target {task_id}: {exc.__class__.__name__}: {exc}"
                connection.close()
                if sent and self.command not in _IDEMPOTENT:
                    self._reply(502, f"sandbox ALB: {last_error}\n".encode())
                    return
                continue
            connection.close()
            self.server.on_response(group, response.status)
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-Sandbox-Target", task_id)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return
        self._reply(503, f"sandbox ALB: 503 Service Unavailable ({last_error})\n".encode())

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _forward


class LoadBalancer:
    """Start with start(), stop with close(); `url` is where to send requests."""

    def __init__(
        self,
        targets: Targets,
        *,
        port: int = 0,
        target_timeout: float = 10.0,
        on_response: Callable[[str, int], None] = lambda _group, _status: None,
    ) -> None:
        self._server = _Server(("127.0.0.1", port), _one_group(targets), target_timeout, on_response)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="sandbox-alb", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, targets: Targets) -> None:
        """From now on, send requests to these targets (a target group's, once its ARN is known)."""
        self._server.groups = _one_group(targets)

    def route_weighted(self, groups: Groups) -> None:
        """From now on, split requests between target groups by the weights `groups` gives."""
        self._server.groups = groups

    def on_response(self, report: Callable[[str, int], None]) -> None:
        """Report (target group, status) of every answer a target gives."""
        self._server.on_response = report

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()


def _one_group(targets: Targets) -> Groups:
    return lambda: [("", 100.0, targets())]
