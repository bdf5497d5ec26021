"""Reading the promotion gate: what the environment a version must pass first recorded for it."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from releasectl.commands.context import Context
from releasectl.core.deploy_plan import family_of
from releasectl.core.gate import GatePassed, Recorded, decide

if TYPE_CHECKING:
    from releasectl.core.config import Environment
    from releasectl.core.ledger import Release

# Revisions of the earlier environment's family read for the version (one call each, newest
# first): a version promoted long after it ran there is found in the recent history or not at all.
GATE_SCAN = 50


def check_gate(ctx: Context, release: Release, *, override_reason: str | None) -> GatePassed | None:
    """None when the selected environment has no `after`; else the gate passed (or overridden).
    Refused is exit 4, before anything is written."""
    environment = ctx.config.environment
    if environment is None or environment.after is None:
        return None
    after = ctx.config.environments[environment.after]
    recorded = recorded_deployment(ctx, after, release.version)
    passed = decide(
        environment=environment.name,
        after=after.name,
        version=release.version,
        digest=str(release.digest),
        recorded=recorded,
        override_reason=override_reason,
    )
    if passed.overridden:
        ctx.reporter.warn(
            f"deploying {release.version} to {environment.name} although {after.name}'s gate is not met "
            f"(--override-gate: {passed.override_reason})"
        )
    else:
        ctx.reporter.info(
            f"gate: {release.version} succeeded in {after.name} with {release.digest} "
            f"({recorded.task_definition if recorded else '?'})"
        )
    return passed


def recorded_deployment(ctx: Context, environment: Environment, version: str) -> Recorded | None:
    """The newest revision of the environment's family tagged with `version`: its outcome and digest."""
    from releasectl.adapters.aws.ecs import EcsApi

    ecs = EcsApi(
        ctx.env_aws(environment).client("ecs"), cluster=environment.cluster, service=environment.service
    )
    service = ecs.find_service()
    if service is None:
        return None
    family = family_of(str(service.get("taskDefinition") or ""))
    container = ctx.config.require("container_name")
    for revision in itertools.islice(ecs.history(family), GATE_SCAN):
        if revision.version == version:
            return Recorded(
                outcome=revision.outcome, digest=revision.digest(container), task_definition=revision.arn
            )
    return None
