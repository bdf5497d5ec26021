"""hello-world: the service releasectl ships. Standard library only.

GET /         plain text greeting with the running version
GET /healthz  {"status": "ok"}
GET /version  {"version", "commit", "started_at"}

Configured by environment: PORT (8080), HOST (0.0.0.0), APP_VERSION, GIT_COMMIT.
One JSON object per line on stdout for every request and lifecycle event.
SIGTERM or SIGINT stops it within a second and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socketserver
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

GREETING = "Hello from CI/CD!"
VERSION = os.environ.get("APP_VERSION") or "0.0.0-dev"
COMMIT = os.environ.get("GIT_COMMIT") or "unknown"
# Longer than an ALB's 60 s idle timeout, so the load balancer always closes
# idle keep-alive connections first and never races a close from this side.
KEEP_ALIVE_TIMEOUT_S = 65

_log_lock = threading.Lock()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


STARTED_AT = utc_now()


def log(**fields: Any) -> None:
    line = json.dumps({"ts": utc_now(), **fields}, separators=(",", ":"))
    with _log_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def route(path: str) -> tuple[int, str, bytes]:
    """(status, content type, body) for a request path."""
    if path == "/":
        return 200, "text/plain; charset=utf-8", f"{GREETING} (version {VERSION})\n".encode()
    if path == "/healthz":
        return 200, "application/json", json.dumps({"status": "ok"}).encode()
    if path == "/version":
        body = {"version": VERSION, "commit": COMMIT, "started_at": STARTED_AT}
        return 200, "application/json", json.dumps(body).encode()
    return 404, "application/json", json.dumps({"error": "not found", "path": path}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hello-world"
    timeout = KEEP_ALIVE_TIMEOUT_S
    _status: int | None = None
    _started: float = 0.0

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._respond(*route(urlsplit(self.path).path))

    def do_HEAD(self) -> None:
        self._respond(*route(urlsplit(self.path).path), head=True)

    def _method_not_allowed(self) -> None:
        # The body, if any, is never read, so the connection cannot be reused.
        self.close_connection = True
        self._respond(405, "application/json", b'{"error": "method not allowed"}', allow="GET, HEAD")

    do_POST = do_PUT = do_PATCH = do_DELETE = _method_not_allowed

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests get JSON too, not the stdlib's HTML page."""
        self.close_connection = True
        body = json.dumps({"error": message or self.responses.get(code, ("error",))[0]}).encode()
        self._respond(code, "application/json", body, head=self.command == "HEAD")

    def _respond(
        self, status: int, content_type: str, body: bytes, *, head: bool = False, allow: str = ""
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if allow:
            self.send_header("Allow", allow)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    # Access logging: the clock starts when a request line arrives and the line
    # is written once the response has been flushed.
    def parse_request(self) -> bool:
        self._started = time.monotonic()
        return super().parse_request()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self._status = int(code) if isinstance(code, int) else 0

    def handle_one_request(self) -> None:
        self._status = None
        self._started = 0.0
        super().handle_one_request()
        if self._status is not None:
            started = self._started or time.monotonic()
            log(
                event="request",
                method=self.command,
                path=getattr(self, "path", ""),
                status=self._status,
                duration_ms=round((time.monotonic() - started) * 1000, 3),
            )

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib's stderr log; the JSON access log replaces it."""


class Server(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not hold up a shutdown

    def server_bind(self) -> None:
        # The stdlib resolves its own hostname here (socket.getfqdn), which can stall start-up
        # for seconds where DNS is slow; the name is only used for CGI, so skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])


def serve(host: str, port: int) -> int:
    server = Server((host, port), Handler)
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    worker = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    worker.start()
    bound_host, bound_port = server.server_address[:2]
    log(event="started", host=str(bound_host), port=bound_port, version=VERSION, commit=COMMIT)
    stop.wait()
    log(event="stopping", signal=received[0] if received else "unknown")
    server.shutdown()
    server.server_close()
    log(event="stopped")
    return 0


def check_health(port: int) -> int:
    """Exit status for the container HEALTHCHECK: 0 when /healthz answers 200."""
    import urllib.request  # here, not at the top: it imports ssl, a third of the serving start-up

    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # an http://127.0.0.1 URL it built  # nosec B310
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The hello-world service.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="print the greeting and exit")
    mode.add_argument("--check", action="store_true", help="probe /healthz on PORT; exit 0 if healthy")
    args = parser.parse_args(argv)
    if args.once:
        print(GREETING)
        return 0
    port_text = os.environ.get("PORT", "8080")
    if not port_text.isdigit() or int(port_text) > 65535:
        parser.error(f"PORT must be a number from 0 to 65535, got {port_text!r}")
    if args.check:
        return check_health(int(port_text))
    # A container must listen on all interfaces; tests and the sandbox pass HOST=127.0.0.1.
    return serve(os.environ.get("HOST", "0.0.0.0"), int(port_text))  # noqa: S104  # nosec B104


if __name__ == "__main__":
    sys.exit(main())
