"""What one DescribeServiceDeployments answer says about OUR deployment (docs/design.md §5). Pure.

Since 2025 ECS reports every deployment as a service deployment with a status and, for blue/green,
canary and linear ones, a lifecycle stage and the traffic weights of each service revision. Where
that API exists it is the truth, and the outcome is read from it alone:

- succeeded   SUCCESSFUL, early success included (the old tasks may still be draining);
- rolled_back ROLLBACK_SUCCESSFUL, with the reason: the circuit breaker, the alarm that fired, a
              lifecycle hook, releasectl's own stop (abort, a failed verification) or a stop request;
- failed      ROLLBACK_FAILED (the rollback itself failed: manual action is needed), or STOPPED by
              the circuit breaker or an alarm on a service configured not to roll back;
- superseded  STOPPED for any other reason: a newer deployment or a stop this run did not make;
- in_progress PENDING, IN_PROGRESS, and the transitional STOP_REQUESTED, ROLLBACK_REQUESTED,
              ROLLBACK_IN_PROGRESS: the outcome is whatever they end in.

The view also says where a deployment is: the stage, the production (and test) traffic split
between the new revision and the old ones, and how long the bake time now running has left.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from releasectl.core.rollout import RolloutDecision

# Every value of botocore's ServiceDeploymentStatus and ServiceDeploymentLifecycleStage enums
# (tests/core/test_service_deployment.py checks these against the model).
STATUSES = (
    "PENDING",
    "SUCCESSFUL",
    "STOPPED",
    "STOP_REQUESTED",
    "IN_PROGRESS",
    "ROLLBACK_REQUESTED",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_SUCCESSFUL",
    "ROLLBACK_FAILED",
)
STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)
FINISHED = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
# Still under way, but already being stopped or rolled back: a stop request changes nothing more.
STOPPING = frozenset({"STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})
STRATEGIES = ("ROLLING", "BLUE_GREEN", "CANARY", "LINEAR")
# The strategies in which ECS moves traffic between two revisions behind a load balancer.
TRAFFIC_SHIFTING = frozenset({"BLUE_GREEN", "CANARY", "LINEAR"})
# From these stages on, the test listener routes to the new revision (docs/design.md §5).
_TEST_TRAFFIC_ON_NEW = frozenset(
    {
        "POST_TEST_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        "BAKE_TIME",
    }
)
# ECS's defaults when the configuration leaves a field out (the CanaryConfiguration and
# LinearConfiguration API reference).
CANARY_PERCENT_DEFAULT = 5.0
CANARY_BAKE_DEFAULT = 10
LINEAR_STEP_DEFAULT = 10.0
LINEAR_BAKE_DEFAULT = 6

# How releasectl tells a deployment it stopped itself from anyone else's stop: the revision's tag
# names the service deployment that `releasectl abort` stopped.
ABORT_TAG = "releasectl:aborted"


@dataclass(frozen=True)
class Split:
    """Percentages of traffic: to the new (target) revision and to the old (source) ones."""

    new: float
    old: float

    def text(self) -> str:
        return f"new {_pct(self.new)} / old {_pct(self.old)}"


@dataclass(frozen=True)
class DeploymentView:
    """One service deployment, read."""

    arn: str
    status: str
    stage: str | None
    strategy: str
    production: Split | None
    test: Split | None
    running: int
    desired: int
    pending: int
    bake_time_s: float | None  # the bake time that runs in the current phase, if any
    reason: str | None

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def stopping(self) -> bool:
        return self.status in STOPPING

    @property
    def test_traffic_on_new(self) -> bool:
        """The test listener sends its traffic to the new revision now."""
        if self.status not in ("IN_PROGRESS", "PENDING"):
            return False
        if self.test is not None and self.test.new >= 100:
            return True
        return self.stage in _TEST_TRAFFIC_ON_NEW

    @property
    def phase(self) -> tuple[Any, ...]:
        """What, when it changes, starts a new bake clock and a new progress line."""
        return (
            self.status,
            self.stage,
            round(self.production.new, 1) if self.production else None,
            round(self.test.new, 1) if self.test else None,
        )

    def summary(self, bake_left_s: float | None = None) -> str:
        parts = [self.status]
        if self.stage:
            parts.append(self.stage)
        text = " ".join(parts)
        details = []
        if self.production is not None:
            details.append(f"traffic {self.production.text()}")
        if self.test is not None and self.strategy in TRAFFIC_SHIFTING:
            details.append(f"test traffic {self.test.text()}")
        if self.desired or self.running:
            details.append(
                f"running {self.running}/{self.desired}"
                + (f", pending {self.pending}" if self.pending else "")
            )
        if bake_left_s is not None:
            details.append(f"bake time {_duration(bake_left_s)} left")
        return f"{text}: {', '.join(details)}" if details else text

    def to_json(self, bake_left_s: float | None = None) -> dict[str, Any]:
        return {
            "service_deployment": self.arn,
            "status": self.status,
            "stage": self.stage,
            "strategy": self.strategy,
            "traffic": _split_json(self.production),
            "test_traffic": _split_json(self.test),
            "running": self.running,
            "desired": self.desired,
            "pending": self.pending,
            "bake_time_left_s": None if bake_left_s is None else round(bake_left_s, 1),
        }


@dataclass(frozen=True)
class Verdict:
    decision: RolloutDecision
    message: str
    manual_action: bool = False


def read(sd: Mapping[str, Any]) -> DeploymentView:
    """The view of one DescribeServiceDeployments entry."""
    config = sd.get("deploymentConfiguration") or {}
    strategy = str(config.get("strategy") or "ROLLING")
    target = sd.get("targetServiceRevision") or {}
    sources = list(sd.get("sourceServiceRevisions") or ())
    stage = sd.get("lifecycleStage")
    production = _split(target, sources, "requestedProductionTrafficWeight")
    return DeploymentView(
        arn=str(sd.get("serviceDeploymentArn") or ""),
        status=str(sd.get("status") or "PENDING"),
        stage=str(stage) if stage else None,
        strategy=strategy,
        production=production,
        test=_split(target, sources, "requestedTestTrafficWeight"),
        running=_int(target.get("runningTaskCount")),
        desired=_int(target.get("requestedTaskCount")),
        pending=_int(target.get("pendingTaskCount")),
        bake_time_s=_bake_time(config, strategy, stage, production),
        reason=sd.get("statusReason"),
    )


def bake_left(view: DeploymentView, phase_elapsed_s: float) -> float | None:
    """Seconds of the running bake time left, the phase having been seen for `phase_elapsed_s`
    seconds (ECS does not say when a phase began; releasectl times it from the first poll that
    saw it, so the figure errs long by at most one poll interval)."""
    if view.bake_time_s is None or view.finished or view.stopping:
        return None
    return max(0.0, view.bake_time_s - phase_elapsed_s)


def decide(sd: Mapping[str, Any], *, stopped_by: str | None = None) -> Verdict:
    """The outcome of our deployment as ECS reports it. `stopped_by` is set when releasectl itself
    stopped it ("abort", or "releasectl: verification failed: …"), for the message."""
    view = read(sd)
    ident = view.id or "(unnamed)"
    status = view.status
    if status == "SUCCESSFUL":
        return Verdict(RolloutDecision.SUCCEEDED, _success_message(sd, view))
    if status == "ROLLBACK_SUCCESSFUL":
        back_to = _rolled_back_to(sd)
        return Verdict(
            RolloutDecision.ROLLED_BACK,
            f"deployment {ident} was rolled back{back_to}: {rollback_reason(sd, stopped_by=stopped_by)}",
        )
    if status == "ROLLBACK_FAILED":
        return Verdict(
            RolloutDecision.FAILED,
            f"deployment {ident} failed and so did its rollback "
            f"({rollback_reason(sd, stopped_by=stopped_by)}): "
            "the service may run a mix of revisions; manual action is needed",
            manual_action=True,
        )
    if status == "STOPPED":
        detected = _failure_detected(sd)
        if detected:
            return Verdict(
                RolloutDecision.FAILED,
                f"deployment {ident} failed ({detected}) and was stopped; "
                "the service was not rolled back (rollback is off)" + _ecs_says(sd),
            )
        if stopped_by:
            # releasectl asked to roll back, and ECS stopped it instead: report what ECS did.
            return Verdict(
                RolloutDecision.FAILED,
                f"deployment {ident} was stopped ({_stopped_by_text(stopped_by)}) without a rollback"
                + _ecs_says(sd),
            )
        return Verdict(
            RolloutDecision.SUPERSEDED,
            f"deployment {ident} was stopped by something this run did not do "
            "(a newer deployment, or a stop request)" + _ecs_says(sd),
        )
    if status in STOPPING:
        word = "stopping" if status == "STOP_REQUESTED" else "rolling back"
        return Verdict(
            RolloutDecision.IN_PROGRESS,
            f"deployment {ident} is {word} ({status}): {rollback_reason(sd, stopped_by=stopped_by)}",
        )
    where = f" at {view.stage}" if view.stage else ""
    return Verdict(RolloutDecision.IN_PROGRESS, f"deployment {ident} is {status}{where}")


def rollback_reason(sd: Mapping[str, Any], *, stopped_by: str | None = None) -> str:
    """Why ECS rolls (or rolled) this deployment back, in one phrase, with ECS's own words."""
    if stopped_by:
        return _stopped_by_text(stopped_by) + _ecs_says(sd)
    detected = _failure_detected(sd)
    if detected:
        return detected + _ecs_says(sd)
    return "a stop request (StopServiceDeployment) releasectl did not make" + _ecs_says(sd)


