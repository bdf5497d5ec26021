"""`releasectl infra deploy|diff|outputs|destroy`: the stack under infra/ through change sets.

Every change goes through a change set, so `diff` shows exactly what `deploy` would do. Waiting
uses the context's clock (no SDK waiters) and streams each stack event once, with progress.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releasectl.core import changeset as plan
from releasectl.core.backoff import Backoff
from releasectl.core.changeset import (
    ChangeSet,
    ResourceChange,
    Stack,
    StackEvent,
    StackProgress,
    TemplateParameter,
)
from releasectl.core.errors import (
    Conflict,
    EnvironmentProblem,
    Interrupted,
    OperationFailed,
    TimedOut,
    UsageError,
    interrupted_as,
)
from releasectl.core.result import CommandResult, Outcome
from releasectl.core.view import Block, Lines, View

if TYPE_CHECKING:
    from releasectl.adapters.aws.cloudformation import CloudFormationStacks
    from releasectl.commands.context import Context

DEFAULT_STACK = "releasectl"
DEFAULT_TEMPLATE = Path("infra/releasectl.yaml")
DEFAULT_TIMEOUT = 3600
CHANGE_SET_TIMEOUT = 600
_STACK_BACKOFF = Backoff(first=2.0, maximum=10.0, factor=1.5, jitter=0.2)
_CHANGE_SET_BACKOFF = Backoff(first=1.0, maximum=5.0, factor=1.5)
_jitter = random.Random()  # noqa: S311 - spreads polls out; not security  # nosec B311


@dataclass
class InfraDiff(View):
    stack: str
    kind: str
    changes: list[ResourceChange]
    derived: dict[str, str] = field(default_factory=dict)  # parameters releasectl chose itself
    note: str | None = None  # what CloudFormation says of a change set it completed (the sandbox's caveats)

    def to_json(self) -> dict[str, Any]:
        return {
            "command": "infra diff",
            "stack": self.stack,
            "change_set_type": self.kind,
            "summary": plan.change_summary(self.changes),
            "changes": [c.to_json() for c in self.changes],
            "derived_parameters": self.derived,
            "note": self.note,
        }

    def text(self, *, width: int, unicode: bool) -> list[Block]:
        return [Lines.of(plan.diff_lines(self.stack, self.kind, self.changes) + _note_lines(self.note))]


def _note_lines(note: str | None) -> list[str]:
    return [f"note: {note}"] if note else []


def _note(change_set: ChangeSet | None) -> str | None:
    """The StatusReason of a completed change set: empty on AWS as a rule; the sandbox says there
    what its CloudFormation (moto) leaves out, which a diff must not hide."""
    if change_set is None or change_set.status != "CREATE_COMPLETE":
        return None
    return change_set.status_reason or None


@dataclass
class InfraOutputs(View):
    stack: str
    status: str
    outputs: dict[str, str]
    config: dict[str, str]
    env: bool = False
    written: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "command": "infra outputs",
            "stack": self.stack,
            "stack_status": self.status,
            "outputs": self.outputs,
            "config": self.config,
            "written": self.written,
        }

    def text(self, *, width: int, unicode: bool) -> list[Block]:
        return [Lines.of(plan.env_exports(self.config) if self.env else plan.output_lines(self.outputs))]


@dataclass
class _Prepared:
    before: Stack | None  # the stack as it was; None if there was none
    kind: str  # CREATE | UPDATE
    stack_id: str
    change_set: ChangeSet | None  # None: nothing would change, and nothing was left behind
    derived: dict[str, str] = field(default_factory=dict)

    @property
    def changes(self) -> list[ResourceChange]:
        return list(self.change_set.changes) if self.change_set else []


def _stacks(ctx: Context) -> CloudFormationStacks:
    from releasectl.adapters.aws.cloudformation import CloudFormationStacks

    # The environment's account and region: its platform stack lives there.
    return CloudFormationStacks(ctx.env_aws().client("cloudformation"))


def _read_template(ctx: Context, template: Path | None) -> str:
    path = template or DEFAULT_TEMPLATE
    path = path if path.is_absolute() else ctx.cwd / path
    try:
        body = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"template {path} does not exist", hint="pass --template PATH") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read template {path}: {exc}") from None
    plan.check_template_size(body, str(path))
    plan.check_template_syntax(body, str(path))
    return body


def _check_stack_can_change(stack: Stack) -> None:
    problem = plan.blocking_problem(stack)
    if problem is None:
        return
    kind, message = problem
    if kind == "busy":
        raise Conflict(message, hint="wait for it to finish, then run the command again")
    if stack.status == "UPDATE_ROLLBACK_FAILED":
        raise EnvironmentProblem(
            message, hint=f"run `aws cloudformation continue-update-rollback --stack-name {stack.name}`"
        )
    raise EnvironmentProblem(message, hint=f"run `releasectl infra destroy --stack-name {stack.name} --yes`")


def _prepare(
    ctx: Context,
    cfn: CloudFormationStacks,
    stack_name: str,
    body: str,
    given: dict[str, str],
    purpose: str,
    deadline: float,
) -> _Prepared:
    """Create the change set and wait for it. Input problems surface here, before any change."""
    from releasectl.adapters.aws.cloudformation import NoChanges

    before = cfn.describe(stack_name)
    if before is not None:
        _check_stack_can_change(before)
    kind = plan.change_set_type(before)
    url = _stage_if_too_large(ctx, stack_name, body)
    declared = cfn.template_parameters(body, url=url)
    existing = before.parameters if before is not None and kind == "UPDATE" else None
    derived = _kept_repository(ctx, given, declared) if kind == "CREATE" else {}
    if ctx.config.env and "EnvironmentName" not in given and "EnvironmentName" in {p.key for p in declared}:
        # The selected environment's stack is that environment's platform (staging holds the tools).
        derived["EnvironmentName"] = ctx.config.env
    parameter_list = plan.plan_parameters({**given, **derived}, declared, existing)

    name = plan.change_set_name(purpose, uuid.uuid4().hex[:12])
    ctx.reporter.info(f"creating change set {name} ({kind}) for stack {stack_name}")
    try:
        change_set_id, stack_id = cfn.create_change_set(
            stack_name=stack_name,
            change_set_name=name,
            body=body,
            url=url,
            parameters=parameter_list,
            kind=kind,
        )
    except NoChanges:
        assert before is not None  # a CREATE always changes something
        return _Prepared(before, kind, before.stack_id, None, derived)

    review_stack = stack_id if before is None else None
    try:
        change_set = _wait_for_change_set(ctx, cfn, change_set_id, deadline)
    except BaseException:
        _discard(cfn, change_set_id, review_stack)
        raise
    if change_set.no_changes:
        _discard(cfn, change_set_id, None)
        return _Prepared(before, kind, stack_id, None, derived)
    if change_set.status != "CREATE_COMPLETE":
        _discard(cfn, change_set_id, review_stack)
        reason = change_set.status_reason or "no reason given"
        raise OperationFailed(f"change set for stack {stack_name} {change_set.status}: {reason}")
    return _Prepared(before, kind, stack_id, change_set, derived)


def _discard(cfn: CloudFormationStacks, change_set_id: str, review_stack_id: str | None) -> None:
    """Remove a change set that will not run, and the empty stack a CREATE change set made for it."""
    cfn.delete_change_set(change_set_id)
    if review_stack_id:
        cfn.delete_stack(review_stack_id)


def _stage_if_too_large(ctx: Context, stack_name: str, body: str) -> str | None:
    """The S3 URL CloudFormation reads a template from when it is too large to send inline; None when
    it is small enough. The bucket is the account's own (releasectl.adapters.aws.template_bucket)."""
    if not plan.needs_staging(body):
        return None
    from releasectl.adapters.aws.sts import caller_identity
    from releasectl.adapters.aws.template_bucket import stage_template

    region = ctx.aws.resolved_region()
    if not region:
        raise EnvironmentProblem(
            "no AWS region configured", hint="set --region, RELEASECTL_REGION or AWS_REGION"
        )
    account = caller_identity(ctx.aws.client("sts")).account
    url = stage_template(
        ctx.aws.client("s3"), account=account, region=region, stack_name=stack_name, body=body
    )
    size = len(body.encode())
    ctx.reporter.info(
        f"the template is {size} bytes, over the {plan.TEMPLATE_BODY_LIMIT} CloudFormation takes inline: "
        f"CloudFormation reads it from {url}"
    )
    return url


