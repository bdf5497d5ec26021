"""What a finished release, deploy, rollback, abort or run announces (docs/operations.md#notifications).

One event per command, as a JSON body a Slack incoming webhook takes as it is (`text`) with the
same facts as fields for anything else that reads it: command, environment, service, version,
digest, outcome, exit status, duration, message, and on failure the evidence's one-line summary.
Webhook URLs are secrets (the path is the credential): they are named by the environment
variable that holds them, never shown, and redact() takes them out of any text that might carry
one. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from releasectl.core.result import CommandResult, Outcome

NOTIFIED = frozenset({"release", "deploy", "rollback", "abort", "run"})
EVENT = "releasectl.finished"
_MARKS = {
    Outcome.SUCCEEDED: "succeeded",
    Outcome.NOOP: "nothing to do",
    Outcome.FAILED: "FAILED",
    Outcome.ROLLED_BACK: "ROLLED BACK",
    Outcome.TIMED_OUT: "TIMED OUT",
    Outcome.SUPERSEDED: "superseded",
    Outcome.ERROR: "ERROR",
}


def is_sns_topic(target: str) -> bool:
    return target.startswith("arn:")


def event_from_result(result: CommandResult, *, environment: str | None, exit_status: int) -> dict[str, Any]:
    evidence = result.extra.get("evidence") or {}
    return event(
        command=result.command,
        environment=environment,
        service=result.extra.get("service"),
        version=result.version,
        digest=result.image.digest if result.image else None,
        outcome=result.outcome,
        exit_status=exit_status,
        duration_s=result.duration_s,
        message=result.message,
        evidence=evidence.get("summary") if isinstance(evidence, Mapping) else None,
        task_id=result.extra.get("task_id"),
    )


def event(
    *,
    command: str,
    environment: str | None,
    service: str | None,
    version: str | None,
    digest: str | None,
    outcome: Outcome,
    exit_status: int,
    duration_s: float | None,
    message: str,
    evidence: str | None = None,
    task_id: str | None = None,
) -> dict[str, Any]:
    """The JSON body: `text` for Slack and people, the facts as fields for programs."""
    where = f" in {environment}" if environment else ""
    what = f"{command} {version}" if version else command
    took = f" after {duration_s:.0f} s" if duration_s is not None else ""
    text = f"releasectl {what}{where}: {_MARKS[outcome]}{took} (exit {exit_status}) — {message}"
    if evidence and outcome not in (Outcome.SUCCEEDED, Outcome.NOOP):
        text += f"\nwhy: {evidence}"
    body: dict[str, Any] = {
        "text": text,
        "event": EVENT,
        "command": command,
        "environment": environment,
        "service": service,
        "version": version,
        "digest": digest,
        "outcome": outcome.value,
        "exit_status": exit_status,
        "duration_s": round(duration_s, 3) if duration_s is not None else None,
        "message": message,
        "evidence": evidence,
    }
    if task_id:
        body["task_id"] = task_id
    return body


def subject(body: Mapping[str, Any]) -> str:
    """An SNS subject: ASCII, at most 100 characters."""
    what = f"{body['command']} {body['version']}" if body.get("version") else str(body["command"])
    where = f" in {body['environment']}" if body.get("environment") else ""
    text = f"releasectl {what}{where}: {body['outcome']}"
    return text.encode("ascii", "replace").decode("ascii")[:100]


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every secret (a webhook URL, its path) replaced."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text
