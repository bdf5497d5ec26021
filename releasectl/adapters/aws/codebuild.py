"""CodeBuild: start, read and stop builds; check that a project exists.

`BuildInfo` is the part of a batch_get_builds record releasectl uses, parsed once so the
rest of the code never digs through AWS dictionaries.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from releasectl.adapters.aws.clients import _THROTTLE_CODES, aws_errors, error_code
from releasectl.core.errors import EnvironmentProblem
from releasectl.core.log_follow import LogLocation, Throttled

if TYPE_CHECKING:
    from mypy_boto3_codebuild import CodeBuildClient
    from mypy_boto3_codebuild.type_defs import (
        BuildPhaseTypeDef,
        BuildTypeDef,
        CloudWatchLogsConfigTypeDef,
        LogsLocationTypeDef,
        StartBuildInputTypeDef,
    )

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"})
_PHASE_FAILURES = frozenset({"FAILED", "FAULT", "TIMED_OUT", "STOPPED", "CLIENT_ERROR"})


@dataclass(frozen=True)
class BuildPhase:
    type: str
    status: str | None
    duration_s: int | None
    message: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "status": self.status,
            "duration_s": self.duration_s,
            "message": self.message,
        }


@dataclass(frozen=True)
class BuildInfo:
    id: str
    status: str
    project: str
    current_phase: str | None = None
    arn: str | None = None
    source_version: str | None = None
    phases: tuple[BuildPhase, ...] = ()
    exported_variables: Mapping[str, str] = field(default_factory=dict)
    log_group: str | None = None
    log_stream: str | None = None
    logs_enabled: bool = True
    configured_group: str | None = None
    configured_stream_prefix: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def uuid(self) -> str:
        return self.id.split(":", 1)[1] if ":" in self.id else self.id

    @property
    def log_location(self) -> LogLocation | None:
        """Where CodeBuild says the logs are; absent until the stream is created."""
        if self.log_group and self.log_stream:
            return LogLocation(self.log_group, self.log_stream)
        return None

    @property
    def default_log_location(self) -> LogLocation:
        """Where CodeBuild will put the logs: the project's group (default /aws/codebuild/NAME),
        stream `[prefix/]build-uuid`."""
        group = self.configured_group or f"/aws/codebuild/{self.project}"
        prefix = self.configured_stream_prefix
        stream = f"{prefix}/{self.uuid}" if prefix else self.uuid
        return LogLocation(group, stream)

    @property
    def failed_phase(self) -> BuildPhase | None:
        for phase in self.phases:
            if phase.status in _PHASE_FAILURES:
                return phase
        return None

    def failure_summary(self) -> str:
        phase = self.failed_phase
        if phase is None:
            return f"build {self.id} ended {self.status}"
        text = f"build {self.id} ended {self.status} in phase {phase.type}"
        return f"{text}: {phase.message}" if phase.message else text

    def console_url(self, region: str | None) -> str | None:
        """The CodeBuild console page for this build (needs the account from the ARN)."""
        if not self.arn:
            return None
        parts = self.arn.split(":")
        if len(parts) < 5 or not parts[4]:
            return None
        region = region or parts[3]
        return (
            f"https://{region}.console.aws.amazon.com/codesuite/codebuild/{parts[4]}/projects/"
            f"{quote(self.project, safe='')}/build/{quote(self.id, safe='')}/?region={region}"
        )


def _phase(data: BuildPhaseTypeDef) -> BuildPhase:
    messages = [
        ": ".join(p for p in (c.get("statusCode"), c.get("message")) if p) for c in data.get("contexts") or []
    ]
    message = "; ".join(m for m in messages if m) or None
    duration = data.get("durationInSeconds")
    return BuildPhase(
        type=str(data.get("phaseType", "")),
        status=data.get("phaseStatus"),
        duration_s=int(duration) if duration is not None else None,
        message=message,
    )


def parse_build(data: BuildTypeDef) -> BuildInfo:
    logs: LogsLocationTypeDef = data.get("logs") or {}
    cloudwatch: CloudWatchLogsConfigTypeDef = logs.get("cloudWatchLogs") or {"status": "ENABLED"}
    exported = {
        str(v["name"]): str(v.get("value", ""))
        for v in data.get("exportedEnvironmentVariables") or []
        if v.get("name")
    }
    build_id = str(data["id"])
    return BuildInfo(
        id=build_id,
        status=str(data.get("buildStatus", "IN_PROGRESS")),
        project=str(data.get("projectName") or build_id.split(":", 1)[0]),
        current_phase=data.get("currentPhase"),
        arn=data.get("arn"),
        source_version=data.get("resolvedSourceVersion") or data.get("sourceVersion"),
        phases=tuple(_phase(p) for p in data.get("phases") or []),
        exported_variables=exported,
        log_group=logs.get("groupName"),
        log_stream=logs.get("streamName"),
        logs_enabled=cloudwatch.get("status", "ENABLED") != "DISABLED",
        configured_group=cloudwatch.get("groupName"),
        configured_stream_prefix=cloudwatch.get("streamName"),
    )


def start_build(
    client: CodeBuildClient, *, project: str, source_version: str, env: Mapping[str, str] | None = None
) -> BuildInfo:
    """Start `project` on exactly `source_version`; a missing project is exit 4 with nothing started."""
    import botocore.exceptions

    # botocore resends these same parameters on a retry; with the token, CodeBuild starts one
    # build even when the answer to the first attempt was lost (it does not fill one in itself).
    params: StartBuildInputTypeDef = {
        "projectName": project,
        "sourceVersion": source_version,
        "idempotencyToken": str(uuid.uuid4()),
    }
    if env:
        params["environmentVariablesOverride"] = [
            {"name": name, "value": value, "type": "PLAINTEXT"} for name, value in env.items()
        ]
    with aws_errors(f"starting CodeBuild project {project}"):
        try:
            response = client.start_build(**params)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise EnvironmentProblem(
                    f"CodeBuild project {project!r} does not exist",
                    hint="create it (releasectl infra deploy) or set codebuild_project",
                ) from None
            raise
    return parse_build(response["build"])


def get_build(client: CodeBuildClient, build_id: str) -> BuildInfo | None:
    """The build, or None when CodeBuild does not know it."""
    with aws_errors(f"reading build {build_id}"):
        return get_build_raw(client, build_id)


def stop_build(client: CodeBuildClient, build_id: str) -> BuildInfo:
    with aws_errors(f"stopping build {build_id}"):
        response = client.stop_build(id=build_id)
    return parse_build(response["build"])


def project_exists(client: CodeBuildClient, name: str) -> bool:
    with aws_errors(f"looking up CodeBuild project {name}"):
        response = client.batch_get_projects(names=[name])
    return any(p.get("name") == name for p in response.get("projects") or [])


@dataclass
class CodeBuildReader:
    """The follower's view of CodeBuild: throttling is reported, not raised as a failure."""

    client: CodeBuildClient

    def get(self, build_id: str) -> BuildInfo:
        import botocore.exceptions

        with aws_errors(f"reading build {build_id}"):
            try:
                build = get_build_raw(self.client, build_id)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) in _THROTTLE_CODES:
                    raise Throttled(str(exc)) from None
                raise
        if build is None:
            raise EnvironmentProblem(f"build {build_id} no longer exists")
        return build


def get_build_raw(client: CodeBuildClient, build_id: str) -> BuildInfo | None:
    """Like get_build, but lets ClientError through for callers that handle some codes."""
    response = client.batch_get_builds(ids=[build_id])
    builds = response.get("builds") or []
    return parse_build(builds[0]) if builds else None
