"""Why a deployment or a one-off task failed, in one place: what ECS and the load balancer said.

When deploy, rollback, abort or run ends failed or rolled back, the result carries this evidence
(docs/operations.md#failure-evidence): the stopped tasks with their reasons and exit codes, the
last lines of each failed task's log, the load balancer's target health with its reasons, and the
service's events since the deployment began. Gathering it is the commands' job
(releasectl.commands.evidence, at most EVIDENCE_CALLS API calls); this module turns the answers
into the record, the one-line summary notifications carry, and the compact panel people read.
Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from releasectl.core.oneoff import LOG_TAIL, task_id

EVIDENCE_CALLS = 6
MAX_EVENTS = 10
MAX_TASKS_SHOWN = 5  # in the panel; the JSON has every one read
_FAILED_STOP_CODES = frozenset({"TaskFailedToStart", "EssentialContainerExited"})


@dataclass(frozen=True)
class StoppedTask:
    id: str
    reason: str
    stop_code: str | None
    exit_codes: tuple[tuple[str, int | None], ...]  # (container, exit code) of each container
    failed: bool
    log_tail: tuple[str, ...] = ()
    stopped_at: str | None = None

    def exits(self) -> str:
        """`app: exit 1` for each container that exited non-zero (or never started)."""
        shown = [f"{name}: exit {code}" for name, code in self.exit_codes if code not in (None, 0)]
        return ", ".join(shown)

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.id,
            "stopped_reason": self.reason,
            "stop_code": self.stop_code,
            "exit_codes": {name: code for name, code in self.exit_codes},
            "failed": self.failed,
            "stopped_at": self.stopped_at,
            "log_tail": list(self.log_tail),
        }


def stopped_task(task: Mapping[str, Any], *, log_tail: Sequence[str] = ()) -> StoppedTask:
    """A task DescribeTasks returned, as evidence. It failed when a container exited non-zero,
    it could not start, or it failed its health checks; a task ECS stopped because its
    deployment was scaled in or replaced (a rollback's own clean-up) did not."""
    containers = task.get("containers") or ()
    exit_codes = tuple(
        (str(c.get("name")), int(c["exitCode"]) if c.get("exitCode") is not None else None)
        for c in containers
    )
    reason = str(task.get("stoppedReason") or task.get("stopCode") or "no reason given")
    stop_code = task.get("stopCode") or None
    nonzero = any(code not in (None, 0) for _, code in exit_codes)
    health = "health check" in reason.lower()
    failed = nonzero or health or (stop_code in _FAILED_STOP_CODES and not _scaled_in(reason))
    stopped = task.get("stoppedAt")
    return StoppedTask(
        id=task_id(str(task.get("taskArn"))),
        reason=reason,
        stop_code=stop_code,
        exit_codes=exit_codes,
        failed=failed,
        log_tail=tuple(log_tail),
        stopped_at=stopped.isoformat()
        if isinstance(stopped, datetime)
        else (str(stopped) if stopped else None),
    )


def _scaled_in(reason: str) -> bool:
    return reason.startswith(("Scaling activity initiated", "Service deleted"))


@dataclass(frozen=True)
class TargetHealth:
    target: str  # id:port
    state: str
    reason: str | None
    description: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "state": self.state,
            "reason": self.reason,
            "description": self.description,
        }


def target_health(descriptions: Iterable[Mapping[str, Any]]) -> list[TargetHealth]:
    """DescribeTargetHealth's TargetHealthDescriptions, as evidence."""
    found = []
    for item in descriptions:
        target = item.get("Target") or {}
        health = item.get("TargetHealth") or {}
        port = target.get("Port")
        found.append(
            TargetHealth(
                target=f"{target.get('Id')}:{port}" if port else str(target.get("Id")),
                state=str(health.get("State") or "unknown"),
                reason=health.get("Reason") or None,
                description=health.get("Description") or None,
            )
        )
    return found


def events_since(
    service: Mapping[str, Any], since: datetime | None, *, limit: int = MAX_EVENTS
) -> list[tuple[str, str]]:
    """(time, message) of the service's events at or after `since`, oldest first; without
    `since`, the newest `limit`. ECS lists events newest first."""
    chosen = []
    for event in service.get("events") or ():
        created = event.get("createdAt")
        if since is not None and isinstance(created, datetime) and created < since:
            continue
        stamp = created.isoformat() if isinstance(created, datetime) else str(created or "")
        chosen.append((stamp, str(event.get("message") or "")))
        if len(chosen) >= limit:
            break
    return list(reversed(chosen))


