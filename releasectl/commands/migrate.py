"""A release's migration: `migrate_command` as a one-off task from the new image, before the deploy.

`release` calls migrate() after the version is claimed and before the service is updated. The task
runs from a revision rendered as the deploy will render it (service.toml, else the running revision
with the image replaced), marked `releasectl:one-off=migrate`, with the service's network settings
(the service definition's when the service does not exist yet). The revision records the
migration's end (`releasectl:migration=exit N`); a failure also records `releasectl:outcome=failed`,
so the ledger shows `failed (migration exit N)`, promotion gates and automatic rollbacks treat the
version as failed, and nothing is deployed. `rollback --to` a version older than a migration that
ran says that the migration is not undone (warn_unreverted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from releasectl.core.errors import Interrupted, ReleasectlError
from releasectl.core.oneoff import (
    MIGRATE_STARTED_BY,
    command_text,
    launch_settings,
    migration_tag_value,
    migrations_since,
)
from releasectl.core.result import CommandResult, Outcome
from releasectl.core.versions import COMMIT_TAG, MIGRATION_TAG, OUTCOME_TAG, VERSION_TAG

if TYPE_CHECKING:
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.commands.context import Context
    from releasectl.commands.run import TaskRun
    from releasectl.core.deploy_plan import Revision


@dataclass(frozen=True)
class Migration:
    command: tuple[str, ...]
    task_definition: str
    run: TaskRun

    @property
    def outcome(self) -> Outcome:
        return self.run.outcome

    @property
    def message(self) -> str:
        if self.outcome is Outcome.SUCCEEDED:
            return f"migration `{command_text(self.command)}` succeeded ({self.run.message})"
        if self.outcome is Outcome.TIMED_OUT:
            return f"migration `{command_text(self.command)}` timed out: {self.run.message}"
        code = self.run.exit_code
        said = f"exit {code}" if code is not None else "could not start"
        return f"migration `{command_text(self.command)}` failed ({said}): {self.run.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "command_line": list(self.command),
            "task_definition": self.task_definition,
            "outcome": self.outcome.value,
            **self.run.to_json(),
        }


def migrate(
    ctx: Context, *, version: str, commit: str | None, digest: str, timeout: int | None
) -> Migration | None:
    """Run migrate_command from `version`'s image in the selected environment; None without one."""
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.commands.run import launch, task_revision
    from releasectl.core.ledger import Release

    command = ctx.config.migrate_command
    if not command:
        return None
    release = Release(version=version, commit=commit, digest=digest)
    # As deploy names it: the migration is the first call in the environment, and its role's
    # session, kept for the deploy that follows, names the release.
    ctx.name_session(version, ctx.config.env)
    ecs = EcsApi.from_context(ctx)
    service = ecs.find_service()
    current = ecs.describe_task_definition(str(service["taskDefinition"])) if service else None
    revision, _ = task_revision(ctx, ecs, current=current, release=release, purpose="migrate", reuse=False)
    settings = launch_settings(service) if service else _definition_settings(ctx)
    ctx.reporter.info(
        f"migrating before the deploy: `{command_text(command)}` from {revision.arn} ({version})"
    )
    try:
        went = launch(
            ctx,
            ecs,
            revision,
            settings=settings,
            command=command,
            started_by=MIGRATE_STARTED_BY,
            wait=True,
            timeout=timeout or ctx.config.deploy_timeout,
        )
    except Interrupted as exc:
        exc.message = f"{version} was claimed as {digest}; nothing was deployed; the migration: {exc.message}"
        raise
    migration = Migration(tuple(command), revision.arn, went)
    _record(ctx, ecs, revision, migration, release)
    (ctx.reporter.info if migration.outcome is Outcome.SUCCEEDED else ctx.reporter.warn)(migration.message)
    return migration


def failed_release_message(version: str, claim_note: str, migration: Migration) -> str:
    return f"{version} {claim_note}; not deployed: {migration.message}"


def _record(ctx: Context, ecs: EcsApi, revision: Revision, migration: Migration, release: Any) -> None:
    """The migration's end on its revision; a failure is the release's recorded outcome too."""
    if migration.run.state is None or migration.outcome is Outcome.TIMED_OUT:
        return  # it never started, or its end is not known yet
    tags = {MIGRATION_TAG: migration_tag_value(migration.run.state), VERSION_TAG: release.version}
    if release.commit:
        tags[COMMIT_TAG] = release.commit
    if migration.outcome is not Outcome.SUCCEEDED:
        tags[OUTCOME_TAG] = "failed"
    try:
        ecs.tag(revision.arn, tags)
    except ReleasectlError as exc:
        ctx.reporter.warn(f"could not record the migration's end on {revision.arn}: {exc.one_line()}")


def _definition_settings(ctx: Context) -> dict[str, Any]:
    """Launch settings from the service definition, for a service its first deploy will create."""
    from releasectl.commands.definition import read_definition, resolve_definition
    from releasectl.core.service_shape import service_settings

    definition = read_definition(ctx)
    if definition is None:
        return {"launchType": "FARGATE"}
    spec = resolve_definition(ctx, definition).spec
    settings = service_settings(spec, container_name=ctx.config.require("container_name"))
    found: dict[str, Any] = {"launchType": "FARGATE"}
    if settings.get("networkConfiguration"):
        found["networkConfiguration"] = settings["networkConfiguration"]
    return found


def warn_unreverted(
    ctx: Context, result: CommandResult, target_version: str, revisions: Iterable[Revision]
) -> None:
    """A rollback to `target_version` leaves newer versions' migrations in place: say so, and put
    them on the result (`migrations_not_undone`)."""
    found = migrations_since(target_version, revisions)
    if not found:
        return
    versions = ", ".join(item["version"] for item in found)
    ctx.reporter.warn(
        f"the migration{'s' if len(found) > 1 else ''} of {versions} ran and "
        f"{'are' if len(found) > 1 else 'is'} not undone by rolling back to {target_version}: "
        "the data stays migrated"
    )
    result.extra["migrations_not_undone"] = found
