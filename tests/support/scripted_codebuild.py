"""A scripted CodeBuild + CloudWatch Logs pair that replays a build over FakeClock time.

moto marks builds SUCCEEDED at once and writes no logs, so behaviour over time (a stream
that appears late, lines trickling in, empty pages, throttling, every terminal status)
comes from here. The fakes answer like boto3 clients: same method names, same keyword
arguments, same response shapes, and botocore ClientErrors for AWS errors, so the real
adapters (releasectl.adapters.aws.codebuild / releasectl.adapters.aws.logs) run on top of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from releasectl.adapters.aws.clients import AwsClients
from releasectl.commands.context import Context
from releasectl.core.clock import FakeClock
from releasectl.core.config import Config

PROJECT = "hello-world-release"
BUILD_ID = f"{PROJECT}:0b5e9a5c-1111-4222-8333-944445555666"
ACCOUNT = "123456789012"
GROUP = f"/aws/codebuild/{PROJECT}"
STREAM = BUILD_ID.split(":", 1)[1]


def client_error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


@dataclass
class ScriptedBuild:
    """One build's life: status changes and log lines, each at a moment of fake time."""

    clock: FakeClock = field(default_factory=FakeClock)
    build_id: str = BUILD_ID
    # (from time, buildStatus, currentPhase); the last entry whose time has come is current.
    timeline: list[tuple[float, str, str]] = field(
        default_factory=lambda: [(0.0, "IN_PROGRESS", "PROVISIONING")]
    )
    # (time readable, line): CloudWatch serves a line once its time has come.
    lines: list[tuple[float, str]] = field(default_factory=list)
    stream_created_at: float | None = 0.0  # None: the build never writes a stream
    group: str = GROUP
    stream: str = STREAM
    report_log_names: bool = True  # batch_get_builds names the group/stream once it exists
    logs_enabled: bool = True
    page_size: int = 10_000
    failed_phase: tuple[str, str, str] | None = None  # (phaseType, statusCode, message)
    exported: dict[str, str] = field(default_factory=dict)
    throttle_log_calls: set[int] = field(default_factory=set)  # 1-based GetLogEvents call numbers
    throttle_status_calls: set[int] = field(default_factory=set)
    empty_page_calls: set[int] = field(default_factory=set)  # answer [] with a fresh token
    interrupt_start: bool = False  # Ctrl-C while StartBuild is in flight
    calls: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)

    # --------------------------------------------------------------- script helpers

    def finish(self, at: float, status: str, phase: str = "COMPLETED") -> ScriptedBuild:
        self.timeline.append((at, status, phase))
        return self

    def add_lines(self, start: float, count: int, every: float, prefix: str = "line") -> ScriptedBuild:
        for i in range(count):
            self.lines.append((start + i * every, f"{prefix} {len(self.lines) + 1}"))
        return self

    def current(self) -> tuple[str, str]:
        now = self.clock.now()
        entry = self.timeline[0]
        for candidate in self.timeline:
            if candidate[0] <= now:
                entry = candidate
        return entry[1], entry[2]

    def readable(self) -> list[str]:
        now = self.clock.now()
        return [text for at, text in self.lines if at <= now]

    def count(self, operation: str) -> int:
        return sum(1 for _, op, _ in self.calls if op == operation)

    def times(self, operation: str) -> list[float]:
        return [t for t, op, _ in self.calls if op == operation]

    def stream_exists(self) -> bool:
        return self.stream_created_at is not None and self.clock.now() >= self.stream_created_at

    def build_record(self) -> dict[str, Any]:
        status, phase = self.current()
        record: dict[str, Any] = {
            "id": self.build_id,
            "arn": f"arn:aws:codebuild:us-east-1:{ACCOUNT}:build/{self.build_id}",
            "projectName": self.build_id.split(":", 1)[0],
            "buildStatus": status,
            "currentPhase": phase,
            "phases": [{"phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED", "durationInSeconds": 0}],
            "logs": {"cloudWatchLogs": {"status": "ENABLED" if self.logs_enabled else "DISABLED"}},
        }
        if self.logs_enabled and self.report_log_names and self.stream_exists():
            record["logs"].update({"groupName": self.group, "streamName": self.stream})
        if status != "IN_PROGRESS":
            if self.failed_phase is not None and status != "SUCCEEDED":
                kind, code, message = self.failed_phase
                record["phases"].append(
                    {
                        "phaseType": kind,
                        "phaseStatus": status if status != "STOPPED" else "STOPPED",
                        "durationInSeconds": 12,
                        "contexts": [{"statusCode": code, "message": message}],
                    }
                )
            record["exportedEnvironmentVariables"] = [
                {"name": name, "value": value} for name, value in self.exported.items()
            ]
        return record


