"""Pure logic of `releasectl infra`: parameters, change-set and event rendering, outputs as config.

No boto3, no rich, no I/O: the CloudFormation boundary (releasectl.adapters.aws.cloudformation) turns API
responses into the records below, and releasectl.commands.infra drives the flow.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import tomllib
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from releasectl.core.config import ENV_PREFIX, KEYS
from releasectl.core.errors import UsageError

# CloudFormation refuses inline template bodies above this size: bigger ones are read from S3, up to
# TEMPLATE_URL_LIMIT.
TEMPLATE_BODY_LIMIT = 51_200
TEMPLATE_URL_LIMIT = 1_000_000
CAPABILITIES: tuple[Literal["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"], ...] = (
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
)
STACK_RESOURCE_TYPE = "AWS::CloudFormation::Stack"

# Change sets that would change nothing end FAILED with the first reason on AWS; moto answers the
# create call itself with the second.
_NO_CHANGE_MARKERS = ("didn't contain changes", "No updates are to be performed")
_CANCELLED = re.compile(r"\bcancell?ed\b", re.IGNORECASE)
_PARAMETER_KEY = re.compile(r"^[A-Za-z0-9]{1,255}$")
# The template parameter that makes a new stack use the release repository an earlier stack kept
# (DeletionPolicy Retain) instead of creating one of the same name, which CloudFormation would refuse.
KEPT_REPOSITORY_PARAMETER = "ExistingReleaseRepository"
# The environment whose stack holds the tools (ECR, CodeBuild, the pipeline): infra/releasectl.yaml.
TOOLS_ENVIRONMENT = "staging"
_CHANGE_SET_NAME = re.compile(r"^[A-Za-z][-A-Za-z0-9]{0,127}$")

DEPLOY_SUCCESS = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"})
ROLLED_BACK = frozenset({"ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"})
# Stacks in these states cannot take a change set: they must be deleted (or their rollback continued).
_NEEDS_DELETE = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"})


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class TemplateParameter:
    key: str
    default: str | None = None

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class Stack:
    name: str
    stack_id: str
    status: str
    status_reason: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceChange:
    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    resource_type: str
    replacement: str | None = None  # True | False | Conditional (Modify only)
    details: tuple[str, ...] = ()  # names of the properties that change

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "logical_id": self.logical_id,
            "resource_type": self.resource_type,
            "replacement": self.replacement,
            "details": list(self.details),
        }


@dataclass(frozen=True)
class ChangeSet:
    change_set_id: str
    status: str
    status_reason: str | None = None
    execution_status: str | None = None
    changes: tuple[ResourceChange, ...] = ()

    @property
    def pending(self) -> bool:
        return self.status in {"CREATE_PENDING", "CREATE_IN_PROGRESS"}

    @property
    def no_changes(self) -> bool:
        return self.status == "FAILED" and is_no_change_reason(self.status_reason or "")


@dataclass(frozen=True)
class StackEvent:
    event_id: str
    timestamp: datetime | None
    logical_id: str
    resource_type: str
    status: str
    reason: str | None = None

    @property
    def is_stack(self) -> bool:
        return self.resource_type == STACK_RESOURCE_TYPE


@dataclass(frozen=True)
class Failure:
    logical_id: str
    resource_type: str
    status: str
    reason: str

    def line(self) -> str:
        return f"{self.logical_id} ({self.resource_type}) {self.status}: {self.reason}"

    def to_json(self) -> dict[str, str]:
        return {
            "logical_id": self.logical_id,
            "resource_type": self.resource_type,
            "status": self.status,
            "reason": self.reason,
        }


# ----------------------------------------------------------------------------- parameters


def parse_parameter_options(items: Iterable[str]) -> dict[str, str]:
    """`--parameter Key=Value` options as a dict; malformed or repeated keys are usage errors."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not _PARAMETER_KEY.match(key):
            raise UsageError(
                f"--parameter {item!r} is not KEY=VALUE with an alphanumeric key",
                hint="e.g. --parameter LogRetentionDays=60",
            )
        if key in values:
            raise UsageError(f"--parameter {key} is given twice", hint="pass each parameter once")
        values[key] = value
    return values


