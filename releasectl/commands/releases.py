"""`releasectl releases`: the ledger as people see it.

ECR is the ledger of record (docs/design.md §4); git tags are merged in where the working directory
is a repository that has them. Other commands resolve VERSION → digest with load_releases().
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any

from releasectl.commands.context import Context
from releasectl.core.errors import ReleasectlError
from releasectl.core.ledger import Release, merge
from releasectl.core.versions import is_commit_tag, is_release_tag
from releasectl.core.view import Block, Lines, Table, View

if TYPE_CHECKING:
    from releasectl.adapters.aws.ecr import EcrLedger


# ----------------------------------------------------------------------------- reading the ledger


def _ecr_ledger(ctx: Context) -> EcrLedger:
    from releasectl.adapters.aws.ecr import EcrLedger

    return EcrLedger(ctx.aws.client("ecr"), ctx.config.require("ecr_repository"))


def _git_releases(ctx: Context) -> list[Release]:
    """Releases recorded as git tags here; none when that ledger is unavailable. Git tags are a
    mirror: a directory that is not a clone must not stop an operator from deploying."""
    try:
        from releasectl.adapters.git import Git, GitTagLedger
    except ImportError:
        return []
    try:
        return GitTagLedger.for_config(Git(ctx.cwd), ctx.config).releases()
    except ReleasectlError as exc:
        ctx.reporter.detail(f"git tags not read ({exc.one_line()}); using ECR only")
        return []


def load_releases(ctx: Context) -> list[Release]:
    """Every release, newest first: ECR's tags merged with git's (ECR wins on a disagreement)."""
    return merge(_ecr_ledger(ctx).releases(), _git_releases(ctx))


# ----------------------------------------------------------------------------- releases


def _utc(value: Any) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


class ReleasesView(View):
    def __init__(
        self,
        repository: str,
        releases: Sequence[Release],
        tags: Mapping[str, Sequence[str]],
        outcomes: Mapping[str, str] | None = None,
        by_environment: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.repository = repository
        self.releases = list(releases)
        self.tags = tags  # every tag of each digest
        # version → outcome of its latest deployment, when a caller knows it.
        self.outcomes = dict(outcomes or {})
        # environment → version → outcome there: one column per environment.
        self.by_environment = {name: dict(found) for name, found in (by_environment or {}).items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "releases": [
                {
                    "version": r.version,
                    "digest": r.digest,
                    "commit": r.commit,
                    "pushed_at": _utc(r.pushed_at),
                    "tags": sorted(self.tags.get(r.digest, ())) if r.digest else [],
                    "outcome": self.outcomes.get(r.version),
                    **(
                        {
                            "outcomes": {
                                env: found.get(r.version) for env, found in self.by_environment.items()
                            }
                        }
                        if self.by_environment
                        else {}
                    ),
                    "sources": sorted(r.sources),
                }
                for r in self.releases
            ],
        }

    def text(self, *, width: int, unicode: bool) -> list[Block]:
        if not self.releases:
            return [Lines.of([f"no releases in ECR repository {self.repository}"])]
        rows = []
        for r in self.releases:
            floating = [
                t
                for t in sorted(self.tags.get(r.digest, ()) if r.digest else ())
                if not is_release_tag(t) and not is_commit_tag(t)
            ]
            pushed = r.pushed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if r.pushed_at else None
            rows.append(
                (
                    r.version,
                    # Short forms, as `docker images` and `git log --oneline` print them; --json has it all.
                    r.digest.removeprefix("sha256:")[:12] if r.digest else "(no image)",
                    r.commit[:8] if r.commit else None,
                    pushed,
                    ", ".join(floating),
                    *(
                        [found.get(r.version) for found in self.by_environment.values()]
                        if self.by_environment
                        else [self.outcomes.get(r.version)]
                    ),
                )
            )
        outcome_columns = list(self.by_environment) if self.by_environment else ["outcome"]
        return [
            Table.of(
                f"Releases in {self.repository}",
                ["version", "digest", "commit", "pushed (UTC)", "tags", *outcome_columns],
                rows,
            )
        ]


# Revisions read for deployment outcomes: each costs one describe_task_definition, so the
# view looks at recent history only; older releases show no outcome rather than a slow command.
OUTCOME_SCAN = 20


def _deployment_outcomes(ctx: Context) -> dict[str, str]:
    """version → outcome recorded on the service's task-definition revisions by deploy and
    rollback (`releasectl:version` / `releasectl:outcome` tags). Best effort: without an ECS
    service configured, or when it cannot be read, the ledger is still shown."""
    if not (ctx.config.ecs_cluster and ctx.config.ecs_service):
        return {}
    try:
        from releasectl.adapters.aws.ecs import EcsApi
        from releasectl.core.deploy_plan import family_of
    except ImportError:
        return {}
    try:
        ecs = EcsApi.from_context(ctx)
        family = family_of(str(ecs.describe_service().get("taskDefinition") or ""))
        return ecs.recorded_outcomes(family, limit=OUTCOME_SCAN) if family else {}
    except ReleasectlError as exc:
        ctx.reporter.warn(f"deployment outcomes not shown: {exc.one_line()}")
        return {}


def _outcomes_by_environment(ctx: Context) -> dict[str, dict[str, str]]:
    """environment → version → outcome, for every configured environment (best effort each)."""
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.core.deploy_plan import family_of

    found: dict[str, dict[str, str]] = {}
    for environment in ctx.config.environments.values():
        try:
            ecs = EcsApi(
                ctx.env_aws(environment).client("ecs"),
                cluster=environment.cluster,
                service=environment.service,
            )
            service = ecs.find_service()
            family = family_of(str(service.get("taskDefinition") or "")) if service else ""
            found[environment.name] = ecs.recorded_outcomes(family, limit=OUTCOME_SCAN) if family else {}
        except ReleasectlError as exc:
            ctx.reporter.warn(f"deployment outcomes in {environment.name} not shown: {exc.one_line()}")
            found[environment.name] = {}
    return found


def list_releases(ctx: Context) -> View:
    ledger = _ecr_ledger(ctx)
    releases = merge(ledger.releases(), _git_releases(ctx))
    tags = {image.digest: image.tags for image in ledger.images()}
    if ctx.config.environments:
        by_environment = _outcomes_by_environment(ctx)
        selected = by_environment.get(ctx.config.env or "", {})
        return ReleasesView(ledger.repository, releases, tags, selected, by_environment)
    return ReleasesView(ledger.repository, releases, tags, _deployment_outcomes(ctx))
