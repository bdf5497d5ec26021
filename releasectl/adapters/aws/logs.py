"""CloudWatch Logs: one GetLogEvents page at a time, oldest first, by forward token."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from releasectl.adapters.aws.clients import _THROTTLE_CODES, aws_errors, error_code
from releasectl.core.log_follow import LogLocation, LogPage, LogStreamMissing, Throttled

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import GetLogEventsRequestTypeDef


@contextlib.contextmanager
def reading_logs(what: str) -> Iterator[None]:
    """A read of CloudWatch Logs: a group or stream not there (yet) is LogStreamMissing, throttling
    that outlived botocore's retries is Throttled, anything else one line through aws_errors."""
    import botocore.exceptions

    with aws_errors(what):
        try:
            yield
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code == "ResourceNotFoundException":
                raise LogStreamMissing(str(exc)) from None
            if code in _THROTTLE_CODES:
                raise Throttled(str(exc)) from None
            raise


def _line(message: str) -> str:
    # CodeBuild sends each line with its own newline; the reporter adds one back.
    return message.rstrip("\r\n")


@dataclass
class CloudWatchLogReader:
    client: CloudWatchLogsClient

    def read(self, location: LogLocation, token: str | None) -> LogPage:
        """One page from `token` on (from the head when None).

        The group/stream not existing yet is LogStreamMissing, throttling that outlived
        botocore's retries is Throttled; anything else is a one-line error.
        """
        params: GetLogEventsRequestTypeDef = {
            "logGroupName": location.group,
            "logStreamName": location.stream,
            "startFromHead": True,
        }
        if token is not None:
            params["nextToken"] = token
        with reading_logs(f"reading log stream {location.group}/{location.stream}"):
            response = self.client.get_log_events(**params)
        lines = [_line(str(event.get("message", ""))) for event in response.get("events") or []]
        return LogPage(lines=lines, next_token=response.get("nextForwardToken"))
