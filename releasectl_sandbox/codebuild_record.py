"""One simulated CodeBuild build as batch_get_builds shows it, and the clock that stops it."""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from releasectl.localbuild.runner import SUCCEEDED

SANDBOX_IMAGE = "releasectl-sandbox (this machine's tools, no container)"


class StopClock:
    """Real time until the build is stopped; then always past any deadline, which makes the
    buildspec runner end the running command's process group at once."""

    def __init__(self) -> None:
        self.stopped = threading.Event()

    def now(self) -> float:
        return math.inf if self.stopped.is_set() else time.monotonic()

    def sleep(self, seconds: float) -> None:
        self.stopped.wait(max(0.0, seconds))


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class BuildRecord:
    id: str
    arn: str
    number: int
    project: Mapping[str, Any]
    source_version: str
    env_overrides: dict[str, str]
    timeout_min: int
    group: str
    stream: str
    started: datetime = field(default_factory=now)
    status: str = "IN_PROGRESS"
    current_phase: str = "QUEUED"
    phases: list[dict[str, Any]] = field(default_factory=list)
    resolved: str | None = None
    exported: dict[str, str] = field(default_factory=dict)
    ended: datetime | None = None
    logs_started: bool = False
    clock: StopClock = field(default_factory=StopClock)
    thread: threading.Thread | None = None

    @property
    def uuid(self) -> str:
        return self.id.split(":", 1)[1]

    def enter(self, phase: str) -> None:
        at = now()
        if self.phases and "endTime" not in self.phases[-1] and self.phases[-1]["phaseType"] != "COMPLETED":
            self.end_phase(self.phases[-1]["phaseType"], SUCCEEDED, at=at)
        self.phases.append({"phaseType": phase, "startTime": at})
        self.current_phase = phase

    def end_phase(self, phase: str, status: str, *, at: datetime | None = None) -> None:
        record = next((p for p in reversed(self.phases) if p["phaseType"] == phase), None)
        if record is None or "endTime" in record:
            return
        end = at or now()
        record["endTime"] = end
        record["phaseStatus"] = status
        record["durationInSeconds"] = int((end - record["startTime"]).total_seconds())

    def add_context(self, code: str, message: str) -> None:
        if self.phases:
            self.phases[-1].setdefault("contexts", []).append({"statusCode": code, "message": message})

    def to_api(self) -> dict[str, Any]:
        env_vars = [
            dict(v) for v in (self.project.get("environment") or {}).get("environmentVariables") or ()
        ]
        env_vars += [{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in self.env_overrides.items()]
        logs_config = (self.project.get("logsConfig") or {}).get("cloudWatchLogs") or {}
        data: dict[str, Any] = {
            "id": self.id,
            "arn": self.arn,
            "buildNumber": self.number,
            "startTime": self.started,
            "currentPhase": self.current_phase,
            "buildStatus": self.status,
            "sourceVersion": self.source_version,
            "projectName": self.project["name"],
            "phases": copy.deepcopy(self.phases),
            "source": dict(self.project.get("source") or {}),
            "environment": {
                "type": "LINUX_CONTAINER",
                "image": SANDBOX_IMAGE,
                "computeType": (self.project.get("environment") or {}).get(
                    "computeType", "BUILD_GENERAL1_SMALL"
                ),
                "environmentVariables": env_vars,
                "privilegedMode": False,
            },
            "serviceRole": self.project.get("serviceRole"),
            "logs": {
                "cloudWatchLogs": {
                    "status": "ENABLED",
                    **{k: v for k, v in logs_config.items() if k != "status"},
                }
            },
            "timeoutInMinutes": self.timeout_min,
            "queuedTimeoutInMinutes": int(self.project.get("queuedTimeoutInMinutes") or 480),
            "buildComplete": self.ended is not None,
            "initiator": "releasectl-sandbox",
            "exportedEnvironmentVariables": [{"name": k, "value": v} for k, v in self.exported.items()],
        }
        if self.resolved:
            data["resolvedSourceVersion"] = self.resolved
        if self.logs_started:
            region, account = self.arn.split(":")[3], self.arn.split(":")[4]
            arn = f"arn:aws:logs:{region}:{account}:log-group:{self.group}:log-stream:{self.stream}"
            data["logs"].update(
                {"groupName": self.group, "streamName": self.stream, "cloudWatchLogsArn": arn}
            )
        if self.ended is not None:
            data["endTime"] = self.ended
        return data
