"""Wait for a rollout's truthful outcome: poll, report progress, back off, give up on time.

Two ways, chosen once per run by the caller (docs/design.md §5). Where ECS offers the
service-deployments API, wait_for_service_deployment follows OUR service deployment: one poll is
one DescribeServiceDeployments call (status, stage, traffic split) and one describe_services call
(events); the outcome is ECS's status (releasectl.core.service_deployment). Elsewhere (moto, an
older partition) wait_for_rollout reads the service's deployments list, as below.

In the fallback, one poll is one describe_services call. Stopped tasks are fetched only when the
deployment's failedTasks count grows, and after every poll the waiter sleeps at least one
second per call it made, so the average stays at or under one call a second whatever
happens. When nothing changes the interval grows (with jitter, so many waiting clients do
not poll in step) to 15 s; any change brings it back to fast polling (core.backoff). The
deadline is explicit and always honoured: no SDK waiter defaults are involved.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from releasectl.adapters.aws.ecs import stop_reason
from releasectl.core.backoff import Backoff
from releasectl.core.rollout import Observation, RolloutDecision, Seen, Target, observe
from releasectl.core.service_deployment import (
    ABORT_TAG,
    DeploymentView,
    Verdict,
    bake_left,
    decide,
    read,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.commands.context import Context
    from releasectl.commands.verify import Verifier


ROLLOUT_BACKOFF = Backoff(first=2.0, maximum=15.0, factor=1.6, jitter=0.2)


@dataclass(frozen=True)
class WaitResult:
    observation: Observation
    timed_out: bool
    elapsed: float
    polls: int
    calls: int

    @property
    def decision(self) -> RolloutDecision:
        return self.observation.decision

    @property
    def message(self) -> str:
        if not self.timed_out:
            return self.observation.message
        return (
            f"timed out after {self.elapsed:.0f} s; last seen: {self.observation.message}, "
            f"{self.observation.progress.summary()}; the deployment may still finish"
        )


def wait_for_rollout(
    ctx: Context,
    ecs: EcsApi,
    *,
    target: Target,
    seen: Seen,
    timeout: float,
    first_snapshot: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
    backoff: Backoff = ROLLOUT_BACKOFF,
) -> WaitResult:
    """Poll the service until our deployment's outcome is decided or `timeout` seconds pass.

    `first_snapshot` (the update_service response) counts as the first poll, for free.
    """
    rng = rng or random.Random()  # noqa: S311 - jitter, not security  # nosec B311
    clock = ctx.clock
    start = clock.now()
    deadline = start + timeout
    interval = backoff.first
    reported_tasks: set[str] = set()
    polls = 0
    calls_at_start = ecs.calls
    snapshot = first_snapshot
    while True:
        calls_before = ecs.calls
        if snapshot is None:
            snapshot = ecs.describe_service()
        polls += 1
        observation = observe(snapshot, target, seen)
        seen = observation.seen
        snapshot = None
        _report(ctx, ecs, observation, target, reported_tasks)
        now = clock.now()
        if observation.decision.final or now >= deadline:
            return WaitResult(
                observation=observation,
                timed_out=not observation.decision.final,
                elapsed=now - start,
                polls=polls,
                calls=ecs.calls - calls_at_start,
            )
        interval = backoff.step(interval, changed=observation.changed)
        clock.sleep(
            backoff.pause(interval, rng=rng, calls=ecs.calls - calls_before, remaining=deadline - now)
        )


def _report(
    ctx: Context, ecs: EcsApi, observation: Observation, target: Target, reported_tasks: set[str]
) -> None:
    reporter = ctx.reporter
    for event in observation.progress.new_events:
        reporter.info(f"event: {event.message}")
    if observation.changed:
        reporter.info(f"{target.deployment_id} {observation.progress.summary()}")
    if observation.failed_tasks_grew:
        stopped = ecs.stopped_tasks(target.deployment_id, seen=reported_tasks)
        # Many tasks often fail for one reason; say each reason once with a count.
        reasons = Counter(stop_reason(task) for task in stopped)
        for reason, count in reasons.items():
            prefix = f"{count} tasks stopped" if count > 1 else "task stopped"
            reporter.warn(f"{prefix}: {reason}")


# ----------------------------------------------------------------------------- service deployments


@dataclass(frozen=True)
class DeploymentWaitResult:
    """How the wait on one service deployment ended."""

    verdict: Verdict
    view: DeploymentView
    timed_out: bool
    elapsed: float
    polls: int
    calls: int
    # What releasectl itself did to the deployment: "abort", "releasectl: verification failed: …".
    stopped_by: str | None = None
    verified: bool | None = None  # None: no check was asked for

    @property
    def decision(self) -> RolloutDecision:
        return self.verdict.decision

    @property
    def message(self) -> str:
        if not self.timed_out:
            return self.verdict.message
        return (
            f"timed out after {self.elapsed:.0f} s; last seen: deployment {self.view.id} "
            f"{self.view.summary()}; the deployment may still finish"
        )


def wait_for_service_deployment(
    ctx: Context,
    ecs: EcsApi,
    *,
    arn: str,
    target: Target,
    seen: Seen,
    timeout: float,
    rng: random.Random | None = None,
    backoff: Backoff = ROLLOUT_BACKOFF,
    verifier: Verifier | None = None,
    stopped_by: str | None = None,
) -> DeploymentWaitResult:
    """Follow service deployment `arn` until ECS says how it ended or `timeout` seconds pass.

    Each poll makes two calls (DescribeServiceDeployments, then DescribeServices for the events)
    and sleeps at least a second per call, so the average stays at or under one call a second.
    With a verifier, once the test listener carries the new revision, each poll checks it until a
    check passes; `verifier.settings.attempts` failures in a row stop the deployment with a
    rollback, and the outcome says so."""
    from releasectl.commands.deployment_watch import open_watch

    rng = rng or random.Random()  # noqa: S311 - jitter, not security  # nosec B311
    clock = ctx.clock
    start = clock.now()
    deadline = start + timeout
    interval = backoff.first
    polls = 0
    calls_at_start = ecs.calls
    phase: tuple[Any, ...] | None = None
    phase_since = start
    watch = open_watch(ctx)
    try:
        while True:
            calls_before = ecs.calls
            sd = ecs.describe_service_deployment(arn)
            service = ecs.describe_service()
            polls += 1
            observation = observe(service, target, seen)
            seen = observation.seen
            for event in observation.progress.new_events:
                ctx.reporter.info(f"event: {event.message}")
            view = read(sd)
            now = clock.now()
            changed = view.phase != phase
            if changed:
                phase, phase_since = view.phase, now
            left = bake_left(view, now - phase_since)
            watch.update(view, left, changed=changed)
            verdict = decide(sd, stopped_by=stopped_by)
            if (
                verifier is not None
                and stopped_by is None
                and not verifier.passed
                and not verdict.decision.final
            ):
                stopped_by = _verify(ctx, ecs, verifier, view, arn)
                if stopped_by:
                    changed = True
            if verdict.decision.final or now >= deadline:
                break
            interval = backoff.step(interval, changed=changed or bool(observation.progress.new_events))
            clock.sleep(
                backoff.pause(interval, rng=rng, calls=ecs.calls - calls_before, remaining=deadline - now)
            )
    finally:
        watch.close()
    timed_out = not verdict.decision.final
    # A rollback nobody in this run asked for: `releasectl abort` marks the revision first.
    rolled_back = not timed_out and verdict.decision is RolloutDecision.ROLLED_BACK
    if rolled_back and stopped_by is None and _aborted(ecs, target.task_definition, arn):
        stopped_by = "abort"
        verdict = decide(sd, stopped_by=stopped_by)
    if not timed_out and verdict.decision is RolloutDecision.SUPERSEDED:
        verdict = _name_the_replacement(verdict, service, target)
    return DeploymentWaitResult(
        verdict=verdict,
        view=view,
        timed_out=timed_out,
        elapsed=clock.now() - start,
        polls=polls,
        calls=ecs.calls - calls_at_start,
        stopped_by=stopped_by,
        verified=None if verifier is None else verifier.passed,
    )


def _verify(ctx: Context, ecs: EcsApi, verifier: Verifier, view: DeploymentView, arn: str) -> str | None:
    """One round of checks when the test listener carries the new revision; the stop reason when
    the checks have failed too often and the deployment was stopped."""
    if not view.test_traffic_on_new:
        return None
    problem = verifier.check()
    if problem is None:
        ctx.reporter.info(
            f"verified through the test listener: {', '.join(verifier.checked)} "
            f"answer as {verifier.version} should"
        )
        return None
    attempts = verifier.settings.attempts
    ctx.reporter.warn(f"test listener check {verifier.failures}/{attempts} failed: {problem}")
    if not verifier.exhausted:
        return None
    reason = f"releasectl: verification failed: {problem}"
    if ecs.stop_service_deployment(arn):
        ctx.reporter.warn(f"stopping deployment {view.id} with a rollback: {problem}")
    else:
        ctx.reporter.warn(f"ECS refused to stop deployment {view.id}: it has finished; its status decides")
    return reason


def _aborted(ecs: EcsApi, task_definition: str, arn: str) -> bool:
    from releasectl.core.errors import ReleasectlError

    try:
        revision = ecs.describe_task_definition(task_definition)
    except ReleasectlError:
        return False
    return revision.tags.get(ABORT_TAG) == arn.rsplit("/", 1)[-1]


def _name_the_replacement(verdict: Verdict, service: Mapping[str, Any], target: Target) -> Verdict:
    """A superseded deployment's message names the deployment that now leads, as the service's
    deployments list calls it (the id a racing `releasectl deploy` reported)."""
    from releasectl.core.rollout import primary

    lead = primary(service)
    if lead is None or not lead.get("id") or lead.get("id") == target.deployment_id:
        return verdict
    return Verdict(
        verdict.decision,
        f"{verdict.message}; deployment {lead.get('id')} of {lead.get('taskDefinition')} now leads, "
        "which this run did not start",
        verdict.manual_action,
    )