def plan_parameters(
    given: Mapping[str, str],
    declared: Sequence[TemplateParameter],
    existing: Mapping[str, str] | None,
) -> list[dict[str, Any]]:
    """The Parameters argument of create_change_set.

    Explicit values win; on an update every other parameter the stack already has keeps its
    previous value (an update must not quietly reset, say, CertificateArn to the template's empty
    default); anything else takes the template default.
    """
    declared_keys = [p.key for p in declared]
    unknown = sorted(set(given) - set(declared_keys))
    if unknown:
        raise UsageError(
            f"--parameter {unknown[0]} is not a parameter of the template",
            hint=f"the template declares: {', '.join(declared_keys) or 'no parameters'}",
        )
    result: list[dict[str, Any]] = []
    for parameter in declared:
        key = parameter.key
        if key in given:
            result.append({"ParameterKey": key, "ParameterValue": given[key]})
        elif existing is not None and key in existing:
            result.append({"ParameterKey": key, "UsePreviousValue": True})
        elif parameter.required:
            raise UsageError(
                f"template parameter {key} has no default and no value",
                hint=f"pass --parameter {key}=VALUE",
            )
    return result


def kept_repository_candidate(given: Mapping[str, str], declared: Sequence[TemplateParameter]) -> str | None:
    """The release repository a new stack would create, when the template could use a kept one instead.

    That is when the template declares KEPT_REPOSITORY_PARAMETER and it was not given, and the stack is
    the tools stack (EnvironmentName, given or by default, is TOOLS_ENVIRONMENT): the repository is
    named after AppName. None when there is nothing to look for.
    """
    defaults = {p.key: p.default for p in declared}
    if KEPT_REPOSITORY_PARAMETER not in defaults or KEPT_REPOSITORY_PARAMETER in given:
        return None
    environment = given.get("EnvironmentName", defaults.get("EnvironmentName") or TOOLS_ENVIRONMENT)
    if environment != TOOLS_ENVIRONMENT:
        return None
    return given.get("AppName", defaults.get("AppName")) or None


def check_template_size(body: str, path: str) -> None:
    size = len(body.encode())
    if size > TEMPLATE_URL_LIMIT:
        raise UsageError(
            f"template {path} is {size} bytes; CloudFormation takes at most {TEMPLATE_URL_LIMIT} (from S3)",
            hint="split it into nested stacks",
        )


def needs_staging(body: str) -> bool:
    """Whether the template is too large to send inline, so CloudFormation must read it from S3."""
    return len(body.encode()) > TEMPLATE_BODY_LIMIT


def template_bucket_name(account: str, region: str) -> str:
    """The one bucket per account and region that holds templates too large to send inline."""
    return f"releasectl-templates-{account}-{region}"


def template_key(stack_name: str, body: str) -> str:
    """Named after the content: the same template is the same object, a changed one a new one."""
    return f"{stack_name}/{hashlib.sha256(body.encode()).hexdigest()}.template"


def template_url(bucket: str, region: str, key: str) -> str:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{bucket}.s3.{region}.{suffix}/{key}"


def check_template_syntax(body: str, path: str) -> None:
    """A template that is not YAML (JSON is YAML) is a usage error here, before any AWS call:
    CloudFormation would refuse it too, and moto (so the sandbox) answers it with an HTTP 500."""
    import yaml

    # libyaml's loader where PyYAML has it: a platform template parses ~10x faster.
    safe_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class _AnyTag(safe_loader):  # type: ignore[valid-type,misc]
        """Accepts CloudFormation's short forms (!Ref, !Sub, ...) without knowing them."""

    _AnyTag.add_multi_constructor("!", lambda loader, suffix, node: None)
    try:
        parsed = yaml.load(body, Loader=_AnyTag)  # noqa: S506 - a SafeLoader subclass  # nosec B506
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise UsageError(
            f"template {path} is not valid YAML or JSON{at}: {problem}",
            hint="check it with `cfn-lint`",
        ) from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Resources"), dict):
        raise UsageError(
            f"template {path} has no Resources section", hint="a CloudFormation template maps Resources"
        )


