"""Wait for a rollout's truthful outcome: poll, report progress, back off, give up on time.

One poll is one describe_services call. Stopped tasks are fetched only when the
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

if TYPE_CHECKING:
    from collections.abc import Mapping

    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.commands.context import Context


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