def _kept_repository(
    ctx: Context, given: dict[str, str], declared: Sequence[TemplateParameter]
) -> dict[str, str]:
    """ExistingReleaseRepository=<name> for a new stack whose release repository is still there.

    The repository outlives a deleted stack (DeletionPolicy Retain, it is the release ledger), and a
    new stack that tried to create it again would fail on the name. One describe_repositories call.
    """
    name = plan.kept_repository_candidate(given, declared)
    if name is None:
        return {}
    from releasectl.adapters.aws.ecr import find_repository

    if find_repository(ctx.aws.client("ecr"), name) is None:
        return {}
    ctx.reporter.info(
        f"release repository {name} already exists (kept when an earlier stack was deleted): "
        f"the new stack uses it ({plan.KEPT_REPOSITORY_PARAMETER}={name})"
    )
    return {plan.KEPT_REPOSITORY_PARAMETER: name}


def _wait_for_change_set(
    ctx: Context, cfn: CloudFormationStacks, change_set_id: str, deadline: float
) -> ChangeSet:
    delay = _CHANGE_SET_BACKOFF.first
    while True:
        change_set = cfn.describe_change_set(change_set_id)
        if not change_set.pending:
            return change_set
        if ctx.clock.now() >= deadline:
            raise TimedOut(
                f"change set {change_set_id} still {change_set.status}; it was deleted",
                hint="run the command again with a longer --timeout",
            )
        ctx.clock.sleep(delay)
        delay = _CHANGE_SET_BACKOFF.step(delay)