class FakeCodeBuild:
    def __init__(self, world: ScriptedBuild) -> None:
        self.world = world

    def _record(self, operation: str, params: dict[str, Any]) -> int:
        self.world.calls.append((self.world.clock.now(), operation, params))
        return self.world.count(operation)

    def start_build(self, **params: Any) -> dict[str, Any]:
        self._record("StartBuild", params)
        if self.world.interrupt_start:
            raise KeyboardInterrupt
        return {"build": self.world.build_record()}

    def batch_get_builds(self, **params: Any) -> dict[str, Any]:
        number = self._record("BatchGetBuilds", params)
        if number in self.world.throttle_status_calls:
            raise client_error("ThrottlingException", "Rate exceeded", "BatchGetBuilds")
        builds = [self.world.build_record()] if self.world.build_id in params["ids"] else []
        missing = [i for i in params["ids"] if i != self.world.build_id]
        return {"builds": builds, "buildsNotFound": missing}

    def stop_build(self, **params: Any) -> dict[str, Any]:
        self._record("StopBuild", params)
        self.world.timeline.append((self.world.clock.now(), "STOPPED", "COMPLETED"))
        return {"build": self.world.build_record()}


class FakeLogs:
    """GetLogEvents with CloudWatch's token rules: `f/<index>`, the same token back at the end."""

    def __init__(self, world: ScriptedBuild) -> None:
        self.world = world

    def get_log_events(self, **params: Any) -> dict[str, Any]:
        world = self.world
        world.calls.append((world.clock.now(), "GetLogEvents", params))
        number = world.count("GetLogEvents")
        if number in world.throttle_log_calls:
            raise client_error("ThrottlingException", "Rate exceeded", "GetLogEvents")
        assert params.get("startFromHead") is True, "the follower must read oldest first"
        location = (params["logGroupName"], params["logStreamName"])
        if location != (world.group, world.stream) or not world.stream_exists():
            raise client_error(
                "ResourceNotFoundException", "The specified log stream does not exist.", "GetLogEvents"
            )
        token = params.get("nextToken")
        start = int(token.split("/")[1]) if token else 0
        available = world.readable()[start : start + world.page_size]
        if number in world.empty_page_calls:
            return {"events": [], "nextForwardToken": f"f/{start}/e{number}", "nextBackwardToken": "b/0"}
        if not available:
            return {"events": [], "nextForwardToken": token or "f/0", "nextBackwardToken": "b/0"}
        events = [{"timestamp": 0, "message": text + "\n", "ingestionTime": 0} for text in available]
        return {
            "events": events,
            "nextForwardToken": f"f/{start + len(available)}",
            "nextBackwardToken": f"b/{start}",
        }


@dataclass
class TimedReporter:
    """Records every message with the fake time it was shown at."""

    clock: FakeClock
    lines: list[tuple[float, str, str]] = field(default_factory=list)

    def _add(self, kind: str, message: str) -> None:
        self.lines.append((self.clock.now(), kind, message))

    def info(self, message: str) -> None:
        self._add("info", message)

    def warn(self, message: str) -> None:
        self._add("warn", message)

    def detail(self, message: str) -> None:
        self._add("detail", message)

    def log_line(self, line: str) -> None:
        self._add("log", line)

    def texts(self, kind: str) -> list[str]:
        return [text for _, k, text in self.lines if k == kind]

    def shown_at(self) -> dict[str, float]:
        return {text: t for t, k, text in self.lines if k == "log"}


class InterruptingClock(FakeClock):
    """A FakeClock whose sleep raises KeyboardInterrupt once time reaches `at`: Ctrl-C."""

    def __init__(self, at: float) -> None:
        super().__init__()
        self.at = at

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.t >= self.at:
            raise KeyboardInterrupt


def scripted_context(
    world: ScriptedBuild, *, cwd: Path | None = None, json_output: bool = False, **config: Any
) -> tuple[Context, TimedReporter]:
    settings: dict[str, Any] = {"region": "us-east-1", "codebuild_project": PROJECT, **config}
    aws = AwsClients(region="us-east-1", profile=None, endpoint_url=None)
    aws.set_client("codebuild", FakeCodeBuild(world))
    aws.set_client("logs", FakeLogs(world))
    reporter = TimedReporter(world.clock)
    ctx = Context(
        config=Config(**settings),
        cwd=cwd or Path.cwd(),
        json_output=json_output,
        reporter=reporter,
        clock=world.clock,
        _aws=aws,
    )
    return ctx, reporter
