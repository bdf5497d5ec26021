"""`releasectl rollback`: go back to a version that ran here, through deploy's plan and execution.

The CLI handler resolves configuration, the ledger and the ECS boundary, then hands them to
run_rollback, which takes everything as parameters so tests can give it a scripted ECS client.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from releasectl.commands.deploy import boundary, execute, load_releases, version_argument
from releasectl.core.deploy_plan import REUSE_SCAN, Revision, plan_deploy, resolve_release
from releasectl.core.errors import UsageError
from releasectl.core.result import CommandResult
from releasectl.core.rollback_target import TargetRecord, check_named_target, choose_rollback_target

if TYPE_CHECKING:
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.commands.context import Context
    from releasectl.core.ledger import Release


def rollback(
    ctx: Context, *, to: str | None, timeout: int | None, wait: bool, force: bool = False
) -> CommandResult:
    """Deploy `to`, or the newest earlier version whose deployment verifiably succeeded."""
    if force and to is None:
        # The automatic choice only ever picks a verified-good version: there is nothing to force.
        raise UsageError(
            "--force applies only with --to VERSION", hint="releasectl rollback --to VERSION --force"
        )
    wanted = version_argument(ctx, to)
    ecs, repository_uri = boundary(ctx)
    releases = load_releases(ctx)
    return run_rollback(
        ctx, ecs, releases, to=wanted, timeout=timeout, wait=wait, repository_uri=repository_uri, force=force
    )


def run_rollback(
    ctx: Context,
    ecs: EcsApi,
    releases: Sequence[Release],
    *,
    to: str | None,
    timeout: int | None,
    wait: bool,
    repository_uri: Callable[[], str],
    rng: random.Random | None = None,
    force: bool = False,
) -> CommandResult:
    started = ctx.clock.now()
    container_name = ctx.config.require("container_name")
    if to is not None:
        # Fail on an unknown version before the first ECS call.
        release = resolve_release(releases, to)
    snapshot = ecs.describe_service()
    current = ecs.describe_task_definition(str(snapshot["taskDefinition"]))
    candidates: Iterable[Revision]
    record: TargetRecord | None = None
    if to is not None:
        # A rollback goes back to what ran here before: checked before anything is written.
        history = ecs.history(current.family, skip=[current.arn])
        record = check_named_target(
            target=release,
            running=current,
            history=history,
            releases=releases,
            container_name=container_name,
            service=ecs.service,
            force=force,
        )
        # The revisions already read come first; reuse may look a little further, ACTIVE ones only.
        candidates = itertools.chain(record.scanned, itertools.islice(history, REUSE_SCAN))
        rolled_from = record.running_version
        if record.refused_outcome:
            ctx.reporter.warn(
                f"{release.version}'s last recorded deployment to {ecs.service} was {record.outcome}; "
                "rolling back to it anyway because of --force"
            )
        elif record.outcome not in (None, "succeeded"):
            ctx.reporter.warn(
                f"{release.version}'s last recorded deployment to {ecs.service} ended {record.outcome}: "
                "it was never verified healthy there"
            )
    else:
        choice = choose_rollback_target(
            running=current,
            history=ecs.history(current.family, skip=[current.arn]),
            releases=releases,
            container_name=container_name,
            service=ecs.service,
        )
        release = choice.release
        candidates = iter([choice.revision])
        rolled_from = choice.running_version
        ctx.reporter.info(
            f"rolling back from {choice.running_version or 'the running image'} to {release.version}: "
            f"the newest earlier version whose deployment succeeded (revision {choice.revision.number})"
        )
    plan = plan_deploy(
        command="rollback",
        cluster=ecs.cluster,
        service=ecs.service,
        container_name=container_name,
        snapshot=snapshot,
        current=current,
        release=release,
        repository_uri=repository_uri,
        reuse_candidates=candidates,
    )
    result = execute(ctx, ecs, plan, snapshot=snapshot, timeout=timeout, wait=wait, rng=rng, started=started)
    result.extra["rolled_back_from"] = rolled_from
    if record is not None:
        result.extra["target_recorded_outcome"] = record.outcome
        result.extra["forced"] = record.refused_outcome
        if record.refused_outcome:
            result.message += (
                f" ({release.version}'s recorded outcome was {record.outcome}; "
                "rolled back to it because of --force)"
            )
        from releasectl.commands.migrate import warn_unreverted

        warn_unreverted(ctx, result, release.version, [current, *record.scanned])
    return result
