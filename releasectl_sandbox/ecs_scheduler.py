"""What ECS's service scheduler decides on each pass over a service (the ECS simulator runs it
every tick, under its lock): circuit breaker, launches within maximumPercent, draining within
minimumHealthyPercent, completion. It changes records only; task processes start and stop in
their runners."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from releasectl_sandbox.ecs_model import (
    ACTIVE,
    BREAKER_REASON,
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    SimDeployment,
    SimService,
    SimTask,
    deployment_id,
    now,
    task_list,
)


@dataclass
class Scheduler:
    launch: Callable[[SimService, SimDeployment], SimTask]
    breaker_threshold: int = 2
    announce: Callable[[str], None] = lambda _line: None

    def deploy(self, sim: SimService, task_definition: str) -> SimDeployment:
        """A new PRIMARY deployment; the others become ACTIVE and are drained."""
        new = SimDeployment(id=deployment_id(), task_definition=task_definition, desired=sim.desired)
        for old in sim.deployments:
            old.status = ACTIVE
            old.updated_at = now()
        sim.deployments = [new, *sim.deployments]
        self.announce(f"sandbox: ECS deployment {new.id} of {sim.name} started: {task_definition}")
        return new

    def reconcile(self, sim: SimService, config: Mapping[str, Any]) -> None:
        breaker = config.get("deploymentCircuitBreaker") or {}
        primary = sim.primary
        if (
            primary.rollout_state == IN_PROGRESS
            and breaker.get("enable")
            and primary.failed_tasks >= self.breaker_threshold
        ):
            self._trip(sim, primary, rollback=bool(breaker.get("rollback")))
            primary = sim.primary
        desired = sim.desired
        max_total = math.floor(desired * int(config.get("maximumPercent", 200)) / 100)
        min_healthy = math.ceil(desired * int(config.get("minimumHealthyPercent", 100)) / 100)

        live = sim.live_tasks()
        mine = sim.live_tasks(primary)
        if primary.rollout_state != FAILED and time.monotonic() >= primary.next_launch:
            count = min(desired - len(mine), max(0, max_total - len(live)))
            started = [self.launch(sim, primary) for _ in range(max(0, count))]
            if started:
                sim.event(f"has started {len(started)} tasks: {task_list(started)}.")
        if len(mine) > desired:
            extra = sorted(mine, key=lambda t: t.healthy)[: len(mine) - desired]
            self._stop_tasks(sim, extra, primary)

        healthy = sum(1 for t in sim.live_tasks() if t.healthy)
        draining = []
        for task in sorted(
            (t for t in sim.live_tasks() if t.deployment_id != primary.id), key=lambda t: t.healthy
        ):
            if not task.healthy:
                draining.append(task)
            elif healthy - 1 >= min_healthy:
                healthy -= 1
                draining.append(task)
        self._stop_tasks(sim, draining, primary)

        # A drained deployment leaves the list, except a FAILED one: it stays (ACTIVE, rolloutState
        # FAILED) until the rollback that replaced it completes, so callers can see what happened.
        others = [d for d in sim.deployments[1:] if sim.present_tasks(d) or d.rollout_state == FAILED]
        sim.deployments = [primary, *others]
        ready = [t for t in sim.live_tasks(primary) if t.healthy]
        if (
            primary.rollout_state == IN_PROGRESS
            and len(ready) >= desired
            and not any(sim.present_tasks(d) for d in others)
            and len(sim.present_tasks(primary)) == len(ready)
        ):
            primary.rollout_state, primary.reason = COMPLETED, f"ECS deployment {primary.id} completed."
            primary.updated_at = now()
            sim.deployments = [primary]
            sim.stable = primary
            sim.event(f"(deployment {primary.id}) deployment completed.")
            sim.event("has reached a steady state.")
            self.announce(
                f"sandbox: ECS service {sim.name} reached a steady state on {primary.task_definition}"
            )

    def _trip(self, sim: SimService, failed: SimDeployment, *, rollback: bool) -> None:
        failed.rollout_state, failed.reason = FAILED, BREAKER_REASON
        failed.updated_at = now()
        sim.event(f"(deployment {failed.id}) deployment failed: tasks failed to start.")
        self.announce(f"sandbox: ECS deployment {failed.id} of {sim.name} FAILED (circuit breaker)")
        target = sim.stable
        if not rollback or target is None:
            return
        sim.event(f"rolling back to deployment {target.id}.")
        self.announce(f"sandbox: ECS rolls {sim.name} back to {target.task_definition}")
        self.deploy(sim, target.task_definition)

    def _stop_tasks(self, sim: SimService, tasks: list[SimTask], primary: SimDeployment) -> None:
        if not tasks:
            return
        sim.event(f"has begun draining connections on {len(tasks)} tasks.")
        for task in tasks:
            sim.stop(
                task,
                f"Scaling activity initiated by (deployment {primary.id})",
                "ServiceSchedulerInitiated",
            )
        sim.event(f"has stopped {len(tasks)} running tasks: {task_list(tasks)}.")