def _stopped_by_text(stopped_by: str) -> str:
    return "stopped by abort" if stopped_by == "abort" else f"stopped by {stopped_by}"


def _failure_detected(sd: Mapping[str, Any]) -> str | None:
    alarms = sd.get("alarms") or {}
    if alarms.get("status") == "TRIGGERED":
        names = list(alarms.get("triggeredAlarmNames") or ()) or list(alarms.get("alarmNames") or ())
        if names:
            plural = "s" if len(names) > 1 else ""
            return f"alarm{plural} {', '.join(names)} went into ALARM"
        return "a deployment alarm went into ALARM"
    breaker = sd.get("deploymentCircuitBreaker") or {}
    if breaker.get("status") == "TRIGGERED":
        failed, threshold = breaker.get("failureCount"), breaker.get("threshold")
        counts = (
            f": {failed} failed tasks" + (f" (threshold {threshold})" if threshold else "") if failed else ""
        )
        return f"the deployment circuit breaker tripped{counts}"
    for hook in sd.get("lifecycleHookDetails") or ():
        if hook.get("status") in ("FAILED", "TIMED_OUT"):
            kind = hook.get("targetType") or "lifecycle"
            name = hook.get("hookId") or hook.get("targetArn") or ""
            ended = str(hook.get("status")).lower().replace("_", " ")
            return f"{kind} lifecycle hook {name} {ended}".replace("  ", " ")
    return None


