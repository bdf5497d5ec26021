"""The service definition of the selected environment, read and filled: file, then stack outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from releasectl.commands.context import Context
from releasectl.core.errors import UsageError
from releasectl.core.service_definition import ServiceDefinition, parse, resolve, stack_outputs_needed


@dataclass(frozen=True)
class Resolved:
    path: str
    spec: dict[str, Any]
    region: str


def read_definition(ctx: Context) -> ServiceDefinition | None:
    """The file, checked (exit 2 naming field and line), or None when the project has none."""
    path = ctx.config.service_definition_path()
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"service definition {path} does not exist",
            hint="fix service_definition in [tool.releasectl], or remove it to deploy image changes only",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"service definition {path} cannot be read: {exc}") from None
    definition = parse(_shown(ctx, path), text)
    unknown = [name for name in definition.environments() if name not in ctx.config.environments]
    if unknown:
        raise definition.error(
            f"environments.{unknown[0]}",
            f"is not a configured environment (known: {', '.join(ctx.config.environments) or 'none'})",
        )
    return definition


def resolve_definition(ctx: Context, definition: ServiceDefinition) -> Resolved:
    """Fill the placeholders: one describe_stacks call when the definition reads stack outputs."""
    region = ctx.env_aws().resolved_region() or ""
    outputs: dict[str, str] = {}
    needed = stack_outputs_needed(definition, ctx.config.env)
    stack = ctx.config.stack_name
    if needed and stack:
        from releasectl.adapters.aws.cloudformation import CloudFormationStacks
        from releasectl.core.errors import EnvironmentProblem

        found = CloudFormationStacks(ctx.env_aws().client("cloudformation")).describe(stack)
        if found is None:
            raise EnvironmentProblem(
                f"platform stack {stack} does not exist, and {definition.path} reads its outputs "
                f"({', '.join(needed)})",
                hint=f"create it with `releasectl infra deploy --stack-name {stack}`",
            )
        outputs = dict(found.outputs)
    spec = resolve(definition, env=ctx.config.env, region=region, outputs=outputs, stack=stack)
    return Resolved(path=definition.path, spec=spec, region=region)


def _shown(ctx: Context, path: Any) -> str:
    """The path as the user knows it: relative to where they run the command, when it is below."""
    try:
        return str(path.resolve().relative_to(ctx.cwd.resolve()))
    except ValueError:
        return str(path)
