"""What ECS's service scheduler decides on each pass over a service (the ECS simulator runs it
every tick, under its lock): circuit breaker and deployment alarms, launches within
maximumPercent, draining within minimumHealthyPercent, bake time, early success, completion, and
the status of each service deployment. Blue/green, canary and linear deployments move through
their lifecycle stages with releasectl_sandbox.ecs_traffic. It changes records only; task processes
start and stop in their runners."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from releasectl_sandbox.ecs_deployments import (
    BAKE_TIME,
    CLEAN_UP,
    PENDING,
    PRE_SCALE_UP,
    RECONCILE_SERVICE,
    ROLLBACK_FAILED,
    ROLLBACK_IN_PROGRESS,
    ROLLBACK_REQUESTED,
    ROLLBACK_SUCCESSFUL,
    ROLLING,
    ROLLING_BACK,
    SCALE_UP,
    STOP_REQUESTED,
    STOPPED,
    SUCCESSFUL,
    TRAFFIC_SHIFTING,
    SimServiceDeployment,
)
from releasectl_sandbox.ecs_deployments import (
    IN_PROGRESS as SD_IN_PROGRESS,
)
from releasectl_sandbox.ecs_model import (
    ACTIVE,
    BREAKER_REASON,
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    PRIMARY,
    SimDeployment,
    SimService,
    SimTask,
    deployment_id,
    now,
    task_list,
)
from releasectl_sandbox.ecs_traffic import Shift, Stepper, advanced

STOP_ROLLBACK_REASON = "Service deployment rolled back by a StopServiceDeployment request."
STOP_ABORT_REASON = "Service deployment stopped by a StopServiceDeployment request (ABORT)."


def alarm_reason(names: Sequence[str]) -> str:
    return f"CloudWatch alarm(s) {', '.join(names)} in ALARM state."


@dataclass
class Scheduler:
    launch: Callable[[SimService, SimDeployment], SimTask]
    breaker_threshold: int = 2
    announce: Callable[[str], None] = lambda _line: None
    # Which of these deployment alarms are in ALARM now.
    firing: Callable[[Sequence[str]], list[str]] = lambda _names: []
    # Set a listener rule's forward weights (target group ARN -> weight).
    set_weights: Callable[[str, Mapping[str, float]], None] = lambda _rule, _weights: None
    minute: float = 1.0  # seconds per ECS minute: bake times are scaled by it
    clock: Callable[[], float] = time.monotonic
    _stepper: Stepper = field(init=False)

    def __post_init__(self) -> None:
        self._stepper = Stepper(self._route, self.clock)

    def _route(self, rule: str, weights: Mapping[str, float]) -> None:
        self.set_weights(rule, weights)

    # ------------------------------------------------------------------ starting

    def deploy(
        self,
        sim: SimService,
        task_definition: str,
        *,
        revision: str,
        service_deployment: SimServiceDeployment | None = None,
        rollback_of: SimServiceDeployment | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> SimDeployment:
        """A new PRIMARY deployment; the others become ACTIVE and are drained (or cleaned up at
        the end of a blue/green, canary or linear deployment)."""
        new = SimDeployment(
            id=deployment_id(),
            task_definition=task_definition,
            desired=sim.desired,
            revision=revision,
            service_deployment=service_deployment,
            rollback_of=rollback_of,
        )
        strategy = service_deployment.strategy if service_deployment is not None else ROLLING
        if strategy in TRAFFIC_SHIFTING:
            new.shift = Shift.plan_for(config or {}, self.minute)
        else:
            new.target_group = sim.live_target_group
        for old in sim.deployments:
            old.status = ACTIVE
            old.updated_at = now()
        sim.deployments = [new, *sim.deployments]
        self.announce(f"sandbox: ECS deployment {new.id} of {sim.name} started: {task_definition}")
        return new

    def request_stop(self, sim: SimService, sd: SimServiceDeployment, stop_type: str) -> str | None:
        """StopServiceDeployment on an ongoing deployment; None, or why it cannot be done."""
        target = next((d for d in sim.deployments if d.service_deployment is sd), None)
        if sd.status not in (PENDING, SD_IN_PROGRESS) or target is None:
            return None  # already stopping or rolling back: it continues
        if stop_type == "ABORT":
            target.rollout_state, target.reason = FAILED, STOP_ABORT_REASON
            target.updated_at = now()
            sd.move(STOP_REQUESTED, STOP_ABORT_REASON)
            sim.event(f"(deployment {target.id}) deployment stopped: StopServiceDeployment (ABORT).")
            return None
        if sim.stable is None or sim.stable is target:
            return "The service deployment has no source service revision to roll back to."
        sim.event(f"(deployment {target.id}) rollback requested: StopServiceDeployment (ROLLBACK).")
        self._fail(sim, target, STOP_ROLLBACK_REASON, rollback=True, cause="StopServiceDeployment")
        return None

    # ------------------------------------------------------------------ each tick

    def reconcile(self, sim: SimService, config: Mapping[str, Any]) -> None:
        self._statuses(sim)
        primary = sim.primary
        if primary.shift is not None and primary.rollout_state == IN_PROGRESS:
            self._shifting(sim, primary, config)
        else:
            self._rolling(sim, config)
        self._rolled_back(sim)

    def _statuses(self, sim: SimService) -> None:
        """What a request asked for becomes what happens on the scheduler's next pass."""
        for sd in sim.service_deployments:
            if sd.status == PENDING:
                sd.move(SD_IN_PROGRESS)
                target = next((d for d in sim.deployments if d.service_deployment is sd), None)
                shifting = target is not None and target.shift is not None
                sd.stage(PRE_SCALE_UP if shifting else SCALE_UP)
            elif sd.status == ROLLBACK_REQUESTED:
                sd.move(ROLLBACK_IN_PROGRESS)
            elif sd.status == STOP_REQUESTED:
                sd.move(STOPPED)

    def _tracked(self, deployment: SimDeployment) -> SimServiceDeployment | None:
        sd = deployment.tracked_by
        return sd if sd is not None and not sd.done else None

    def _check_failures(self, sim: SimService, primary: SimDeployment, config: Mapping[str, Any]) -> bool:
        """The circuit breaker and the deployment alarms; True if the deployment failed now."""
        breaker = config.get("deploymentCircuitBreaker") or {}
        sd = self._tracked(primary)
        own = sd is not None and primary.service_deployment is sd
        if sd is not None and own:
            sd.breaker_threshold = self.breaker_threshold
            sd.breaker_failures = primary.failed_tasks
        if breaker.get("enable") and primary.failed_tasks >= self.breaker_threshold:
            if sd is not None and own:
                sd.breaker_triggered = True
            self._fail(
                sim, primary, BREAKER_REASON, rollback=bool(breaker.get("rollback")), cause="circuit breaker"
            )
            return True
        if sd is not None and own and (firing := self.firing(sd.alarm_names)):
            sd.triggered_alarms = tuple(firing)
            rollback = bool((sd.configuration.get("alarms") or {}).get("rollback"))
            self._fail(
                sim, primary, alarm_reason(firing), rollback=rollback, cause=f"alarm {', '.join(firing)}"
            )
            return True
        return False

    # ------------------------------------------------------------------ rolling

    def _rolling(self, sim: SimService, config: Mapping[str, Any]) -> None:
        primary = sim.primary
        if primary.rollout_state == IN_PROGRESS and not primary.early_success:
            self._check_failures(sim, primary, config)
            primary = sim.primary
        desired = sim.desired
        max_total = math.floor(desired * int(config.get("maximumPercent", 200)) / 100)
        min_healthy = math.ceil(desired * int(config.get("minimumHealthyPercent", 100)) / 100)

        live = sim.live_tasks()
        mine = sim.live_tasks(primary)
        if primary.rollout_state != FAILED and self.clock() >= primary.next_launch:
            count = min(desired - len(mine), max(0, max_total - len(live)))
            started = [self.launch(sim, primary) for _ in range(max(0, count))]
            if started:
                sim.event(f"has started {len(started)} tasks: {task_list(started)}.")
        if len(mine) > desired:
            extra = sorted(mine, key=lambda t: t.healthy)[: len(mine) - desired]
            self._stop_tasks(sim, extra, primary)

        healthy = sum(1 for t in sim.live_tasks() if t.healthy)
        draining = []
        # A FAILED deployment (stopped, not rolled back) changes nothing more: the tasks of both
        # revisions stay as they are.
        replaced = [] if primary.rollout_state == FAILED else sim.live_tasks()
        for task in sorted((t for t in replaced if t.deployment_id != primary.id), key=lambda t: t.healthy):
            if not task.healthy:
                draining.append(task)
            elif healthy - 1 >= min_healthy:
                healthy -= 1
                draining.append(task)
        self._stop_tasks(sim, draining, primary)
        self._trim(sim)
        if primary.rollout_state == IN_PROGRESS:
            self._rolling_progress(sim, primary, config)

    def _trim(self, sim: SimService) -> None:
        """A drained deployment leaves the list, except a FAILED one while the deployment that
        replaced it is in progress: callers can see what happened."""
        primary = sim.primary
        keep_failed = primary.rollout_state == IN_PROGRESS
        others = [
            d for d in sim.others() if sim.present_tasks(d) or (keep_failed and d.rollout_state == FAILED)
        ]
        sim.deployments = [primary, *others]

    def _rolling_progress(self, sim: SimService, primary: SimDeployment, config: Mapping[str, Any]) -> None:
        """Bake time, early success and completion of a rolling deployment."""
        tracked = self._tracked(primary)
        # A rollback's deployment reports its end to the service deployment it rolls back, whose
        # lifecycle stage stays where the failure found it.
        own = tracked if tracked is not None and primary.service_deployment is tracked else None
        sd = own
        ready = [t for t in sim.live_tasks(primary) if t.healthy]
        desired = sim.desired
        early = (config.get("earlySuccessCriteria") or {}) if own is not None else {}
        needed = (
            math.ceil(desired * int(early.get("healthyPercent", 100)) / 100) if early.get("enable") else None
        )
        if len(ready) < desired and (needed is None or len(ready) < needed):
            if sd is not None and sd.lifecycle_stage != BAKE_TIME:
                sd.stage(SCALE_UP)
            return
        # The bake time of an alarm-monitored deployment: the alarms keep watching.
        bake = float(own.configuration.get("bakeTimeInMinutes") or 0) if own and own.alarm_names else 0.0
        if bake and primary.bake_until is None:
            primary.bake_until = self.clock() + bake * self.minute
            if own is not None:
                own.stage(BAKE_TIME)
        if primary.bake_until is not None and self.clock() < primary.bake_until:
            return
        sources = [d for d in sim.others() if sim.present_tasks(d)]
        if needed is not None:
            # Early success: the source revision's tasks go now, whatever minimumHealthyPercent says.
            leftover = [t for d in sim.others() for t in sim.live_tasks(d)]
            self._stop_tasks(sim, leftover, primary)
            if early.get("sourceServiceRevisionCleanup") == "DEFERRED" or not sources:
                self._complete(sim, primary, early=(len(ready), desired))
            elif own is not None:
                own.stage(CLEAN_UP)
            return
        if sources:
            if sd is not None:
                sd.stage(CLEAN_UP)
            return
        if len(ready) >= desired and len(sim.present_tasks(primary)) == len(ready):
            self._complete(sim, primary)

    def _complete(
        self, sim: SimService, primary: SimDeployment, *, early: tuple[int, int] | None = None
    ) -> None:
        primary.rollout_state, primary.reason = COMPLETED, f"ECS deployment {primary.id} completed."
        primary.updated_at = now()
        primary.early_success = early is not None
        if early is None:
            sim.deployments = [primary]
        sim.stable = primary
        if primary.target_group is not None:
            sim.live_target_group = primary.target_group
        sim.event(f"(deployment {primary.id}) deployment completed.")
        if early is None:
            sim.event("has reached a steady state.")
        sd = self._tracked(primary)
        if sd is not None:
            if primary.rollback_of is sd:
                sd.move(ROLLBACK_SUCCESSFUL)
            elif early is not None:
                healthy, desired = early
                sd.move(
                    SUCCESSFUL,
                    f"Service deployment completed by its early success criteria: {healthy} of "
                    f"{desired} tasks healthy.",
                )
            else:
                sd.move(SUCCESSFUL)
        self.announce(f"sandbox: ECS service {sim.name} reached a steady state on {primary.task_definition}")

    # ------------------------------------------------------------------ failures

    def _fail(
        self, sim: SimService, failed: SimDeployment, reason: str, *, rollback: bool, cause: str
    ) -> None:
        """The deployment failed (or was asked to roll back): roll back if it can, else stop."""
        failed.rollout_state, failed.reason = FAILED, reason
        failed.updated_at = now()
        short = "tasks failed to start." if reason == BREAKER_REASON else reason
        sim.event(f"(deployment {failed.id}) deployment failed: {short}")
        self.announce(f"sandbox: ECS deployment {failed.id} of {sim.name} FAILED ({cause})")
        sd = self._tracked(failed)
        if sd is not None and failed.rollback_of is sd:
            sd.move(ROLLBACK_FAILED, f"The rollback failed: {reason} Manual action is needed.")
            return
        target = sim.stable
        if not rollback or target is None:
            if sd is not None:
                sd.move(STOPPED, reason)
            return
        if sd is not None:
            sd.start_rollback(reason, target.revision)
        sim.event(f"rolling back to deployment {target.id}.")
        self.announce(f"sandbox: ECS rolls {sim.name} back to {target.task_definition}")
        if failed.shift is not None:
            self._return_to(sim, failed, target, sd)
        else:
            self.deploy(sim, target.task_definition, revision=target.revision, rollback_of=sd)

    def _return_to(
        self, sim: SimService, failed: SimDeployment, blue: SimDeployment, sd: SimServiceDeployment | None
    ) -> None:
        """A traffic-shifting rollback: both listener rules back to blue at once, blue PRIMARY
        again (its tasks never stopped), green's tasks drained."""
        shift = failed.shift
        assert shift is not None
        rules = advanced(_load_balancers(sim))
        shift.blue = shift.blue or sim.live_target_group
        self._stepper.route(rules, shift, production=0.0, test=0.0)
        blue.status, blue.updated_at = PRIMARY, now()
        failed.status = ACTIVE
        blue.rollback_of = sd
        sim.deployments = [blue, *[d for d in sim.deployments if d is not blue]]

    def _rolled_back(self, sim: SimService) -> None:
        """A traffic-shifting rollback ends when the failed revision has no task left."""
        for sd in sim.service_deployments:
            if sd.status not in ROLLING_BACK:
                continue
            target = next((d for d in sim.deployments if d.service_deployment is sd), None)
            if target is not None and target.shift is None:
                continue  # a rolling rollback ends with its rollback deployment
            if target is None or not sim.present_tasks(target):
                if sd.status == ROLLBACK_REQUESTED:
                    continue  # in progress first, on the next pass
                sd.move(ROLLBACK_SUCCESSFUL)
                sim.deployments = [d for d in sim.deployments if d is not target]
                sim.event("has reached a steady state.")

    # ------------------------------------------------------------------ blue/green, canary, linear

    def _shifting(self, sim: SimService, primary: SimDeployment, config: Mapping[str, Any]) -> None:
        shift = primary.shift
        assert shift is not None
        sd = self._tracked(primary)
        if self._check_failures(sim, primary, config):
            return
        rules = advanced(_load_balancers(sim))
        if shift.stage is None:
            # RECONCILE_SERVICE: tasks of an earlier deployment that never got all of production
            # (a deployment this one superseded) go first, with their share of the traffic.
            stray = [
                t for d in sim.others() for t in sim.live_tasks(d) if t.target_group != sim.live_target_group
            ]
            strays_present = [
                t
                for d in sim.others()
                for t in sim.tasks.values()
                if t.present and t.deployment_id == d.id and t.target_group != sim.live_target_group
            ]
            if strays_present:
                if sd is not None:
                    sd.stage(RECONCILE_SERVICE)
                for key in ("productionListenerRule", "testListenerRule"):
                    if rules.get(key) and sim.live_target_group:
                        self.set_weights(str(rules[key]), {sim.live_target_group: 100.0, **_zero(sim, rules)})
                self._stop_tasks(sim, stray, primary)
                return
            sources = [d for d in sim.others() if sim.live_tasks(d)]
            shift.blue = sim.live_target_group
            shift.green = _other_group(sim, rules) if sources else sim.live_target_group
            primary.target_group = shift.green
        if shift.stage == SCALE_UP:
            self._scale_green(sim, primary)
        green = sim.live_tasks(primary)
        ready = len([t for t in green if t.healthy]) >= sim.desired and len(green) >= sim.desired
        sources_gone = not any(sim.present_tasks(d) for d in sim.others())
        before = shift.stage
        stage = self._stepper.advance(shift, rules, green_ready=ready, sources_gone=sources_gone)
        if stage == "done":
            self._complete(sim, primary)
            return
        if stage == CLEAN_UP and before != CLEAN_UP:
            blue = [t for d in sim.others() for t in sim.live_tasks(d)]
            self._stop_tasks(sim, blue, primary)
        if sd is not None:
            sd.stage(stage)
        if stage != before:
            self.announce(f"sandbox: ECS deployment {primary.id} of {sim.name}: {stage}, {_split(shift)}")
        self._trim(sim)

    def _scale_green(self, sim: SimService, primary: SimDeployment) -> None:
        """Green gets a full set of tasks at once, whatever maximumPercent says."""
        mine = sim.live_tasks(primary)
        if self.clock() >= primary.next_launch and len(mine) < sim.desired:
            started = [self.launch(sim, primary) for _ in range(sim.desired - len(mine))]
            sim.event(f"has started {len(started)} tasks: {task_list(started)}.")

    # ------------------------------------------------------------------ helpers

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


def _load_balancers(sim: SimService) -> list[dict[str, Any]]:
    from releasectl_sandbox import moto_internals as internals

    return [dict(lb) for lb in internals.service_view(sim.moto).load_balancers]


def _other_group(sim: SimService, rules: Mapping[str, Any]) -> str | None:
    """The target group of the pair that production traffic does not go to now."""
    primary = sim.target_groups[0] if sim.target_groups else None
    alternate = rules.get("alternateTargetGroupArn")
    if not alternate:
        return sim.live_target_group
    return str(alternate) if sim.live_target_group == primary else primary


def _zero(sim: SimService, rules: Mapping[str, Any]) -> dict[str, float]:
    other = _other_group(sim, rules)
    return {other: 0.0} if other and other != sim.live_target_group else {}


def _split(shift: Shift) -> str:
    production, test = shift.production, shift.test
    return f"production {100 - production:g}/{production:g}, test {100 - test:g}/{test:g}"