def _watch(
    ctx: Context,
    cfn: CloudFormationStacks,
    stack_id: str,
    known: set[str],
    progress: StackProgress,
    deadline: float,
) -> tuple[Stack | None, list[StackEvent], bool]:
    """Stream events not in `known` (read before the operation started) until the stack is terminal.

    Returns the last stack seen, the events shown, and whether the deadline passed first.
    """
    seen: list[StackEvent] = []

    def interrupted() -> Interrupted:
        name = stack_id.split("/")[1] if stack_id.count("/") >= 2 else stack_id
        last = f"{seen[-1].logical_id} {seen[-1].status}" if seen else "none yet"
        return Interrupted(
            f"interrupted while following stack {name} (last event: {last}); CloudFormation carries on",
            hint="`releasectl infra outputs` shows the stack's status",
        )

    delay = _STACK_BACKOFF.first
    with interrupted_as(interrupted):
        while True:
            # Status before events: once the status is terminal, the events read after it include
            # everything that led there.
            stack = cfn.describe(stack_id)
            for event in reversed(cfn.events_since(stack_id, known)):
                known.add(event.event_id)
                seen.append(event)
                ctx.reporter.info(progress.line(event))
            if stack is None or plan.is_terminal(stack.status):
                return stack, seen, False
            remaining = deadline - ctx.clock.now()
            if remaining <= 0:
                return stack, seen, True
            ctx.clock.sleep(_STACK_BACKOFF.pause(delay, rng=_jitter, remaining=remaining))
            delay = _STACK_BACKOFF.step(delay)


def _outcome(
    command: str,
    stack_name: str,
    watched: tuple[Stack | None, list[StackEvent], bool],
    success: str,
    timeout: int,
    duration: float,
    extra: dict[str, Any],
) -> CommandResult:
    final, seen, timed_out = watched
    status = final.status if final else "DELETE_COMPLETE"
    extra["stack_status"] = status
    if timed_out:
        message = f"stack {stack_name} still {status} after {timeout}s; CloudFormation carries on"
        outcome = Outcome.TIMED_OUT
    elif status == success or (success == "DEPLOYED" and status in plan.DEPLOY_SUCCESS):
        message, outcome = f"stack {stack_name} {status}", Outcome.SUCCEEDED
    else:
        found = plan.failures(seen)
        for failure in found:
            extra.setdefault("failures", []).append(failure.to_json())
        message = plan.failure_message(stack_name, status, found, final.status_reason if final else None)
        outcome = Outcome.ROLLED_BACK if status in plan.ROLLED_BACK else Outcome.FAILED
    return CommandResult(command=command, outcome=outcome, message=message, duration_s=duration, extra=extra)


def deploy(
    ctx: Context,
    *,
    stack_name: str = DEFAULT_STACK,
    template: Path | None = None,
    parameters: Sequence[str] = (),
    timeout: int = DEFAULT_TIMEOUT,
) -> CommandResult:
    started = ctx.clock.now()
    given = plan.parse_parameter_options(parameters)
    body = _read_template(ctx, template)
    cfn = _stacks(ctx)
    prepared = _prepare(ctx, cfn, stack_name, body, given, "deploy", started + timeout)
    changes = prepared.changes
    extra: dict[str, Any] = {
        "stack": stack_name,
        "stack_id": prepared.stack_id,
        "change_set_type": prepared.kind,
        "changes": [c.to_json() for c in changes],
        "derived_parameters": prepared.derived,
    }
    if prepared.change_set is None:
        extra["stack_status"] = prepared.before.status if prepared.before else None
        return CommandResult(
            command="infra deploy",
            outcome=Outcome.NOOP,
            message=f"stack {stack_name} is up to date; nothing to deploy",
            duration_s=ctx.clock.now() - started,
            extra=extra,
        )
    ctx.reporter.info(f"stack {stack_name}: {plan.change_summary(changes)}")
    for line in plan.change_lines(changes):
        ctx.reporter.info(f"  {line}")
    for line in _note_lines(_note(prepared.change_set)):
        ctx.reporter.info(line)
    known = cfn.recent_event_ids(prepared.stack_id)
    cfn.execute_change_set(prepared.change_set.change_set_id)
    watched = _watch(ctx, cfn, prepared.stack_id, known, StackProgress(len(changes)), started + timeout)
    result = _outcome(
        "infra deploy", stack_name, watched, "DEPLOYED", timeout, ctx.clock.now() - started, extra
    )
    if result.outcome is Outcome.SUCCEEDED and watched[0] is not None:
        result.message += f" ({plan.change_summary(changes)})"
        result.extra["outputs"] = dict(watched[0].outputs)
    else:
        for failure in result.extra.get("failures", []):
            ctx.reporter.warn(f"{failure['logical_id']} ({failure['resource_type']}): {failure['reason']}")
    return result


