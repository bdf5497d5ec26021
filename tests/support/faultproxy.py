"""A fault-injecting HTTP proxy for AWS API traffic, on 127.0.0.1, for tests and benchmarks.

    with FaultProxy(moto_url, FaultPlan(rate=0.2, seed=7)) as proxy:
        env["AWS_ENDPOINT_URL"] = proxy.url   # releasectl talks to the proxy
        ...
        proxy.injected   # Counter: {"503": n, "throttle": n, "reset": n, "latency": n, "reset_after": n}

Each request either passes through untouched (method, path, headers, body and the backend's
status, headers and body, byte for byte) or gets one fault, drawn from a seeded random.Random:

- "503": HTTP 503 with the error body the request's protocol expects (AWS JSON, smithy
  RPC v2 CBOR, or query XML), never forwarded. (botocore 1.44 talks JSON to CodeBuild, whose
  model lists both protocols; the CBOR shapes serve clients that pick rpc-v2-cbor);
- "throttle": HTTP 400 ThrottlingException in the same protocol-specific shapes (botocore
  parses it as a throttling error for every protocol here, CBOR included), never forwarded;
- "reset": the connection is reset (RST) without an answer, never forwarded;
- "latency": forwarded after an added delay;
- "reset_after": forwarded, the backend's answer read and dropped, the connection reset.
  The backend applied the request but the client cannot know: the case that tests idempotency.

A single-threaded client gets the same faults for the same seed: the draws happen in request
order, under a lock. `match` limits faults to chosen requests (e.g. only PutImage); `forced`
gives a fixed fault to every request it matches (an outage of one call). `stub` answers chosen
requests itself.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import socket
import struct
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

KINDS = ("503", "throttle", "reset", "latency")
# Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, not the message.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


@dataclass(frozen=True)
class Request:
    """What the proxy saw of one request: enough to pick faults and to assert on."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def protocol(self) -> str:
        """json (ECR, ECS, Logs, CodeBuild), cbor (smithy RPC v2), query (CloudFormation, STS) or other."""
        content_type = self.headers.get("content-type", "")
        if "cbor" in content_type or self.headers.get("smithy-protocol") == "rpc-v2-cbor":
            return "cbor"
        if "x-amz-target" in self.headers or "amz-json" in content_type:
            return "json"
        if "x-www-form-urlencoded" in content_type:
            return "query"
        return "other"

    @property
    def operation(self) -> str:
        """The API operation's name, e.g. PutImage, StartBuild, CreateChangeSet ('' if unknown)."""
        target = self.headers.get("x-amz-target")
        if target:
            return target.rsplit(".", 1)[-1]
        if "/operation/" in self.path:  # smithy RPC v2: /service/<Service>/operation/<Operation>
            return self.path.rsplit("/operation/", 1)[-1].split("?", 1)[0]
        if self.protocol == "query":
            values = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"))
            return (values.get("Action") or [""])[0]
        return ""


@dataclass
class FaultPlan:
    """How often and which faults. `rate` is the chance a request gets a fault before it is
    forwarded; `weights` divide that chance among KINDS; `reset_after_rate` is a separate,
    usually smaller, chance of forwarding and then resetting."""

    rate: float = 0.0
    seed: int = 0
    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(KINDS, 1.0))
    reset_after_rate: float = 0.0
    latency_s: tuple[float, float] = (0.002, 0.02)
    match: Callable[[Request], bool] | None = None
    # A kind given to every request `match` accepts, no randomness; or a function choosing the
    # kind ('' for none) per request, for scripted sequences.
    forced: str | Callable[[Request], str] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(KINDS)
        fixed = self.forced if isinstance(self.forced, str) else None
        if unknown or (fixed is not None and fixed not in (*KINDS, "reset_after")):
            raise ValueError(f"unknown fault kinds: {sorted(unknown) or self.forced}")


@dataclass(frozen=True)
class Seen:
    """One request as it went through: its operation and the fault it got ('' for none)."""

    operation: str
    fault: str
    body: bytes


