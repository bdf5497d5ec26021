"""What a describe_services snapshot says about OUR deployment (docs/design.md §5). Pure: no I/O.

ECS's own notion of "stable" (what `services_stable` waits for) is not success: after a
circuit-breaker rollback the old deployment is perfectly stable. So every decision here is
about the deployment id that update_service returned to us:

- succeeded   ours is PRIMARY, rolloutState COMPLETED, running == desired (and a task ran), or,
              with early success criteria, at least their share of ours running: the old tasks
              need not be gone;
- failed      ours turned FAILED and ECS was not configured to roll back;
- rolled_back ours turned FAILED with rollback on, or ours vanished and the deployment that
              replaced it is ECS's rollback (old task definition plus circuit-breaker evidence);
- superseded  a deployment we did not start replaced ours;
- in_progress anything else, including "looks steady but not COMPLETED".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from releasectl.core.result import Outcome


class RolloutDecision(StrEnum):
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    SUPERSEDED = "superseded"

    @property
    def outcome(self) -> Outcome | None:
        """The command outcome this decision ends in; None while the rollout goes on."""
        return None if self is RolloutDecision.IN_PROGRESS else Outcome(self.value)

    @property
    def final(self) -> bool:
        return self is not RolloutDecision.IN_PROGRESS


@dataclass(frozen=True)
class Target:
    """The deployment we started and what it replaced."""

    deployment_id: str
    task_definition: str
    previous_task_definition: str | None = None


@dataclass(frozen=True)
class Event:
    id: str
    message: str
    created_at: Any = None


@dataclass(frozen=True)
class RolloutProgress:
    rollout_state: str | None
    running: int
    desired: int
    pending: int
    failed_tasks: int
    deployments: int
    new_events: tuple[Event, ...] = ()

    def summary(self) -> str:
        state = self.rollout_state or "no rollout state"
        text = f"{state}: running {self.running}/{self.desired}, pending {self.pending}"
        if self.failed_tasks:
            text += f", {self.failed_tasks} failed task{'s' if self.failed_tasks != 1 else ''}"
        if self.deployments > 1:
            text += f", {self.deployments} deployments"
        return text


@dataclass(frozen=True)
class Seen:
    """What earlier polls established; each observation returns the next one."""

    event_ids: frozenset[str] = frozenset()
    saw_ours: bool = False
    saw_failed: bool = False
    # An event since we started said ECS is rolling back or that our deployment failed.
    rollback_evidence: bool = False
    failed_tasks: int = 0
    fingerprint: tuple[Any, ...] | None = None

    @classmethod
    def baseline(cls, service: Mapping[str, Any]) -> Seen:
        """Everything already in the service before our update, so old events prove nothing."""
        return cls(event_ids=frozenset(str(e.get("id")) for e in service.get("events") or ()))


@dataclass(frozen=True)
class Observation:
    """The outcome record of one poll."""

    decision: RolloutDecision
    message: str
    progress: RolloutProgress
    seen: Seen
    changed: bool
    failed_tasks_grew: bool
    replaced_by: Mapping[str, Any] | None = field(default=None, compare=False)


_ROLLBACK_WORDS = ("rolling back", "rolled back", "circuit breaker")


def deployment(service: Mapping[str, Any], deployment_id: str) -> Mapping[str, Any] | None:
    item: Mapping[str, Any]
    for item in service.get("deployments") or ():
        if item.get("id") == deployment_id:
            return item
    return None


def primary(service: Mapping[str, Any]) -> Mapping[str, Any] | None:
    item: Mapping[str, Any]
    for item in service.get("deployments") or ():
        if item.get("status") == "PRIMARY":
            return item
    return None


def steady_on(service: Mapping[str, Any], task_definition: str) -> bool:
    """One COMPLETED PRIMARY deployment of this task definition with every task running:
    a deploy of it would change nothing."""
    deployments = service.get("deployments") or []
    if len(deployments) != 1:
        return False
    only = deployments[0]
    return (
        only.get("status") == "PRIMARY"
        and only.get("taskDefinition") == task_definition
        and only.get("rolloutState") == "COMPLETED"
        and _count(only, "runningCount") == _count(only, "desiredCount")
        and _count(service, "runningCount") == _count(service, "desiredCount")
    )


def rollback_enabled(service: Mapping[str, Any]) -> bool:
    breaker = (service.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
    return bool(breaker.get("enable") and breaker.get("rollback"))


def early_success_percent(service: Mapping[str, Any]) -> int | None:
    """The healthy share at which ECS completes a rolling deployment early, when the service has
    early success criteria (docs/design.md §5); None otherwise."""
    config = service.get("deploymentConfiguration") or {}
    if (config.get("strategy") or "ROLLING") != "ROLLING":
        return None
    early = config.get("earlySuccessCriteria") or {}
    percent = early.get("healthyPercent")
    return int(percent) if early.get("enable") and isinstance(percent, int | float) else None


def observe(service: Mapping[str, Any], target: Target, seen: Seen) -> Observation:
    """Decide what one describe_services snapshot means for our deployment."""
    ours = deployment(service, target.deployment_id)
    if ours is not None and ours.get("status") == "INACTIVE":
        ours = None
    lead = primary(service)
    new_events = _new_events(service, seen)
    evidence = seen.rollback_evidence or any(_is_rollback_evidence(e, target) for e in new_events)
    shown = ours or lead or {}
    failed_tasks = _count(ours, "failedTasks") if ours else seen.failed_tasks
    progress = RolloutProgress(
        rollout_state=shown.get("rolloutState"),
        running=_count(shown, "runningCount"),
        desired=_count(shown, "desiredCount"),
        pending=_count(shown, "pendingCount"),
        failed_tasks=failed_tasks,
        deployments=len(service.get("deployments") or ()),
        new_events=new_events,
    )
    fingerprint = _fingerprint(service)
    next_seen = replace(
        seen,
        event_ids=seen.event_ids | {e.id for e in new_events},
        saw_ours=seen.saw_ours or ours is not None,
        saw_failed=seen.saw_failed or (ours is not None and ours.get("rolloutState") == "FAILED"),
        rollback_evidence=evidence,
        failed_tasks=max(seen.failed_tasks, failed_tasks),
        fingerprint=fingerprint,
    )
    decision, message, replaced_by = _decide(service, ours, lead, target, next_seen)
    return Observation(
        decision=decision,
        message=message,
        progress=progress,
        seen=next_seen,
        changed=fingerprint != seen.fingerprint or bool(new_events),
        failed_tasks_grew=failed_tasks > seen.failed_tasks,
        replaced_by=replaced_by,
    )


def _decide(
    service: Mapping[str, Any],
    ours: Mapping[str, Any] | None,
    lead: Mapping[str, Any] | None,
    target: Target,
    seen: Seen,
) -> tuple[RolloutDecision, str, Mapping[str, Any] | None]:
    ident = target.deployment_id
    other = lead if lead is not None and lead.get("id") != ident else None

    if ours is not None and ours.get("rolloutState") == "FAILED":
        reason = ours.get("rolloutStateReason") or "no reason given"
        if other is not None or rollback_enabled(service):
            back_to = f" to {other.get('taskDefinition')}" if other else ""
            return (
                RolloutDecision.ROLLED_BACK,
                f"deployment {ident} failed ({reason}); ECS rolled the service back{back_to}",
                other,
            )
        return (
            RolloutDecision.FAILED,
            f"deployment {ident} failed ({reason}); the service was not rolled back",
            None,
        )

    if other is not None:
        replacement = other.get("taskDefinition")
        looks_like_rollback = seen.saw_failed or (
            seen.rollback_evidence
            and replacement != target.task_definition
            and (replacement == target.previous_task_definition or _names_our_failure(service, ident))
        )
        if looks_like_rollback:
            return (
                RolloutDecision.ROLLED_BACK,
                f"deployment {ident} was rolled back by ECS's circuit breaker: "
                f"deployment {other.get('id')} now runs {replacement}",
                other,
            )
        same = " (same task definition)" if replacement == target.task_definition else ""
        return (
            RolloutDecision.SUPERSEDED,
            f"deployment {ident} was replaced by deployment {other.get('id')} of {replacement}{same}, "
            "which releasectl did not start",
            other,
        )

    if ours is None:
        # No PRIMARY of anyone else either: ECS has not listed the deployment (yet).
        return RolloutDecision.IN_PROGRESS, f"deployment {ident} is not listed yet", None

    if ours.get("status") == "PRIMARY" and ours.get("rolloutState") == "COMPLETED":
        running, desired = _count(ours, "runningCount"), _count(ours, "desiredCount")
        drained = _count(service, "runningCount") == _count(service, "desiredCount")
        early = early_success_percent(service)
        if early is not None and desired and running * 100 >= early * desired:
            # Early success: ECS completed ours at that share of healthy tasks; the old tasks
            # (and the rest of ours) may still be on their way. Waiting for them is no part of it.
            return (
                RolloutDecision.SUCCEEDED,
                f"deployment {ident} completed early ({running}/{desired} tasks running "
                f"{target.task_definition}, early success at {early}%)",
                None,
            )
        if running == desired and drained:
            if desired == 0:
                return (
                    RolloutDecision.SUCCEEDED,
                    f"deployment {ident} completed with desired count 0: no task proved healthy",
                    None,
                )
            return (
                RolloutDecision.SUCCEEDED,
                f"deployment {ident} completed: {running}/{desired} tasks running {target.task_definition}",
                None,
            )
    state = ours.get("rolloutState") or "no rollout state"
    return RolloutDecision.IN_PROGRESS, f"deployment {ident} is {state}", None


def _new_events(service: Mapping[str, Any], seen: Seen) -> tuple[Event, ...]:
    fresh = [
        Event(id=str(e.get("id")), message=str(e.get("message", "")), created_at=e.get("createdAt"))
        for e in service.get("events") or ()
        if str(e.get("id")) not in seen.event_ids
    ]
    # ECS lists events newest first; people read them oldest first.
    return tuple(reversed(fresh))


def _is_rollback_evidence(event: Event, target: Target) -> bool:
    text = event.message.lower()
    if any(word in text for word in _ROLLBACK_WORDS):
        return True
    return f"(deployment {target.deployment_id}) deployment failed" in event.message


def _names_our_failure(service: Mapping[str, Any], deployment_id: str) -> bool:
    return any(
        f"(deployment {deployment_id}) deployment failed" in str(e.get("message", ""))
        for e in service.get("events") or ()
    )


def _fingerprint(service: Mapping[str, Any]) -> tuple[Any, ...]:
    per_deployment = tuple(
        (
            d.get("id"),
            d.get("status"),
            d.get("rolloutState"),
            _count(d, "runningCount"),
            _count(d, "pendingCount"),
            _count(d, "failedTasks"),
        )
        for d in _sorted(service.get("deployments") or ())
    )
    return (*per_deployment, (_count(service, "runningCount"), _count(service, "desiredCount")))


def _sorted(deployments: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(deployments, key=lambda d: str(d.get("id")))


def _count(item: Mapping[str, Any] | None, key: str) -> int:
    if not item:
        return 0
    value = item.get(key)
    return int(value) if isinstance(value, int | float) else 0
