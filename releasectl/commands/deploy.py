"""`releasectl deploy`: plan, point the service, wait for the truth (rollback shares execute()).

The CLI handlers resolve configuration, the release ledger and the ECS boundary, then hand
them to run_deploy / run_rollback, which take everything as parameters so tests can give
them a scripted ECS client and a fixed list of releases.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from releasectl.core.definition_plan import revision_tags
from releasectl.core.deploy_plan import (
    Action,
    DeployPlan,
    Revision,
    plan_deploy,
    resolve_release,
)
from releasectl.core.errors import EnvironmentProblem, OperationFailed, ReleasectlError, interrupted_as
from releasectl.core.result import CommandResult, ImageInfo, Outcome
from releasectl.core.rollout import Seen, Target, primary
from releasectl.core.versions import parse_version_argument

if TYPE_CHECKING:
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.commands.context import Context
    from releasectl.core.gate import GatePassed
    from releasectl.core.ledger import Release
    from releasectl.core.verification import VerifySettings


def deploy(
    ctx: Context,
    *,
    version: str | None,
    timeout: int | None,
    wait: bool,
    dry_run: bool = False,
    override_gate: bool = False,
    reason: str | None = None,
    strategy: str | None = None,
) -> CommandResult:
    """Deploy a released version (default: the newest) to the selected environment's service.

    Everything that can refuse does so before the first write: the version, the service
    definition, the strategy (and what the load balancer needs for it), the promotion gate. With a
    service definition, the revision is rendered from it."""
    from releasectl.commands.definition import read_definition, resolve_definition
    from releasectl.commands.gate import check_gate
    from releasectl.core.gate import check_override_options
    from releasectl.core.service_shape import strategy_argument

    override_reason = check_override_options(override_gate, reason)
    chosen = strategy_argument(strategy)
    wanted = version_argument(ctx, version)
    definition = read_definition(ctx)
    ctx.config.require("container_name")
    ctx.config.require("ecr_repository")
    releases = load_releases(ctx)
    release = resolve_release(releases, wanted)
    ctx.name_session(release.version, ctx.config.env)
    gate = check_gate(ctx, release, override_reason=override_reason)
    ecs, repository_uri = boundary(ctx)
    if definition is None:
        return run_deploy(
            ctx,
            ecs,
            releases,
            version=release.version,
            timeout=timeout,
            wait=wait,
            repository_uri=repository_uri,
            dry_run=dry_run,
            gate=gate,
            strategy=chosen,
        )
    resolved = resolve_definition(ctx, definition)
    return run_definition_deploy(
        ctx,
        ecs,
        release,
        spec=resolved.spec,
        region=resolved.region,
        repository_uri=repository_uri(),
        timeout=timeout,
        wait=wait,
        dry_run=dry_run,
        gate=gate,
        strategy=chosen,
    )


def version_argument(ctx: Context, text: str | None) -> str | None:
    return parse_version_argument(text, prefix=ctx.config.tag_prefix) if text is not None else None


def boundary(ctx: Context) -> tuple[EcsApi, Callable[[], str]]:
    from releasectl.adapters.aws.ecs import EcsApi

    # Every required key is checked before the first AWS call: a missing one changes nothing.
    ctx.config.require("container_name")
    repository = ctx.config.require("ecr_repository")
    ecs = EcsApi.from_context(ctx)

    def repository_uri() -> str:
        from releasectl.adapters.aws.ecr import describe_repository

        return describe_repository(ctx.aws.client("ecr"), repository).uri

    return ecs, repository_uri


def load_releases(ctx: Context) -> list[Release]:
    from releasectl.commands.releases import load_releases

    return list(load_releases(ctx))


# ----------------------------------------------------------------------------- core


def plan_image_only(
    ctx: Context,
    ecs: EcsApi,
    release: Release,
    *,
    snapshot: Mapping[str, Any],
    current: Revision,
    repository_uri: Callable[[], str],
) -> DeployPlan:
    """The deploy plan without a service definition: the running revision with a new image."""
    return plan_deploy(
        command="deploy",
        cluster=ecs.cluster,
        service=ecs.service,
        container_name=ctx.config.require("container_name"),
        snapshot=snapshot,
        current=current,
        release=release,
        repository_uri=repository_uri,
    )


def plan_as_defined(
    ctx: Context,
    ecs: EcsApi,
    release: Release,
    *,
    spec: Mapping[str, Any],
    region: str,
    repository_uri: str,
    snapshot: Mapping[str, Any] | None,
    current: Revision | None,
    override_reason: str | None = None,
) -> DeployPlan:
    """The deploy plan from the service definition (`spec`, resolved); `diff` shows the same one."""
    from releasectl.core.definition_plan import plan_from_definition

    return plan_from_definition(
        command="deploy",
        cluster=ecs.cluster,
        service=ecs.service,
        container_name=ctx.config.require("container_name"),
        spec=spec,
        region=region,
        repository_uri=repository_uri,
        release=release,
        snapshot=snapshot,
        current=current,
        override_reason=override_reason,
    )


def run_deploy(
    ctx: Context,
    ecs: EcsApi,
    releases: Sequence[Release],
    *,
    version: str | None,
    timeout: int | None,
    wait: bool,
    repository_uri: Callable[[], str],
    rng: random.Random | None = None,
    dry_run: bool = False,
    gate: GatePassed | None = None,
    strategy: str | None = None,
) -> CommandResult:
    started = ctx.clock.now()
    release = resolve_release(releases, version)
    snapshot = ecs.describe_service()
    if strategy is not None:
        _check_running_strategy(ecs, snapshot, strategy)
    current = ecs.describe_task_definition(str(snapshot["taskDefinition"]))
    plan = plan_image_only(
        ctx, ecs, release, snapshot=snapshot, current=current, repository_uri=repository_uri
    )
    if gate is not None and gate.overridden and plan.register_input is not None:
        tags = [
            *plan.register_input.get("tags", ()),
            *revision_tags(release, override_reason=gate.override_reason),
        ]
        plan = replace(plan, register_input={**plan.register_input, "tags": _unique_tags(tags)})
    if strategy is not None and plan.action is Action.NOOP:
        ctx.reporter.warn(f"--strategy {strategy} not applied: this deploy starts no deployment")
    elif strategy is not None:
        from releasectl.core.service_shape import with_running_strategy

        settings = {**(plan.service_settings or {}), **with_running_strategy(snapshot, strategy)}
        plan = replace(plan, service_settings=settings)
    return execute(
        ctx,
        ecs,
        plan,
        snapshot=snapshot,
        timeout=timeout,
        wait=wait,
        rng=rng,
        started=started,
        dry_run=dry_run,
        gate=gate,
    )


def _check_running_strategy(ecs: EcsApi, snapshot: Mapping[str, Any], strategy: str) -> None:
    from releasectl.core.service_shape import running_strategy_problems

    missing = running_strategy_problems(snapshot, strategy)
    if missing:
        raise EnvironmentProblem(
            f"service {ecs.service} cannot be deployed {strategy}: it lacks {'; '.join(missing)}",
            hint="set them in the service definition (docs/service-definition.md#strategies) "
            "or deploy --strategy rolling; nothing was changed",
        )


def run_definition_deploy(
    ctx: Context,
    ecs: EcsApi,
    release: Release,
    *,
    spec: Mapping[str, Any],
    region: str,
    repository_uri: str,
    timeout: int | None,
    wait: bool,
    dry_run: bool = False,
    gate: GatePassed | None = None,
    rng: random.Random | None = None,
    strategy: str | None = None,
) -> CommandResult:
    """Deploy `release` as the service definition says: create the service, change its settings,
    or register a revision, whichever is the least that makes ECS match the file. `strategy`
    (deploy --strategy) replaces the file's for this deploy; a strategy the load balancer setup
    cannot carry is refused here, before the first call."""
    from releasectl.core.service_shape import strategy_problems, with_strategy
    from releasectl.core.verification import VerifySettings

    spec = with_strategy(spec, strategy)
    missing = strategy_problems(spec)
    if missing:
        chosen = spec["service"]["deployment"]["strategy"]
        raise EnvironmentProblem(
            f"service {ecs.service} cannot be deployed {chosen}: the service definition names no "
            f"{'; no '.join(missing)}",
            hint="the platform stack's outputs provide them (docs/service-definition.md#strategies); "
            "nothing was changed",
        )
    started = ctx.clock.now()
    snapshot = ecs.find_service()
    current = ecs.describe_task_definition(str(snapshot["taskDefinition"])) if snapshot else None
    plan = plan_as_defined(
        ctx,
        ecs,
        release,
        spec=spec,
        region=region,
        repository_uri=repository_uri,
        snapshot=snapshot,
        current=current,
        override_reason=gate.override_reason if gate else None,
    )
    return execute(
        ctx,
        ecs,
        plan,
        snapshot=snapshot or {},
        timeout=timeout,
        wait=wait,
        rng=rng,
        started=started,
        dry_run=dry_run,
        gate=gate,
        verify=VerifySettings.from_spec(spec),
    )


def _unique_tags(tags: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    by_key = {str(t["key"]): str(t["value"]) for t in tags}
    return [{"key": k, "value": v} for k, v in by_key.items()]


def execute(
    ctx: Context,
    ecs: EcsApi,
    plan: DeployPlan,
    *,
    snapshot: Mapping[str, Any],
    timeout: int | None,
    wait: bool,
    rng: random.Random | None = None,
    started: float | None = None,
    dry_run: bool = False,
    gate: GatePassed | None = None,
    verify: VerifySettings | None = None,
) -> CommandResult:
    """Carry a plan out: register if needed, update (or create) the service, wait, record the
    outcome. A dry run prints the plan and makes no AWS call at all. `verify` checks the new
    revision through the test listener during a blue/green, canary or linear deployment."""
    started = ctx.clock.now() if started is None else started
    for line in plan.lines():
        (ctx.reporter.info if dry_run else ctx.reporter.detail)(line)
    if dry_run:
        result = _result(
            ctx,
            plan,
            Outcome.NOOP,
            f"dry run: would {plan.action.value} ({plan.reason}); nothing was changed",
            plan.task_definition or "",
            None,
            started,
            verified=False,
        )
        result.extra["dry_run"] = True
        result.extra["plan"] = plan.to_json()
    else:
        result = _carry_out(
            ctx,
            ecs,
            plan,
            snapshot=snapshot,
            timeout=timeout,
            wait=wait,
            rng=rng,
            started=started,
            verify=verify,
        )
    if gate is not None:
        result.extra["gate"] = gate.to_json()
    if plan.changes:
        result.extra["changes"] = plan.to_json()["changes"]
    from releasectl.commands.evidence import attach_evidence

    attach_evidence(ctx, ecs, result)  # why it failed, when it did (docs/operations.md)
    return result


def _carry_out(
    ctx: Context,
    ecs: EcsApi,
    plan: DeployPlan,
    *,
    snapshot: Mapping[str, Any],
    timeout: int | None,
    wait: bool,
    rng: random.Random | None,
    started: float,
    verify: VerifySettings | None = None,
) -> CommandResult:
    from releasectl.adapters.aws.ecs import ServiceDeploymentsUnavailable, outcome_tags
    from releasectl.commands.rollout_waiter import wait_for_rollout, wait_for_service_deployment

    if plan.action is Action.NOOP:
        lead = primary(snapshot) or {}
        return _result(
            ctx,
            plan,
            Outcome.NOOP,
            f"nothing to do: {plan.reason}",
            str(plan.task_definition),
            lead.get("id"),
            started,
        )

    if plan.action is Action.SETTINGS:
        arn = str(plan.task_definition)
        ecs.update_service(arn, plan.service_settings)
        fields = ", ".join(c.field.removeprefix("service.") for c in plan.changes)
        message = f"service settings updated ({fields}); the revision stays {arn}"
        return _result(ctx, plan, Outcome.SUCCEEDED, message, arn, None, started)

    if plan.action in (Action.REGISTER, Action.CREATE):
        assert plan.register_input is not None
        registered = ecs.register(plan.register_input)
        arn = registered.arn
        ctx.reporter.info(f"registered {arn} ({plan.container_name} -> {plan.image})")
    else:
        arn = str(plan.task_definition)
        ctx.reporter.info(f"reusing {arn}: {plan.reason}")

    if plan.action is Action.CREATE:
        assert plan.create_input is not None
        updated = ecs.create_service({**plan.create_input, "taskDefinition": arn})
        ctx.reporter.info(f"created service {ecs.service} in cluster {ecs.cluster}")
    else:
        updated = ecs.update_service(arn, plan.service_settings)
    deployment_id = _our_deployment(updated, arn, before=snapshot)
    followed = _our_service_deployment(ctx, ecs, updated, before=snapshot, deployment_id=deployment_id)
    label = _short(followed) if followed else deployment_id
    if label:
        ctx.reporter.info(f"deployment {label} started: {ecs.service} -> {arn} ({plan.release.version})")
    else:
        ctx.reporter.warn(
            f"{ecs.service} now points at {arn} ({plan.release.version}), but ECS listed no new deployment"
        )

    if not wait:
        # The request was accepted; whether the rollout works is unknown, and the result says so.
        result = _result(
            ctx,
            plan,
            Outcome.SUCCEEDED,
            f"deployment {label or 'of ' + arn} started, not verified (--no-wait); "
            "`releasectl status` shows how it goes",
            arn,
            deployment_id,
            started,
            verified=False,
        )
        result.extra["service_deployment"] = followed
        return result
    if deployment_id is None and followed is None:
        raise OperationFailed(
            f"ECS listed no deployment of {arn} after updating service {ecs.service}, "
            "so its outcome cannot be verified",
            hint="`releasectl status` shows what the service runs",
        )

    target = Target(
        deployment_id=deployment_id or "",
        task_definition=arn,
        previous_task_definition=plan.previous_task_definition,
    )
    limit = timeout or ctx.config.deploy_timeout
    verifier = _verifier(plan, verify, snapshot)
    waited: Any = None
    with interrupted_as(
        f"interrupted while waiting for deployment {label} ({plan.release.version}, {arn}) "
        f"on service {ecs.service}; ECS carries on with it",
        hint="`releasectl status` shows how it ends; `releasectl abort` stops it",
    ):
        try:
            if followed is not None:
                try:
                    waited = wait_for_service_deployment(
                        ctx,
                        ecs,
                        arn=followed,
                        target=target,
                        seen=Seen.baseline(snapshot),
                        timeout=limit,
                        rng=rng,
                        verifier=verifier,
                    )
                except ServiceDeploymentsUnavailable as exc:
                    ctx.reporter.detail(f"{exc.message}; reading the service's deployments list instead")
                    followed = None
            if waited is None:
                if deployment_id is None:
                    raise OperationFailed(
                        f"ECS listed no deployment of {arn} after updating service {ecs.service}, "
                        "so its outcome cannot be verified",
                        hint="`releasectl status` shows what the service runs",
                    )
                waited = wait_for_rollout(
                    ctx,
                    ecs,
                    target=target,
                    seen=Seen.baseline(snapshot),
                    timeout=limit,
                    first_snapshot=updated,
                    rng=rng,
                )
        except ReleasectlError as exc:
            exc.message = f"while waiting for deployment {label} (ECS carries on with it): {exc.message}"
            raise

    outcome = Outcome.TIMED_OUT if waited.timed_out else waited.decision.outcome
    assert outcome is not None
    try:
        ecs.tag(arn, outcome_tags(outcome.value, version=plan.release.version, commit=plan.release.commit))
    except ReleasectlError as exc:
        # The outcome stands; only the record that automatic rollback relies on is missing.
        ctx.reporter.warn(f"could not record outcome {outcome.value} on {arn}: {exc.one_line()}")
    result = _result(ctx, plan, outcome, waited.message, arn, deployment_id, started)
    result.extra["service_deployment"] = followed
    result.extra["followed"] = "service_deployments" if followed else "deployments_list"
    if followed:
        result.extra["stopped_by"] = waited.stopped_by
        result.extra["manual_action"] = waited.verdict.manual_action
        result.extra["test_listener_verified"] = waited.verified
        if verifier is not None and outcome is Outcome.SUCCEEDED and not waited.verified:
            ctx.reporter.warn(
                "the test listener never carried the new revision while releasectl watched: "
                "it was not verified there"
            )
    return result


def _our_service_deployment(
    ctx: Context,
    ecs: EcsApi,
    updated: Mapping[str, Any],
    *,
    before: Mapping[str, Any],
    deployment_id: str | None,
) -> str | None:
    """The ARN of the service deployment our update started, or None where ECS reports none
    (moto, an older partition): then the deployments list decides. Chosen once, said with -v."""
    from datetime import datetime, timedelta

    from releasectl.adapters.aws.ecs import ServiceDeploymentsUnavailable, service_deployments_offered
    from releasectl.core.rollout import deployment

    if not service_deployments_offered(updated):
        ctx.reporter.detail(
            "this ECS endpoint reports no service deployments (no currentServiceDeployment): "
            "the outcome is read from the service's deployments list"
        )
        return None
    current = str(updated["currentServiceDeployment"])
    if current != before.get("currentServiceDeployment"):
        ctx.reporter.detail(
            f"the outcome is read from service deployment {current} (DescribeServiceDeployments)"
        )
        return current
    # The answer still names the deployment before ours: find ours by when it was created.
    ours = deployment(updated, deployment_id) if deployment_id else None
    created = (ours or {}).get("createdAt")
    after = created - timedelta(seconds=1) if isinstance(created, datetime) else None
    try:
        found = ecs.list_service_deployments(created_after=after)
    except ServiceDeploymentsUnavailable as exc:
        ctx.reporter.detail(f"{exc.message}: the outcome is read from the service's deployments list")
        return None
    candidates = [
        d for d in found if d.get("serviceDeploymentArn") and d.get("serviceDeploymentArn") != current
    ]
    if not candidates:
        ctx.reporter.detail(
            "no service deployment of ours is listed: the outcome is read from the deployments list"
        )
        return None
    newest = max(candidates, key=lambda d: str(d.get("createdAt") or ""))
    arn = str(newest["serviceDeploymentArn"])
    ctx.reporter.detail(f"the outcome is read from service deployment {arn} (DescribeServiceDeployments)")
    return arn


def _verifier(plan: DeployPlan, verify: VerifySettings | None, snapshot: Mapping[str, Any]) -> Any:
    """The test-listener check, for a strategy that has a test listener (not ROLLING)."""
    if verify is None:
        return None
    from releasectl.commands.verify import Verifier
    from releasectl.core.service_shape import TRAFFIC_SHIFTING

    sent = (plan.service_settings or {}).get("deploymentConfiguration") or {}
    running = snapshot.get("deploymentConfiguration") or {}
    if (sent.get("strategy") or running.get("strategy") or "ROLLING") not in TRAFFIC_SHIFTING:
        return None

    return Verifier(settings=verify, version=plan.release.version, commit=plan.release.commit)


def _short(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _our_deployment(service: Mapping[str, Any], arn: str, *, before: Mapping[str, Any]) -> str | None:
    """The deployment update_service started: new since `before`, running our revision,
    PRIMARY first. An older deployment of the same revision (still draining after a quick
    deploy-and-rollback) is not ours, and waiting on it would report someone else's outcome."""
    existing = {d.get("id") for d in before.get("deployments") or ()}
    matches = [
        d
        for d in service.get("deployments") or ()
        if d.get("taskDefinition") == arn and d.get("id") not in existing
    ]
    matches.sort(key=lambda d: d.get("status") != "PRIMARY")
    return str(matches[0]["id"]) if matches else None


def _result(
    ctx: Context,
    plan: DeployPlan,
    outcome: Outcome,
    message: str,
    task_definition: str,
    deployment_id: str | None,
    started: float,
    *,
    verified: bool | None = None,
) -> CommandResult:
    repository = ctx.config.ecr_repository or plan.image.split("@", 1)[0]
    return CommandResult(
        command=plan.command,
        outcome=outcome,
        message=message,
        version=plan.release.version,
        image=ImageInfo(repository=repository, digest=plan.digest, uri=plan.image),
        duration_s=max(0.0, ctx.clock.now() - started),
        extra={
            "service": plan.service,
            "cluster": plan.cluster,
            "task_definition": task_definition,
            "previous_task_definition": plan.previous_task_definition,
            "deployment_id": deployment_id,
            "action": plan.action.value,
            "verified": verified is not False,
        },
    )
