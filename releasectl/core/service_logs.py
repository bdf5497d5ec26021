"""The service's own logs (`releasectl logs --service`): its tasks' streams, interleaved by time.

Every task of the service writes its own CloudWatch stream (the awslogs driver names it
`prefix/container/task-id`), so the service's log is many streams read together with
FilterLogEvents, stopped tasks' streams included. The follower keeps the build-log follower's
rules (releasectl.core.log_follow): at most one call a second, each line once, in order.

"Each line once" is the event id: every read starts a little before the newest line shown
(`overlap`), so a line CloudWatch ingested late is not skipped, and ids already shown are not
shown again. "In order" is a short wait: a line is held back until a line `settle` newer has been
read from any stream, or until a read brings nothing new, so a stream whose lines arrive a
moment after another's still prints in time order. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from releasectl.core.errors import UsageError

DEFAULT_SINCE = "10m"
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SINCE_S = 30 * 86400


def parse_since(text: str) -> int:
    """`--since 10m` in seconds: a whole number and s, m, h or d; exit 2 otherwise."""
    match = _DURATION.match(text or "")
    if not match:
        raise UsageError(
            f"--since {text!r} is not a duration", hint="a whole number and s, m, h or d: 30s, 10m, 2h, 1d"
        )
    seconds = int(match.group(1)) * _UNIT[match.group(2)]
    if not 0 < seconds <= MAX_SINCE_S:
        raise UsageError(f"--since {text!r} must be more than 0 and at most 30d")
    return seconds


@dataclass(frozen=True)
class Location:
    """A log group and the stream-name prefix of the service's tasks in it (`prefix/`, or none)."""

    group: str
    prefix: str | None

    def holds(self, stream: str) -> bool:
        return self.prefix is None or stream.startswith(self.prefix)

    def task_and_container(self, stream: str) -> tuple[str, str | None]:
        """(task id, container) of a stream name `prefix/container/task-id` (or just `task-id`)."""
        rest = stream[len(self.prefix) :] if self.prefix and stream.startswith(self.prefix) else stream
        container, _, task = rest.rpartition("/")
        return task, container or None


@dataclass(frozen=True)
class LogLine:
    event_id: str
    timestamp: int  # milliseconds since the epoch
    stream: str
    task: str
    container: str | None
    message: str

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.timestamp, self.stream, self.event_id)

    def when(self) -> str:
        moment = datetime.fromtimestamp(self.timestamp / 1000, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.timestamp % 1000:03d}Z"

    def text(self, *, containers: bool) -> str:
        who = f"{self.task[:8]} {self.container}" if containers and self.container else self.task[:8]
        return f"{self.when()} {who}  {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "timestamp": self.when(),
            "task_id": self.task,
            "container": self.container,
            "message": self.message,
        }


def lines_of(events: Iterable[Mapping[str, Any]], location: Location) -> list[LogLine]:
    """FilterLogEvents' events as lines; events of streams that are not the service's are left out
    (an endpoint that ignores logStreamNamePrefix returns the whole group)."""
    found = []
    for event in events:
        stream = str(event.get("logStreamName") or "")
        if not location.holds(stream):
            continue
        task, container = location.task_and_container(stream)
        found.append(
            LogLine(
                event_id=str(event.get("eventId") or f"{stream}@{event.get('timestamp')}"),
                timestamp=int(event.get("timestamp") or 0),
                stream=stream,
                task=task,
                container=container,
                message=str(event.get("message") or "").rstrip("\r\n"),
            )
        )
    return found


@dataclass
class Interleaver:
    """Lines read, held until they can be shown in time order, and shown once."""

    settle_ms: int = 5_000
    overlap_ms: int = 10_000
    pending: dict[str, LogLine] = field(default_factory=dict)
    shown: dict[str, int] = field(default_factory=dict)  # event id -> timestamp, within the overlap
    watermark: int | None = None  # the newest timestamp shown
    newest: int | None = None  # the newest timestamp read

    def start(self, since_ms: int) -> int:
        """Where the next read starts: `since`, or a little before the newest line shown."""
        if self.watermark is None:
            return since_ms
        return max(since_ms, self.watermark - self.overlap_ms)

    def add(self, lines: Iterable[LogLine]) -> int:
        """Take what a read returned; the number of lines not seen before."""
        fresh = 0
        for line in lines:
            if line.event_id in self.shown or line.event_id in self.pending:
                continue
            self.pending[line.event_id] = line
            self.newest = line.timestamp if self.newest is None else max(self.newest, line.timestamp)
            fresh += 1
        return fresh

    def ready(self, *, flush: bool) -> list[LogLine]:
        """The lines to show now, in time order: those `settle` older than the newest read, or
        every one held (`flush`: a read brought nothing new, or there is no next read)."""
        if not self.pending:
            return []
        horizon = None if flush or self.newest is None else self.newest - self.settle_ms
        out = sorted(
            (line for line in self.pending.values() if horizon is None or line.timestamp <= horizon),
            key=lambda line: line.key,
        )
        for line in out:
            del self.pending[line.event_id]
            self.shown[line.event_id] = line.timestamp
            self.watermark = line.timestamp if self.watermark is None else max(self.watermark, line.timestamp)
        if self.watermark is not None:
            # Ids older than where the next read starts cannot come back: forget them.
            floor = self.watermark - self.overlap_ms
            self.shown = {key: stamp for key, stamp in self.shown.items() if stamp >= floor}
        return out