def deployment_started(service: Mapping[str, Any], deployment_id: str) -> datetime | None:
    for deployment in service.get("deployments") or ():
        if deployment.get("id") == deployment_id and isinstance(deployment.get("createdAt"), datetime):
            created: datetime = deployment["createdAt"]
            return created
    return None


def tails(
    events: Iterable[Mapping[str, Any]], streams: Mapping[str, str], n: int = LOG_TAIL
) -> dict[str, list[str]]:
    """task id → its last `n` log lines, from FilterLogEvents' events (each names its stream);
    `streams` maps stream name → task id."""
    found: dict[str, list[str]] = {}
    for event in sorted(events, key=lambda e: (int(e.get("timestamp") or 0), str(e.get("eventId") or ""))):
        task = streams.get(str(event.get("logStreamName")))
        if task is None:
            continue
        lines = found.setdefault(task, [])
        lines.append(str(event.get("message") or "").rstrip("\r\n"))
        if len(lines) > n:
            del lines[0]
    return found


@dataclass(frozen=True)
class Evidence:
    tasks: tuple[StoppedTask, ...] = ()
    targets: tuple[TargetHealth, ...] = ()
    events: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()  # what could not be read, and why
    calls: int = 0
    deployment_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed_tasks(self) -> list[StoppedTask]:
        return [t for t in self.tasks if t.failed]

    def summary(self) -> str:
        """One line: the failed tasks' reasons and exits, and the unhealthy targets."""
        parts = []
        failed = self.failed_tasks
        if failed:
            reasons: dict[str, int] = {}
            for task in failed:
                text = task.reason + (f" ({task.exits()})" if task.exits() else "")
                reasons[text] = reasons.get(text, 0) + 1
            shown = "; ".join(f"{text} x{count}" if count > 1 else text for text, count in reasons.items())
            parts.append(f"{len(failed)} task{'s' if len(failed) != 1 else ''} failed: {shown}")
        unhealthy = [t for t in self.targets if t.state not in ("healthy", "initial")]
        if unhealthy:
            why = sorted({t.reason or t.state for t in unhealthy})
            parts.append(f"{len(unhealthy)} target{'s' if len(unhealthy) != 1 else ''} {', '.join(why)}")
        if not parts and self.events:
            parts.append(self.events[-1][1])
        return "; ".join(parts) or "no stopped task, target or event explains it"

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "deployment_id": self.deployment_id,
            "stopped_tasks": [t.to_json() for t in self.tasks],
            "target_health": [t.to_json() for t in self.targets],
            "events": [{"at": at, "message": message} for at, message in self.events],
            "notes": list(self.notes),
            "api_calls": self.calls,
            **self.extra,
        }


def panel_lines(evidence: Mapping[str, Any]) -> list[str]:
    """The evidence of a result's JSON as a compact panel of text, for people."""
    lines = [f"  why      {evidence.get('summary')}"]
    tasks = list(evidence.get("stopped_tasks") or ())
    for task in tasks[:MAX_TASKS_SHOWN]:
        exits = ", ".join(
            f"{name}: exit {code}"
            for name, code in (task.get("exit_codes") or {}).items()
            if code not in (None, 0)
        )
        mark = "failed" if task.get("failed") else "stopped"
        detail = f"{task.get('stopped_reason')}" + (f"; {exits}" if exits else "")
        lines.append(f"  task     {str(task.get('task_id'))[:12]} {mark}: {detail}")
        tail = list(task.get("log_tail") or ())
        if tail:
            lines.append(f"           last {len(tail)} log line{'s' if len(tail) != 1 else ''}:")
            lines.extend(f"           | {line}" for line in tail)
    if len(tasks) > MAX_TASKS_SHOWN:
        lines.append(f"  task     … and {len(tasks) - MAX_TASKS_SHOWN} more (--json lists them all)")
    for target in evidence.get("target_health") or ():
        why = ": ".join(p for p in (target.get("reason"), target.get("description")) if p)
        lines.append(
            f"  target   {target.get('target')} {target.get('state')}" + (f" ({why})" if why else "")
        )
    for event in evidence.get("events") or ():
        lines.append(f"  event    {event.get('at')} {event.get('message')}")
    for note in evidence.get("notes") or ():
        lines.append(f"  note     {note}")
    return lines
