"""CloudWatch Logs across streams: FilterLogEvents pages, events of several streams interleaved by
time (the service's tasks, `releasectl logs --service`; failed tasks' last lines as evidence)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from releasectl.adapters.aws.logs import reading_logs

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import FilterLogEventsRequestTypeDef


@dataclass(frozen=True)
class EventPage:
    events: Sequence[Mapping[str, Any]]  # eventId, logStreamName, timestamp, message
    next_token: str | None


@dataclass
class LogEventReader:
    client: CloudWatchLogsClient
    calls: int = 0

    def page(
        self,
        group: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        streams: Sequence[str] = (),
        stream_prefix: str | None = None,
        token: str | None = None,
        limit: int | None = None,
    ) -> EventPage:
        """One FilterLogEvents page. A group that does not exist (yet) is LogStreamMissing,
        throttling that outlived botocore's retries is Throttled."""
        params: FilterLogEventsRequestTypeDef = {"logGroupName": group, "interleaved": True}
        if start_ms is not None:
            params["startTime"] = start_ms
        if end_ms is not None:
            params["endTime"] = end_ms
        if streams:
            params["logStreamNames"] = list(streams)
        elif stream_prefix:
            params["logStreamNamePrefix"] = stream_prefix
        if token is not None:
            params["nextToken"] = token
        if limit is not None:
            params["limit"] = limit
        with reading_logs(f"reading log group {group}"):
            self.calls += 1
            response = self.client.filter_log_events(**params)
        events = [dict(event) for event in response.get("events") or ()]
        return EventPage(events=events, next_token=response.get("nextToken") or None)