def diff(
    ctx: Context,
    *,
    stack_name: str = DEFAULT_STACK,
    template: Path | None = None,
    parameters: Sequence[str] = (),
) -> InfraDiff:
    """What deploy would change. The change set, and a stack made only to hold it, are deleted."""
    given = plan.parse_parameter_options(parameters)
    body = _read_template(ctx, template)
    cfn = _stacks(ctx)
    deadline = ctx.clock.now() + CHANGE_SET_TIMEOUT
    prepared = _prepare(ctx, cfn, stack_name, body, given, "diff", deadline)
    if prepared.change_set is not None:
        review_stack = prepared.stack_id if prepared.before is None else None
        _discard(cfn, prepared.change_set.change_set_id, review_stack)
    return InfraDiff(
        stack=stack_name,
        kind=prepared.kind,
        changes=prepared.changes,
        derived=prepared.derived,
        note=_note(prepared.change_set),
    )


def outputs(
    ctx: Context,
    *,
    stack_name: str = DEFAULT_STACK,
    write_config: bool = False,
    env: bool = False,
    config_path: Path | None = None,
) -> InfraOutputs:
    from releasectl.core.config import find_config_file

    stack = _stacks(ctx).describe(stack_name)
    if stack is None or stack.status == "REVIEW_IN_PROGRESS":
        raise EnvironmentProblem(
            f"stack {stack_name} has not been created", hint="run `releasectl infra deploy` first"
        )
    values = plan.config_values(stack.outputs)
    written = None
    if write_config:
        if not values:
            raise EnvironmentProblem(
                f"stack {stack_name} has no outputs named after [tool.releasectl] keys",
                hint="is it the releasectl stack? see infra/README.md",
            )
        path = config_path or find_config_file(ctx.cwd) or ctx.cwd / "pyproject.toml"
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        updated = plan.update_pyproject(text, values)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
        ctx.reporter.info(f"[tool.releasectl] in {path}: {', '.join(values)} set from stack {stack_name}")
        written = str(path)
    return InfraOutputs(stack_name, stack.status, dict(stack.outputs), values, env, written)


def destroy(
    ctx: Context, *, stack_name: str = DEFAULT_STACK, yes: bool = False, timeout: int = DEFAULT_TIMEOUT
) -> CommandResult:
    if not yes:
        raise UsageError(
            f"infra destroy deletes stack {stack_name} and what it holds; nothing was changed",
            hint="add --yes to confirm",
        )
    started = ctx.clock.now()
    cfn = _stacks(ctx)
    stack = cfn.describe(stack_name)
    if stack is None:
        return CommandResult(
            command="infra destroy",
            outcome=Outcome.NOOP,
            message=f"stack {stack_name} does not exist; nothing to destroy",
            extra={"stack": stack_name},
        )
    if not plan.is_terminal(stack.status) and stack.status not in {
        "DELETE_IN_PROGRESS",
        "REVIEW_IN_PROGRESS",
    }:
        raise Conflict(
            f"stack {stack_name} is {stack.status}: another operation is running on it",
            hint="wait for it to finish, then run the command again",
        )
    total = cfn.resource_count(stack.stack_id)
    known = cfn.recent_event_ids(stack.stack_id)
    if stack.status != "DELETE_IN_PROGRESS":
        ctx.reporter.info(f"deleting stack {stack_name} ({total} resources)")
        cfn.delete_stack(stack.stack_id)
    watched = _watch(ctx, cfn, stack.stack_id, known, StackProgress(total), started + timeout)
    extra: dict[str, Any] = {"stack": stack_name, "stack_id": stack.stack_id}
    result = _outcome(
        "infra destroy", stack_name, watched, "DELETE_COMPLETE", timeout, ctx.clock.now() - started, extra
    )
    retained = plan.skipped(watched[1])
    result.extra["retained"] = retained
    if result.outcome is Outcome.SUCCEEDED and retained:
        result.message += f"; kept by their DeletionPolicy: {', '.join(retained)}"
    return result