def change_set_name(purpose: str, suffix: str) -> str:
    name = f"releasectl-{purpose}-{suffix}"
    if not _CHANGE_SET_NAME.match(name):
        raise ValueError(f"invalid change set name {name!r}")
    return name


def is_no_change_reason(reason: str) -> bool:
    return any(marker in reason for marker in _NO_CHANGE_MARKERS)


# ----------------------------------------------------------------------------- stack states


def is_terminal(status: str) -> bool:
    return not status.endswith("_IN_PROGRESS")


def change_set_type(stack: Stack | None) -> Literal["CREATE", "UPDATE"]:
    """CREATE for a new stack (or one only reviewed so far), UPDATE otherwise."""
    if stack is None or stack.status == "REVIEW_IN_PROGRESS":
        return "CREATE"
    return "UPDATE"


def blocking_problem(stack: Stack) -> tuple[str, str] | None:
    """(kind, message) when the stack cannot take a change set now: kind is 'busy' or 'broken'."""
    status = stack.status
    if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        return "busy", f"stack {stack.name} is {status}: another operation is running on it"
    if status in _NEEDS_DELETE:
        return "broken", f"stack {stack.name} is {status} and cannot be updated"
    if status == "UPDATE_ROLLBACK_FAILED":
        return "broken", f"stack {stack.name} is {status}: its last rollback did not finish"
    return None


# ----------------------------------------------------------------------------- changes


_SIGNS = {"Add": "+", "Modify": "~", "Remove": "-", "Import": ">", "Dynamic": "?"}


def change_lines(changes: Sequence[ResourceChange]) -> list[str]:
    """One aligned line per resource change, terraform-plan style."""
    if not changes:
        return []
    id_width = max(len(c.logical_id) for c in changes)
    type_width = max(len(c.resource_type) for c in changes)
    lines = []
    for change in changes:
        sign = _SIGNS.get(change.action, "?")
        notes = []
        if change.replacement == "True":
            sign = "!"
            notes.append("replaced")
        elif change.replacement == "Conditional":
            notes.append("may be replaced")
        if change.details:
            notes.append(", ".join(change.details))
        suffix = f"  ({'; '.join(notes)})" if notes else ""
        line = f"{sign} {change.logical_id:<{id_width}}  {change.resource_type:<{type_width}}{suffix}"
        lines.append(line.rstrip())
    return lines


def change_summary(changes: Sequence[ResourceChange]) -> str:
    added = sum(1 for c in changes if c.action in {"Add", "Import"})
    removed = sum(1 for c in changes if c.action == "Remove")
    modified = [c for c in changes if c.action in {"Modify", "Dynamic"}]
    replaced = sum(1 for c in modified if c.replacement == "True")
    text = f"{added} to add, {len(modified)} to change, {removed} to remove"
    if replaced:
        text += f" ({replaced} replaced)"
    return text


# ----------------------------------------------------------------------------- events


def take_unseen(page: Sequence[StackEvent], known: set[str]) -> tuple[list[StackEvent], bool]:
    """Events of a newest-first page up to the first one already seen; True when one was reached."""
    fresh: list[StackEvent] = []
    for event in page:
        if event.event_id in known:
            return fresh, True
        fresh.append(event)
    return fresh, False


