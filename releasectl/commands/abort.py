"""`releasectl abort`: stop the deployment in flight with a rollback, wait for it, report it.

The deployment is the service's current service deployment while it is under way. Only one that
releasectl started (its task definition carries releasectl:version) is stopped unless --any says
otherwise. Before asking ECS (StopServiceDeployment, stopType ROLLBACK), abort marks the revision
with the deployment it stops, so a `deploy` waiting on it elsewhere reports "stopped by abort".
Whatever ECS then does is the answer: a deployment that completed before the stop took effect is
reported as succeeded (and nothing was rolled back), never as both.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from releasectl.core.errors import EnvironmentProblem, ExitCode, ReleasectlError, interrupted_as
from releasectl.core.result import CommandResult, Outcome
from releasectl.core.rollout import RolloutDecision, Seen, Target
from releasectl.core.service_deployment import ABORT_TAG, DeploymentView, read

if TYPE_CHECKING:
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.commands.context import Context
    from releasectl.core.deploy_plan import Revision


def abort(ctx: Context, *, any_deployment: bool = False, timeout: int | None = None) -> CommandResult:
    from releasectl.adapters.aws.ecs import EcsApi

    return run_abort(ctx, EcsApi.from_context(ctx), any_deployment=any_deployment, timeout=timeout)


def run_abort(
    ctx: Context,
    ecs: EcsApi,
    *,
    any_deployment: bool = False,
    timeout: int | None = None,
    rng: random.Random | None = None,
) -> CommandResult:
    from releasectl.adapters.aws.ecs import ServiceDeploymentsUnavailable, service_deployments_offered
    from releasectl.commands.rollout_waiter import wait_for_service_deployment

    started = ctx.clock.now()
    service = ecs.describe_service()
    if not service_deployments_offered(service):
        raise _no_api(ecs, "it names no current service deployment")
    try:
        sd = _in_flight(ecs, str(service["currentServiceDeployment"]))
        view = read(sd)
        revision = _revision(ecs, sd)
    except ServiceDeploymentsUnavailable as exc:
        raise _no_api(ecs, exc.message) from None
    version = revision.version if revision else None
    what = f"deployment {view.id}" + (f" of {version}" if version else "")
    if version is None and not any_deployment:
        runs = revision.arn if revision else "a revision releasectl cannot read"
        raise EnvironmentProblem(
            f"{what} on service {ecs.service} was not started by releasectl ({runs} carries no "
            "releasectl:version tag); nothing was changed",
            hint="`releasectl abort --any` stops it anyway",
        )
    stopped_by = None
    if view.stopping:
        # Already stopping (a stop whose answer was lost, another abort, ECS's own rollback):
        # asking again changes nothing, so wait for how it ends.
        ctx.reporter.info(f"{what} is already {view.status}: waiting for it to end")
        if revision is not None and revision.tags.get(ABORT_TAG) == view.id:
            stopped_by = "abort"
    else:
        if revision is not None:
            _mark(ctx, ecs, revision.arn, view)
        if ecs.stop_service_deployment(view.arn):
            stopped_by = "abort"
            ctx.reporter.info(f"stopping {what} on service {ecs.service} with a rollback")
        else:
            ctx.reporter.warn(f"ECS refused to stop {what}: it has just finished; its status is the answer")
    target = Target(
        deployment_id="",
        task_definition=revision.arn if revision else "",
        previous_task_definition=None,
    )
    limit = timeout or ctx.config.deploy_timeout
    with interrupted_as(
        f"interrupted while waiting for {what} to roll back; ECS carries on with the rollback",
        hint="`releasectl status` shows how it ends",
    ):
        waited = wait_for_service_deployment(
            ctx,
            ecs,
            arn=view.arn,
            target=target,
            seen=Seen.baseline(service),
            timeout=limit,
            rng=rng,
            stopped_by=stopped_by,
        )
    result = _result(ctx, ecs, waited, what=what, version=version, revision=revision, started=started)
    from releasectl.commands.evidence import attach_abort_evidence

    attach_abort_evidence(ctx, ecs, result)  # why the stopped deployment failed, when it did
    return result


def _in_flight(ecs: EcsApi, current: str) -> Any:
    """The deployment under way: the current one, or (should ECS have moved on to another that
    is still pending) the newest one in flight. Exit 4 when none is."""
    sd = ecs.describe_service_deployment(current)
    if not read(sd).finished:
        return sd
    others = ecs.list_service_deployments(in_flight_only=True)
    if others:
        return ecs.describe_service_deployment(str(others[0]["serviceDeploymentArn"]))
    view = read(sd)
    raise EnvironmentProblem(
        f"nothing is in flight on service {ecs.service}: its last deployment {view.id} ended {view.status}",
        hint="`releasectl rollback` deploys an earlier version",
    )


def _revision(ecs: EcsApi, sd: Any) -> Revision | None:
    """The task-definition revision the deployment rolls out (its tags say who started it)."""
    revision_arn = (sd.get("targetServiceRevision") or {}).get("arn")
    if not revision_arn:
        return None
    revision = ecs.describe_service_revision(str(revision_arn))
    task_definition = (revision or {}).get("taskDefinition")
    return ecs.describe_task_definition(str(task_definition)) if task_definition else None


def _mark(ctx: Context, ecs: EcsApi, task_definition: str, view: DeploymentView) -> None:
    try:
        ecs.tag(task_definition, {ABORT_TAG: view.id})
    except ReleasectlError as exc:
        # The stop still happens; only the waiting deploy's wording ("stopped by abort") is lost.
        ctx.reporter.warn(f"could not mark {task_definition} as aborted: {exc.one_line()}")


def _no_api(ecs: EcsApi, why: str) -> EnvironmentProblem:
    return EnvironmentProblem(
        f"ECS does not report service deployments for service {ecs.service} here ({why}), "
        "and abort stops one with StopServiceDeployment; nothing was changed",
        hint="`releasectl rollback` deploys an earlier version instead",
    )


def _result(
    ctx: Context,
    ecs: EcsApi,
    waited: Any,
    *,
    what: str,
    version: str | None,
    revision: Revision | None,
    started: float,
) -> CommandResult:
    from releasectl.adapters.aws.ecs import outcome_tags

    decision = waited.decision
    extra: dict[str, Any] = {
        "service": ecs.service,
        "cluster": ecs.cluster,
        "service_deployment": waited.view.arn,
        "task_definition": revision.arn if revision else None,
        "deployment_status": waited.view.status,
        "deployment_outcome": None if waited.timed_out else decision.value,
        "manual_action": waited.verdict.manual_action,
    }
    if waited.timed_out:
        outcome, error_exit = Outcome.TIMED_OUT, None
        message = waited.message
    elif decision is RolloutDecision.ROLLED_BACK:
        outcome, error_exit = Outcome.SUCCEEDED, None
        message = waited.message
    elif decision is RolloutDecision.SUCCEEDED:
        # The deployment won the race: it completed before the stop took effect.
        outcome, error_exit = Outcome.ERROR, ExitCode.ENVIRONMENT
        message = f"{what} succeeded before the stop took effect: nothing was rolled back ({waited.message})"
    else:
        outcome, error_exit = Outcome.FAILED, None
        message = waited.message
    if version and not waited.timed_out and decision.outcome is not None and revision is not None:
        try:
            commit = revision.commit
            ecs.tag(revision.arn, outcome_tags(decision.outcome.value, version=version, commit=commit))
        except ReleasectlError as exc:
            ctx.reporter.warn(
                f"could not record outcome {decision.value} on {revision.arn}: {exc.one_line()}"
            )
    return CommandResult(
        command="abort",
        outcome=outcome,
        message=message,
        version=version,
        duration_s=max(0.0, ctx.clock.now() - started),
        extra=extra,
        error_exit=error_exit,
    )
