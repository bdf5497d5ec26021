"""The simulators' log shipper: lines in, CloudWatch Logs events out, as any reader sees them."""

from __future__ import annotations

import time
from typing import Any

from releasectl_sandbox.logship import LogShipper, MotoLogs
from releasectl_sandbox.moto_internals import ACCOUNT_ID
from tests.support.aws_state import REGION, client

NOW = int(time.time() * 1000)  # CloudWatch Logs refuses events more than 2 hours from now


def events(endpoint: str, group: str, stream: str) -> list[tuple[int, str]]:
    found = client(endpoint, "logs").get_log_events(
        logGroupName=group, logStreamName=stream, startFromHead=True
    )
    return [(event["timestamp"], event["message"]) for event in found["events"]]


def test_shipped_lines_are_read_back_through_the_endpoint_in_timestamp_order(moto_endpoint: str) -> None:
    shipper = LogShipper(MotoLogs(ACCOUNT_ID, REGION))
    shipper.write("/sandbox/app", "task/1", "second", timestamp_ms=NOW + 2)
    shipper.write("/sandbox/app", "task/1", "first", timestamp_ms=NOW + 1)
    shipper.flush()

    assert events(moto_endpoint, "/sandbox/app", "task/1") == [
        (NOW + 1, "first"),
        (NOW + 2, "second"),
    ]


def test_a_group_and_stream_that_exist_already_are_written_to(moto_endpoint: str) -> None:
    logs = client(moto_endpoint, "logs")
    logs.create_log_group(logGroupName="/made/before")
    logs.create_log_stream(logGroupName="/made/before", logStreamName="s")
    shipper = LogShipper(MotoLogs(ACCOUNT_ID, REGION))
    shipper.write("/made/before", "s", "line", timestamp_ms=NOW)
    shipper.flush()

    assert events(moto_endpoint, "/made/before", "s") == [(NOW, "line")]


def test_a_write_that_fails_is_reported_and_the_shipper_goes_on(moto_endpoint: str) -> None:
    reported: list[str] = []
    shipper = LogShipper(MotoLogs(ACCOUNT_ID, REGION), on_error=reported.append)
    shipper.write("/sandbox/app", "s", "lands", timestamp_ms=NOW)
    shipper.flush()
    client(moto_endpoint, "logs").delete_log_group(
        logGroupName="/sandbox/app"
    )  # known to exist: not created again

    shipper.write("/sandbox/app", "s", "lost", timestamp_ms=NOW + 1)
    shipper.flush()
    shipper.write("/sandbox/other", "s", "lands too", timestamp_ms=NOW + 2)
    shipper.flush()

    assert len(reported) == 1 and reported[0].startswith("sandbox: could not write logs to /sandbox/app/s:")
    assert events(moto_endpoint, "/sandbox/other", "s") == [(NOW + 2, "lands too")]


def test_close_sends_what_is_pending(moto_endpoint: str) -> None:
    shipper = LogShipper(MotoLogs(ACCOUNT_ID, REGION), interval=60)
    shipper.start()
    shipper.write("/sandbox/app", "s", "last words", timestamp_ms=NOW)
    shipper.close()

    found: Any = events(moto_endpoint, "/sandbox/app", "s")
    assert found == [(NOW, "last words")]