class StackProgress:
    """Counts resources that reached a final state, for the `[done/total]` in front of each event."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._done: set[str] = set()

    def observe(self, event: StackEvent) -> None:
        if event.is_stack:
            return
        if event.status.endswith(("_COMPLETE", "_FAILED", "_SKIPPED")):
            self._done.add(event.logical_id)

    @property
    def done(self) -> int:
        return len(self._done)

    def line(self, event: StackEvent) -> str:
        self.observe(event)
        parts = [event.timestamp.strftime("%H:%M:%S") if event.timestamp else "--:--:--"]
        if self.total:
            width = len(str(self.total))
            parts.append(f"[{min(self.done, self.total):>{width}}/{self.total}]")
        parts.append(f"{event.status:<28} {event.logical_id} ({event.resource_type})")
        text = " ".join(parts)
        if event.reason:
            text += f": {event.reason}"
        return text


def failures(events: Iterable[StackEvent]) -> list[Failure]:
    """The resources that failed, root causes first, each once.

    'Resource creation cancelled' follows from another resource's failure, so it is left out
    unless it is all there is.
    """
    found: dict[str, Failure] = {}
    cancelled: dict[str, Failure] = {}
    stack_level: list[Failure] = []
    for event in events:
        if not event.status.endswith("_FAILED") or not event.reason:
            continue
        failure = Failure(event.logical_id, event.resource_type, event.status, event.reason)
        if event.is_stack:
            stack_level.append(failure)
        elif _CANCELLED.search(event.reason):
            cancelled.setdefault(event.logical_id, failure)
        else:
            found.setdefault(event.logical_id, failure)
    if found:
        return list(found.values())
    if cancelled:
        return list(cancelled.values())
    return stack_level[:1]


def skipped(events: Iterable[StackEvent]) -> list[str]:
    """Logical ids CloudFormation left in place on delete (DeletionPolicy Retain)."""
    ids = []
    for event in events:
        if event.status == "DELETE_SKIPPED" and event.logical_id not in ids:
            ids.append(event.logical_id)
    return ids


def failure_message(stack_name: str, status: str, found: Sequence[Failure], status_reason: str | None) -> str:
    reasons = "; ".join(f.line() for f in found[:3]) or status_reason or "no reason given"
    message = f"stack {stack_name} {status}: {reasons}"
    if status in _NEEDS_DELETE:
        message += f" (delete it with `releasectl infra destroy --stack-name {stack_name} --yes` first)"
    return message


def diff_lines(stack_name: str, kind: str, changes: Sequence[ResourceChange]) -> list[str]:
    if not changes:
        return [f"stack {stack_name}: no changes"]
    verb = "would be created" if kind == "CREATE" else "would change"
    return [f"stack {stack_name} {verb}: {change_summary(changes)}", *change_lines(changes)]


# ----------------------------------------------------------------------------- outputs


def output_lines(outputs: Mapping[str, str]) -> list[str]:
    width = max((len(k) for k in outputs), default=0)
    return [f"{key:<{width}}  {value}" for key, value in sorted(outputs.items())]


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def config_values(outputs: Mapping[str, str]) -> dict[str, str]:
    """The outputs whose snake_case name is a [tool.releasectl] key (EcsCluster → ecs_cluster)."""
    by_key = {snake_case(k): v for k, v in outputs.items() if v}
    return {key: by_key[key] for key in KEYS if key in by_key}


def env_exports(values: Mapping[str, str]) -> list[str]:
    return [f"export {ENV_PREFIX}{key.upper()}={shlex.quote(value)}" for key, value in values.items()]


def update_pyproject(text: str, values: Mapping[str, str]) -> str:
    """`text` with `values` set in [tool.releasectl], and everything else as it was.

    Existing keys keep their place and trailing comment, new ones are added at the end of the
    section, and a missing section is appended.
    """
    # Only this command edits TOML: the editor is kept off every other command's start-up.
    import tomlkit

    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"pyproject.toml is not valid TOML ({exc}); not touching it") from None
    if text and not text.endswith("\n"):
        text += "\n"
    document = tomlkit.parse(text)
    tool = document.setdefault("tool", tomlkit.table(is_super_table=True))
    section = tool.setdefault("releasectl", tomlkit.table()) if isinstance(tool, MutableMapping) else None
    if not isinstance(section, MutableMapping):
        raise UsageError(
            "tool.releasectl in pyproject.toml is not a table, so nothing can be set in it; "
            "the file was not changed",
            hint="set them by hand, or use `releasectl infra outputs --exports`",
        )
    section.update(values)
    return tomlkit.dumps(document)
