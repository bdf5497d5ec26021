"""Blue/green, canary and linear deployments in the sandbox's ECS, as the ECS developer guide
describes them ("Amazon ECS blue/green deployments", "... canary deployments", "... linear
deployments"): the new revision (green) gets a full set of tasks in the target group the
production listener rule does not send traffic to, the test listener rule moves to it, then the
production rule's weights move to it (all at once; the canary percentage, then the rest after the
canary bake time; or step by step, a step bake time apart), both revisions run through the bake
time, and the old revision (blue) is cleaned up. Each step is a lifecycle stage of the service
deployment:

    [RECONCILE_SERVICE] PRE_SCALE_UP SCALE_UP POST_SCALE_UP TEST_TRAFFIC_SHIFT
    POST_TEST_TRAFFIC_SHIFT PRODUCTION_TRAFFIC_SHIFT POST_PRODUCTION_TRAFFIC_SHIFT BAKE_TIME CLEAN_UP

The weights are written to the listener rules in moto's ELBv2 (what ECS does with the service's
infrastructure role), and the sandbox's load balancers route by those rules. A failure (the
circuit breaker, a deployment alarm in ALARM, StopServiceDeployment) rolls back by moving both
rules back to blue at once and stopping green's tasks. Minutes are sandbox minutes
(`Timings.minute` seconds each; docs/sandbox.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from releasectl_sandbox.ecs_deployments import (
    BAKE_TIME,
    BLUE_GREEN,
    CANARY,
    CLEAN_UP,
    LINEAR,
    POST_PRODUCTION_TRAFFIC_SHIFT,
    POST_SCALE_UP,
    POST_TEST_TRAFFIC_SHIFT,
    PRE_SCALE_UP,
    PRODUCTION_TRAFFIC_SHIFT,
    RECONCILE_SERVICE,
    ROLLING,
    SCALE_UP,
    TEST_TRAFFIC_SHIFT,
    TRAFFIC_SHIFTING,
)

# The defaults the API reference gives.
CANARY_PERCENT, CANARY_BAKE_MINUTES = 5.0, 10
LINEAR_STEP_PERCENT, LINEAR_STEP_BAKE_MINUTES = 10.0, 6


def strategy_of(config: Mapping[str, Any]) -> str:
    return str(config.get("strategy") or ROLLING)


def advanced(load_balancers: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The first load balancer's advancedConfiguration (the sandbox routes one load balancer)."""
    return dict((load_balancers[0].get("advancedConfiguration") or {}) if load_balancers else {})


def validation_error(
    config: Mapping[str, Any],
    load_balancers: Sequence[Mapping[str, Any]],
    *,
    rule_exists: Callable[[str], bool] = lambda _arn: True,
) -> str | None:
    """Why ECS would refuse this deploymentConfiguration with these load balancers, or None."""
    strategy = strategy_of(config)
    if strategy not in (ROLLING, *sorted(TRAFFIC_SHIFTING)):
        return f"Invalid deployment strategy {strategy!r}: use ROLLING, BLUE_GREEN, CANARY or LINEAR."
    bake = config.get("bakeTimeInMinutes")
    if bake is not None and not 0 <= int(bake) <= 1440:
        return "bakeTimeInMinutes must be between 0 and 1440."
    canary = config.get("canaryConfiguration") or {}
    linear = config.get("linearConfiguration") or {}
    if canary and strategy != CANARY:
        return "canaryConfiguration is only valid with the CANARY deployment strategy."
    if linear and strategy != LINEAR:
        return "linearConfiguration is only valid with the LINEAR deployment strategy."
    if canary:
        percent = float(canary.get("canaryPercent", CANARY_PERCENT))
        if not 0.1 <= percent <= 100.0:
            return "canaryPercent must be between 0.1 and 100.0."
        if not 0 <= int(canary.get("canaryBakeTimeInMinutes", CANARY_BAKE_MINUTES)) <= 1440:
            return "canaryBakeTimeInMinutes must be between 0 and 1440."
    if linear:
        step = float(linear.get("stepPercent", LINEAR_STEP_PERCENT))
        if not 3.0 <= step <= 100.0:
            return "stepPercent must be between 3.0 and 100.0."
        if not 0 <= int(linear.get("stepBakeTimeInMinutes", LINEAR_STEP_BAKE_MINUTES)) <= 1440:
            return "stepBakeTimeInMinutes must be between 0 and 1440."
    early = config.get("earlySuccessCriteria") or {}
    if early.get("enable"):
        if strategy != ROLLING:
            return "earlySuccessCriteria can only be used with the ROLLING deployment strategy."
        healthy = early.get("healthyPercent")
        if healthy is None or early.get("sourceServiceRevisionCleanup") not in ("BLOCKING", "DEFERRED"):
            return (
                "earlySuccessCriteria needs healthyPercent and sourceServiceRevisionCleanup "
                "(BLOCKING or DEFERRED)."
            )
        if not int(config.get("minimumHealthyPercent", 100)) <= int(healthy) <= 100:
            return "earlySuccessCriteria.healthyPercent must be between the minimumHealthyPercent and 100."
    if strategy in TRAFFIC_SHIFTING and load_balancers:
        settings = advanced(load_balancers)
        missing = [
            name
            for name in ("alternateTargetGroupArn", "productionListenerRule", "roleArn")
            if not settings.get(name)
        ]
        if missing:
            return (
                f"The {strategy} deployment strategy needs loadBalancers[].advancedConfiguration with "
                f"{', '.join(missing)}."
            )
        for name in ("productionListenerRule", "testListenerRule"):
            arn = settings.get(name)
            if arn and not rule_exists(str(arn)):
                return f"The {name} {arn} does not exist."
    return None