def _ecs_says(sd: Mapping[str, Any]) -> str:
    said = (sd.get("rollback") or {}).get("reason") or sd.get("statusReason")
    return f" (ECS: {str(said).strip().rstrip('.')})" if said else ""


def _rolled_back_to(sd: Mapping[str, Any]) -> str:
    revision = (sd.get("rollback") or {}).get("serviceRevisionArn")
    if not revision:
        sources = sd.get("sourceServiceRevisions") or ()
        revision = sources[0].get("arn") if sources else None
    return f" to service revision {str(revision).rsplit('/', 1)[-1]}" if revision else ""


def _success_message(sd: Mapping[str, Any], view: DeploymentView) -> str:
    config = sd.get("deploymentConfiguration") or {}
    early = config.get("earlySuccessCriteria") or {}
    tasks = f": {view.running}/{view.desired} tasks running" if view.desired else ""
    text = f"deployment {view.id} succeeded{tasks}"
    if view.strategy != "ROLLING":
        text += f" ({view.strategy.replace('_', '/').lower()})"
    if early.get("enable"):
        cleanup = early.get("sourceServiceRevisionCleanup")
        text += f"; early success at {early.get('healthyPercent')}% healthy"
        if cleanup == "DEFERRED":
            text += ", the old tasks are stopped after it"
    if view.desired == 0:
        text += "; desired count 0: no task proved healthy"
    return text


def _split(target: Mapping[str, Any], sources: list[Mapping[str, Any]], key: str) -> Split | None:
    new = target.get(key)
    olds = [float(s[key]) for s in sources if s.get(key) is not None]
    if new is None and not olds:
        return None
    new_pct = float(new or 0.0)
    old_pct = float(sum(olds)) if olds else max(0.0, 100.0 - new_pct)
    return Split(new=new_pct, old=old_pct)


def _bake_time(
    config: Mapping[str, Any], strategy: str, stage: Any, production: Split | None
) -> float | None:
    if stage == "BAKE_TIME":
        minutes = config.get("bakeTimeInMinutes")
        return None if minutes is None else float(minutes) * 60
    if stage != "PRODUCTION_TRAFFIC_SHIFT" or production is None or not 0 < production.new < 100:
        return None
    if strategy == "CANARY":
        canary = config.get("canaryConfiguration") or {}
        return float(canary.get("canaryBakeTimeInMinutes", CANARY_BAKE_DEFAULT)) * 60
    if strategy == "LINEAR":
        linear = config.get("linearConfiguration") or {}
        return float(linear.get("stepBakeTimeInMinutes", LINEAR_BAKE_DEFAULT)) * 60
    return None


def _split_json(split: Split | None) -> dict[str, float] | None:
    return None if split is None else {"new": split.new, "old": split.old}


def _pct(value: float) -> str:
    return f"{value:g}%"


def _duration(seconds: float) -> str:
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
