"""The CloudFormation calls `releasectl infra` makes.

Responses become the plain records of releasectl.core.changeset; botocore errors become one-line
errors through aws_errors. No waiters: callers poll with the context's clock.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from releasectl.adapters.aws.clients import aws_errors, each_page, error_code
from releasectl.core.changeset import (
    CAPABILITIES,
    ChangeSet,
    ResourceChange,
    Stack,
    StackEvent,
    TemplateParameter,
    take_unseen,
)
from releasectl.core.errors import UsageError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.literals import ChangeSetTypeType
    from mypy_boto3_cloudformation.type_defs import ChangeTypeDef, ParameterTypeDef, StackEventTypeDef

# More pages than this of unseen events in one poll means the baseline was lost; stop reading history.
_MAX_EVENT_PAGES = 20


class NoChanges(Exception):
    """create_change_set refused outright because nothing would change (moto does this)."""


def _message(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Message", "")) or str(exc)


def _does_not_exist(exc: BaseException) -> bool:
    return error_code(exc) == "ValidationError" and "does not exist" in _message(exc)


class CloudFormationStacks:
    def __init__(self, client: CloudFormationClient) -> None:
        self.client = client

    # ------------------------------------------------------------------ stacks

    def describe(self, name_or_id: str) -> Stack | None:
        """The stack, or None if there is none by that name (or it was deleted)."""
        import botocore.exceptions

        with aws_errors(f"reading stack {name_or_id}"):
            try:
                response = self.client.describe_stacks(StackName=name_or_id)
            except botocore.exceptions.ClientError as exc:
                if _does_not_exist(exc):
                    return None
                raise
        stacks = response.get("Stacks") or []
        if not stacks:
            return None
        raw = stacks[0]
        return Stack(
            name=raw["StackName"],
            stack_id=raw["StackId"],
            status=raw["StackStatus"],
            status_reason=raw.get("StackStatusReason"),
            parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in raw.get("Parameters") or []},
            outputs={o["OutputKey"]: o.get("OutputValue", "") for o in raw.get("Outputs") or []},
        )

    def template_parameters(self, body: str, *, url: str | None = None) -> list[TemplateParameter]:
        """The template's parameters; read from `url` (S3) when given, else sent as the body."""
        import botocore.exceptions

        with aws_errors("reading the template's parameters"):
            try:
                response = (
                    self.client.get_template_summary(TemplateURL=url)
                    if url
                    else self.client.get_template_summary(TemplateBody=body)
                )
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) == "ValidationError":
                    raise UsageError(
                        f"CloudFormation rejects the template: {_message(exc)}",
                        hint="check it with `cfn-lint infra/*.yaml`",
                    ) from None
                raise
        return [
            TemplateParameter(key=p["ParameterKey"], default=p.get("DefaultValue"))
            for p in response.get("Parameters") or []
        ]

    def resource_count(self, stack_id: str) -> int:
        pages = self.client.get_paginator("list_stack_resources").paginate(StackName=stack_id)
        guard = functools.partial(aws_errors, f"listing the resources of stack {stack_id}")
        return sum(len(page.get("StackResourceSummaries") or []) for page in each_page(pages, guard))

    def delete_stack(self, stack_id: str) -> None:
        with aws_errors(f"deleting stack {stack_id}"):
            self.client.delete_stack(StackName=stack_id)

    # ------------------------------------------------------------------ change sets

    def create_change_set(
        self,
        *,
        stack_name: str,
        change_set_name: str,
        body: str,
        parameters: Sequence[Mapping[str, Any]],
        kind: ChangeSetTypeType,
        url: str | None = None,
    ) -> tuple[str, str]:
        """(change set id, stack id), the template read from `url` (S3) when given, else sent as the
        body. Raises NoChanges when the service refuses for lack of changes."""
        import botocore.exceptions

        from releasectl.core.changeset import is_no_change_reason

        template: dict[str, Any] = {"TemplateURL": url} if url else {"TemplateBody": body}
        with aws_errors(f"creating a change set for stack {stack_name}"):
            try:
                response = self.client.create_change_set(
                    StackName=stack_name,
                    ChangeSetName=change_set_name,
                    ChangeSetType=kind,
                    **template,
                    # Built by the core in the API's own shape (plan_parameters).
                    Parameters=cast("list[ParameterTypeDef]", list(parameters)),
                    Capabilities=list(CAPABILITIES),
                    Description="releasectl infra",
                )
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) == "ValidationError":
                    if is_no_change_reason(_message(exc)):
                        raise NoChanges(_message(exc)) from None
                    raise UsageError(
                        f"CloudFormation rejects the change set for stack {stack_name}: {_message(exc)}",
                        hint="check the template (cfn-lint) and the --parameter values",
                    ) from None
                raise
        return response["Id"], response["StackId"]

    def describe_change_set(self, change_set_id: str) -> ChangeSet:
        paginator = self.client.get_paginator("describe_change_set")
        guard = functools.partial(aws_errors, f"reading change set {change_set_id}")
        pages = list(each_page(paginator.paginate(ChangeSetName=change_set_id), guard))
        # Every page repeats the change set's status; the changes are spread over them.
        last = pages[-1]
        changes = (_resource_change(raw) for page in pages for raw in page.get("Changes") or [])
        return ChangeSet(
            change_set_id=change_set_id,
            status=last.get("Status", ""),
            status_reason=last.get("StatusReason"),
            execution_status=last.get("ExecutionStatus"),
            changes=tuple(change for change in changes if change is not None),
        )

    def execute_change_set(self, change_set_id: str) -> None:
        with aws_errors(f"executing change set {change_set_id}"):
            self.client.execute_change_set(ChangeSetName=change_set_id)

    def delete_change_set(self, change_set_id: str) -> None:
        with aws_errors(f"deleting change set {change_set_id}"):
            self.client.delete_change_set(ChangeSetName=change_set_id)

    # ------------------------------------------------------------------ events

    def recent_event_ids(self, stack_id: str) -> set[str]:
        """Ids of the newest page of events: the baseline before an operation starts."""
        with aws_errors(f"reading the events of stack {stack_id}"):
            response = self.client.describe_stack_events(StackName=stack_id)
        return {str(e["EventId"]) for e in response.get("StackEvents") or []}

    def events_since(self, stack_id: str, known: set[str]) -> list[StackEvent]:
        """Events not in `known`, newest first; pages only as far back as the first known one."""
        pages = self.client.get_paginator("describe_stack_events").paginate(StackName=stack_id)
        guard = functools.partial(aws_errors, f"reading the events of stack {stack_id}")
        fresh: list[StackEvent] = []
        # The paginator fetches a page only when asked for it, so stopping here stops the calls.
        for page in itertools.islice(each_page(pages, guard), _MAX_EVENT_PAGES):
            unseen, reached = take_unseen([_event(e) for e in page.get("StackEvents") or []], known)
            fresh.extend(unseen)
            if reached:
                break
        return fresh


def _resource_change(raw: ChangeTypeDef) -> ResourceChange | None:
    change = raw.get("ResourceChange")
    if raw.get("Type", "Resource") != "Resource" or not change:
        return None
    details = []
    for detail in change.get("Details") or []:
        name = (detail.get("Target") or {}).get("Name")
        if name and name not in details:
            details.append(name)
    return ResourceChange(
        action=change.get("Action", ""),
        logical_id=change.get("LogicalResourceId", ""),
        resource_type=change.get("ResourceType", ""),
        replacement=change.get("Replacement"),
        details=tuple(details),
    )


def _event(raw: StackEventTypeDef) -> StackEvent:
    return StackEvent(
        event_id=str(raw["EventId"]),
        timestamp=raw.get("Timestamp"),
        logical_id=raw.get("LogicalResourceId", ""),
        resource_type=raw.get("ResourceType", ""),
        status=raw.get("ResourceStatus", ""),
        reason=raw.get("ResourceStatusReason"),
    )
