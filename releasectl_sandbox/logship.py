"""CloudWatch Logs writing for the simulators: lines in, put_log_events out, in batches.

Build and task output arrives line by line from reader threads; one shipper thread sends
what has accumulated every `interval` seconds through the sandbox endpoint, creating the log
group and stream on first use, in timestamp order, within PutLogEvents' limits. The same
API calls an awslogs driver or the CodeBuild agent makes, so readers (`releasectl logs`,
the AWS CLI) see nothing special.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_MAX_EVENTS = 10_000
_MAX_BYTES = 1_000_000  # PutLogEvents takes up to 1,048,576 bytes, 26 bytes of overhead each
_MAX_LINE = 256_000


@dataclass
class LogShipper:
    client: Any  # a boto3 "logs" client aimed at the sandbox endpoint
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
        errors = self.client.exceptions
        if group not in self._groups:
            with contextlib.suppress(errors.ResourceAlreadyExistsException):
                self.client.create_log_group(logGroupName=group)
            self._groups.add(group)
        with contextlib.suppress(errors.ResourceAlreadyExistsException):
            self.client.create_log_stream(logGroupName=group, logStreamName=stream)
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
                self.client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
                batch, size = [], 0
            batch.append({"timestamp": stamp, "message": message})
            size += cost
        self.client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
