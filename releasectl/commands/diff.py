"""`releasectl diff [VERSION]`: what a deploy to the environment would change, field by field.

The same plan `deploy` makes (releasectl.core.definition_plan, or the image-only plan without a
service definition), read-only: describe calls and the platform stack's outputs, no write.
"""

from __future__ import annotations

from typing import Any

from releasectl.commands.context import Context
from releasectl.core.deploy_plan import Action, DeployPlan, describe_change, resolve_release
from releasectl.core.errors import EnvironmentProblem
from releasectl.core.versions import parse_version_argument
from releasectl.core.view import Block, Lines, View


class DiffView(View):
    def __init__(self, environment: str | None, plan: DeployPlan) -> None:
        self.environment = environment
        self.plan = plan

    def to_json(self) -> dict[str, Any]:
        plan = self.plan
        current = plan.current
        return {
            "environment": self.environment,
            "service": plan.service,
            "cluster": plan.cluster,
            "running": {
                "task_definition": current.arn if current else None,
                "version": current.version if current else None,
                "image": current.image(plan.container_name) if current else None,
            },
            "target": {"version": plan.release.version, "digest": plan.digest, "image": plan.image},
            "action": plan.action.value,
            "changes": plan.to_json()["changes"],
        }

    def text(self, *, width: int, unicode: bool) -> list[Block]:
        plan = self.plan
        arrow = "→" if unicode else "->"
        where = f" ({self.environment})" if self.environment else ""
        running = plan.current.version if plan.current else None
        lines = [
            f"service {plan.service} in cluster {plan.cluster}{where}",
            f"  version  {running or '(none)'} {arrow} {plan.release.version}",
        ]
        if plan.action is Action.NOOP:
            lines.append("  no changes: a deploy would do nothing")
            return [Lines.of(lines, overflow="fold", indent=4)]
        if plan.action is Action.CREATE:
            lines.append("  the service does not exist yet: a deploy creates it with")
        for change in plan.changes:
            lines.append("  " + describe_change(change).replace(" -> ", f" {arrow} "))
        if not plan.changes:
            lines.append(f"  image    {plan.current.image(plan.container_name) if plan.current else None}")
            lines.append(f"           {arrow} {plan.image}")
        return [Lines.of(lines, overflow="fold", indent=4)]


def service_diff(ctx: Context, *, version: str | None) -> DiffView:
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.commands.definition import read_definition, resolve_definition
    from releasectl.commands.deploy import plan_as_defined, plan_image_only
    from releasectl.commands.releases import load_releases

    wanted = parse_version_argument(version, prefix=ctx.config.tag_prefix) if version else None
    definition = read_definition(ctx)
    ctx.config.require("container_name")
    ctx.config.require("ecr_repository")
    release = resolve_release(load_releases(ctx), wanted)
    ctx.name_session(release.version, ctx.config.env)
    ecs = EcsApi.from_context(ctx)
    snapshot = ecs.find_service()
    if snapshot is None:
        raise EnvironmentProblem(
            f"ECS service {ecs.service!r} does not exist in cluster {ecs.cluster!r}: nothing to compare",
            hint="the first `releasectl deploy` creates it from the service definition; "
            "`releasectl deploy --dry-run` shows what it would create",
        )
    current = ecs.describe_task_definition(str(snapshot["taskDefinition"]))
    uri = _repository_uri(ctx)
    if definition is None:
        plan = plan_image_only(
            ctx, ecs, release, snapshot=snapshot, current=current, repository_uri=lambda: uri
        )
    else:
        resolved = resolve_definition(ctx, definition)
        plan = plan_as_defined(
            ctx,
            ecs,
            release,
            spec=resolved.spec,
            region=resolved.region,
            repository_uri=uri,
            snapshot=snapshot,
            current=current,
        )
    return DiffView(ctx.config.env, plan)


def _repository_uri(ctx: Context) -> str:
    from releasectl.adapters.aws.ecr import describe_repository

    return describe_repository(ctx.aws.client("ecr"), ctx.config.require("ecr_repository")).uri