@dataclass
class Shift:
    """Where a traffic-shifting deployment stands."""

    strategy: str
    plan: tuple[float, ...]  # the target's production weight at each step
    step_bake: float  # seconds between steps
    bake: float  # seconds of BAKE_TIME
    step: int = -1
    wait_until: float = 0.0
    stage: str | None = None
    blue: str | None = None  # the live target group when it started
    green: str | None = None  # the target group of the new revision's tasks
    production: float = 0.0  # the new revision's production weight now
    test: float = 0.0

    @classmethod
    def plan_for(cls, config: Mapping[str, Any], minute: float) -> Shift:
        strategy = strategy_of(config)
        bake = float(config.get("bakeTimeInMinutes") or 0) * minute
        if strategy == CANARY:
            canary = config.get("canaryConfiguration") or {}
            percent = float(canary.get("canaryPercent", CANARY_PERCENT))
            wait = float(canary.get("canaryBakeTimeInMinutes", CANARY_BAKE_MINUTES)) * minute
            return cls(strategy, (percent, 100.0) if percent < 100 else (100.0,), wait, bake)
        if strategy == LINEAR:
            linear = config.get("linearConfiguration") or {}
            step = float(linear.get("stepPercent", LINEAR_STEP_PERCENT))
            wait = float(linear.get("stepBakeTimeInMinutes", LINEAR_STEP_BAKE_MINUTES)) * minute
            steps = [round(step * n, 1) for n in range(1, math.ceil(100.0 / step))]
            return cls(strategy, (*[s for s in steps if s < 100.0], 100.0), wait, bake)
        return cls(BLUE_GREEN, (100.0,), 0.0, bake)


class Stepper:
    """Moves one traffic-shifting deployment forward, a stage at a time; the Scheduler calls it
    every tick with what it needs (the Scheduler owns launching, stopping and completing)."""

    def __init__(
        self,
        set_weights: Callable[[str, Mapping[str, float]], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.set_weights = set_weights
        self.clock = clock

    def route(self, rules: Mapping[str, Any], shift: Shift, *, production: float, test: float) -> None:
        """Point the production and test listener rules at blue and green with these weights."""
        shift.production, shift.test = production, test
        for key, weight in (("productionListenerRule", production), ("testListenerRule", test)):
            rule = rules.get(key)
            if not rule or shift.blue is None or shift.green is None:
                continue
            weights = (
                {shift.blue: 100.0}
                if shift.blue == shift.green
                else {shift.blue: round(100.0 - weight, 1), shift.green: weight}
            )
            self.set_weights(str(rule), weights)

    def advance(
        self, shift: Shift, rules: Mapping[str, Any], *, green_ready: bool, sources_gone: bool
    ) -> str:
        """The stage after this tick. Stages without work of their own last one tick, so a poller
        can see them; waits (the scale-up, bake times, the clean-up) last as long as they take."""
        now = self.clock()
        stage = shift.stage
        if stage in (None, RECONCILE_SERVICE):
            shift.stage = PRE_SCALE_UP
        elif stage == PRE_SCALE_UP:
            shift.stage = SCALE_UP
        elif stage == SCALE_UP:
            if green_ready:
                shift.stage = POST_SCALE_UP
        elif stage == POST_SCALE_UP:
            self.route(rules, shift, production=0.0, test=100.0)
            shift.stage = TEST_TRAFFIC_SHIFT
        elif stage == TEST_TRAFFIC_SHIFT:
            shift.stage = POST_TEST_TRAFFIC_SHIFT
        elif stage == POST_TEST_TRAFFIC_SHIFT:
            shift.stage = PRODUCTION_TRAFFIC_SHIFT
            self._next_step(shift, rules, now)
        elif stage == PRODUCTION_TRAFFIC_SHIFT:
            if now >= shift.wait_until:
                if shift.step + 1 < len(shift.plan):
                    self._next_step(shift, rules, now)
                else:
                    shift.stage = POST_PRODUCTION_TRAFFIC_SHIFT
        elif stage == POST_PRODUCTION_TRAFFIC_SHIFT:
            shift.stage, shift.wait_until = BAKE_TIME, now + shift.bake
        elif stage == BAKE_TIME:
            if now >= shift.wait_until:
                shift.stage = CLEAN_UP
        elif stage == CLEAN_UP and sources_gone:
            return "done"
        return str(shift.stage)

    def _next_step(self, shift: Shift, rules: Mapping[str, Any], now: float) -> None:
        shift.step += 1
        self.route(rules, shift, production=shift.plan[shift.step], test=100.0)
        last = shift.step + 1 >= len(shift.plan)
        # No step bake time after the last step: 100 % is what the bake time is for.
        shift.wait_until = now if last else now + shift.step_bake
