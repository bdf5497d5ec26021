"""CloudWatch Logs writing for the simulators: lines in, put_log_events out, in batches.

Build and task output arrives line by line from reader threads; one shipper thread sends
what has accumulated every `interval` seconds, creating the log group and stream on first use,
in timestamp order, within PutLogEvents' limits: the calls an awslogs driver or the CodeBuild
agent makes, so readers (`releasectl logs`, the AWS CLI) see nothing special.

The shipper runs in the moto server's process, so it makes those calls on moto's logs backend
(`MotoLogs`) rather than over HTTP: a batch costs 0.02 ms of CPU there against 2.4 ms through a
client and the server, and a sandbox's tasks and builds send a few every second.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from releasectl_sandbox.moto_internals import backend

_MAX_EVENTS = 10_000
_MAX_BYTES = 1_000_000  # PutLogEvents takes up to 1,048,576 bytes, 26 bytes of overhead each
_MAX_LINE = 256_000


class MotoLogs:
    """The CloudWatch Logs writes the shipper makes, on moto's backend of one account and region,
    looked up on every call: a reset (POST /moto-api/reset) replaces the backends. Creating a
    group or stream that exists already is no error here: the shipper only needs it to exist."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region

    def _backend(self) -> Any:
        return backend("logs", self.region, self.account)

    def ensure_log_group(self, group: str) -> None:
        from moto.logs.exceptions import ResourceAlreadyExistsException

        with contextlib.suppress(ResourceAlreadyExistsException):
            self._backend().create_log_group(group, tags={})

    def ensure_log_stream(self, group: str, stream: str) -> None:
        from moto.logs.exceptions import ResourceAlreadyExistsException

        with contextlib.suppress(ResourceAlreadyExistsException):
            self._backend().create_log_stream(group, stream)

    def put_log_events(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        self._backend().put_log_events(group, stream, events)


@dataclass
class LogShipper:
    logs: MotoLogs
    interval: float = 0.2
    on_error: Callable[[str], None] | None = None
    _pending: dict[tuple[str, str], list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    _streams: set[tuple[str, str]] = field(default_factory=set)
    _groups: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _flushing: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="sandbox-logs", daemon=True)
        self._thread.start()

    def write(self, group: str, stream: str, line: str, *, timestamp_ms: int | None = None) -> None:
        stamp = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        with self._lock:
            self._pending[(group, stream)].append((stamp, line[:_MAX_LINE] or " "))

    def flush(self) -> None:
        """Send everything written so far (blocks until sent)."""
        with self._flushing:
            with self._lock:
                batches, self._pending = self._pending, defaultdict(list)
            for (group, stream), events in batches.items():
                try:
                    self._send(group, stream, events)
                except Exception as exc:  # a log write must never take a build or a task down
                    if self.on_error:
                        self.on_error(f"sandbox: could not write logs to {group}/{stream}: {exc}")

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()

    def _ensure(self, group: str, stream: str) -> None:
        if (group, stream) in self._streams:
            return
        if group not in self._groups:
            self.logs.ensure_log_group(group)
            self._groups.add(group)
        self.logs.ensure_log_stream(group, stream)
        self._streams.add((group, stream))

    def _send(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        if not events:
            return
        self._ensure(group, stream)
        events.sort(key=lambda item: item[0])
        batch: list[dict[str, Any]] = []
        size = 0
        for stamp, message in events:
            cost = len(message.encode()) + 26
            if batch and (len(batch) >= _MAX_EVENTS or size + cost > _MAX_BYTES):
                self.logs.put_log_events(group, stream, batch)
                batch, size = [], 0
            batch.append({"timestamp": stamp, "message": message})
            size += cost
        self.logs.put_log_events(group, stream, batch)