class FaultProxy:
    def __init__(
        self,
        backend: str,
        plan: FaultPlan | None = None,
        *,
        stub: Callable[[Request], tuple[int, list[tuple[str, str]], bytes] | None] | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(backend)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"backend must be an http:// URL, got {backend!r}")
        self.backend_host = parsed.hostname
        self.backend_port = parsed.port or 80
        self.plan = plan or FaultPlan()
        # Answers some requests itself, (status, headers, body), instead of forwarding them:
        # e.g. an ECR authorization token a test can recognise in output.
        self.stub = stub
        self._random = random.Random(self.plan.seed)
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()
        self.forwarded = 0
        self.log: list[Seen] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        assert self._server is not None, "the proxy is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="faultproxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close every client connection, and wait for the serving thread."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            # Idle keep-alive handlers block reading the next request; this wakes them.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ decisions

    def _choose(self, request: Request) -> tuple[str, float]:
        """(fault kind or '', latency seconds) for one request."""
        plan = self.plan
        with self._lock:
            eligible = plan.match is None or plan.match(request)
            if not eligible:
                return "", 0.0
            if callable(plan.forced):
                kind = plan.forced(request)
            elif plan.forced is not None:
                kind = plan.forced
            else:
                kind = ""
                if self._random.random() < plan.rate:
                    kinds = [k for k in KINDS if plan.weights.get(k, 0) > 0]
                    kind = self._random.choices(kinds, [plan.weights[k] for k in kinds])[0]
                elif self._random.random() < plan.reset_after_rate:
                    kind = "reset_after"
            delay = self._random.uniform(*plan.latency_s) if kind == "latency" else 0.0
            if kind:
                self.injected[kind] += 1
            return kind, delay

    def _record(self, request: Request, fault: str) -> None:
        with self._lock:
            self.log.append(Seen(request.operation, fault, request.body))
            if fault in ("", "latency", "reset_after"):
                self.forwarded += 1

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # ------------------------------------------------------------------ forwarding

    def forward(self, request: Request) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """Send the request to the backend unchanged; its (status, reason, headers, body)."""
        connection = http.client.HTTPConnection(self.backend_host, self.backend_port, timeout=60)
        try:
            headers = {k: v for k, v in request.headers.items() if k not in _HOP_BY_HOP}
            headers["content-length"] = str(len(request.body))
            connection.request(request.method, request.path, body=request.body, headers=headers)
            response = connection.getresponse()
            body = response.read()
            return response.status, response.reason, list(response.getheaders()), body
        finally:
            connection.close()


# ----------------------------------------------------------------------------- error bodies


def _cbor_text(text: str) -> bytes:
    raw = text.encode("utf-8")
    return _cbor_head(3, len(raw)) + raw


def _cbor_head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    if length < 256:
        return bytes([major << 5 | 24, length])
    return bytes([major << 5 | 25]) + struct.pack(">H", length)


def cbor_error(code: str, message: str) -> bytes:
    """{"__type": code, "message": message} in CBOR: what smithy RPC v2 services answer."""
    return (
        _cbor_head(5, 2)
        + _cbor_text("__type")
        + _cbor_text(code)
        + _cbor_text("message")
        + _cbor_text(message)
    )


def error_response(
    protocol: str, status: int, code: str, message: str
) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of an AWS error in the request's protocol."""
    request_id = "00000000-0000-4000-8000-faultproxy000"
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        return [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id)], body
    if protocol == "cbor":
        # A 503 from a load balancer in front of CodeBuild would carry no body; botocore then
        # takes the status code as the error code, which is retryable all the same.
        body = b"" if status >= 500 else cbor_error(code, message)
        return [
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("x-amzn-RequestId", request_id),
        ], body
    kind = "Receiver" if status >= 500 else "Sender"
    xml = (
        f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return [("Content-Type", "text/xml")], xml.encode()


_ERRORS = {
    # kind → (status, code for JSON/CBOR, code for query)
    "503": (503, "ServiceUnavailableException", "ServiceUnavailable"),
    "throttle": (400, "ThrottlingException", "Throttling"),
}


# ----------------------------------------------------------------------------- the handler


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    timeout = 60

    def setup(self) -> None:
        super().setup()
        self.owner._track(self.connection, add=True)

    def finish(self) -> None:
        self.owner._track(self.connection, add=False)
        with contextlib.suppress(OSError):  # the connection may have been reset on purpose
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: tests read counters, not access logs

    def _read_request(self) -> Request:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        return Request(self.command, self.path, headers, body)

    def _handle(self) -> None:
        request = self._read_request()
        stubbed = self.owner.stub(request) if self.owner.stub is not None else None
        if stubbed is not None:
            self.owner._record(request, "")
            status, headers, body = stubbed
            self._respond(status, http.client.responses.get(status, ""), headers, body)
            return
        kind, delay = self.owner._choose(request)
        self.owner._record(request, kind)
        if kind == "reset":
            self._reset()
            return
        if kind in _ERRORS:
            status, code, query_code = _ERRORS[kind]
            protocol = request.protocol
            message = (
                "Rate exceeded" if kind == "throttle" else "Service unavailable (injected by a test proxy)"
            )
            headers, body = error_response(
                protocol, status, query_code if protocol == "query" else code, message
            )
            self._respond(status, http.client.responses.get(status, ""), headers, body)
            return
        if delay:
            threading.Event().wait(delay)
        try:
            status, reason, headers, body = self.owner.forward(request)
        except OSError:
            self._reset()  # the backend is gone: the client sees what it would see
            return
        if kind == "reset_after":
            self._reset()
            return
        self._respond(status, reason, headers, body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

    def _respond(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status, reason)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _reset(self) -> None:
        """Close with RST and no answer: SO_LINGER on, zero seconds."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
