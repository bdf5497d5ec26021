"""The change-set flow of `releasectl infra`: against moto for what it models, scripted for the rest.

moto creates, updates and deletes stacks of simple resource types through change sets, but every
operation completes at once with stack-level events only, and executed change sets keep no outputs.
Failures, rollbacks, event streams over time and pending change sets are scripted with a small
fake client that replays what CloudFormation returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from releasectl.adapters.aws.clients import AwsClients
from releasectl.adapters.aws.cloudformation import CloudFormationStacks
from releasectl.commands import infra
from releasectl.commands.context import Context, RecordingReporter
from releasectl.core.changeset import (
    TEMPLATE_BODY_LIMIT,
    ResourceChange,
    StackEvent,
    StackProgress,
    change_lines,
    change_summary,
    failures,
)
from releasectl.core.clock import FakeClock
from releasectl.core.config import Config
from releasectl.core.errors import Conflict, EnvironmentProblem, ExitCode, Interrupted, OperationFailed
from releasectl.core.result import Outcome
from tests.support.moto_fixtures import infra_context
from tests.support.paging import botocore_paginator

SMALL_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Retention:
    Type: Number
    Default: 7
Resources:
  Artifacts:
    Type: AWS::S3::Bucket
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: /test/infra
      RetentionInDays: !Ref Retention
  Repository:
    Type: AWS::ECR::Repository
    Properties:
      RepositoryName: infra-test
Outputs:
  EcrRepository:
    Value: !Ref Repository
"""
EXTRA_RESOURCE = "  Extra:\n    Type: AWS::S3::Bucket\n"


# ----------------------------------------------------------------------------- moto


@pytest.fixture
def moto_ctx(tmp_path: Path) -> Iterator[Context]:
    with infra_context(tmp_path, SMALL_TEMPLATE) as ctx:
        yield ctx


def cfn_client() -> Any:
    return boto3.client("cloudformation", region_name="us-east-1")


def pending_change_sets(stack: str) -> list[str]:
    summaries = cfn_client().list_change_sets(StackName=stack)["Summaries"]
    return [s["ChangeSetName"] for s in summaries if s["ExecutionStatus"] != "EXECUTE_COMPLETE"]


def test_deploy_creates_the_stack_through_a_create_change_set(moto_ctx: Context) -> None:
    result = infra.deploy(moto_ctx, stack_name="app")

    assert result.outcome is Outcome.SUCCEEDED and result.exit_code == ExitCode.OK
    assert result.extra["change_set_type"] == "CREATE"
    assert {c["logical_id"] for c in result.extra["changes"]} == {"Artifacts", "Logs", "Repository"}
    stack = cfn_client().describe_stacks(StackName="app")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    repositories = boto3.client("ecr", region_name="us-east-1").describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in repositories] == ["infra-test"]


def test_deploy_streams_the_stack_events_to_the_reporter(moto_ctx: Context) -> None:
    infra.deploy(moto_ctx, stack_name="app")

    lines = moto_ctx.reporter.texts("info")  # type: ignore[attr-defined]
    assert any("CREATE_COMPLETE" in line and "app (AWS::CloudFormation::Stack)" in line for line in lines)
    assert any(line.strip().startswith("+ Repository") for line in lines)


def test_second_deploy_without_changes_is_a_noop_with_no_change_set_left(moto_ctx: Context) -> None:
    infra.deploy(moto_ctx, stack_name="app")

    again = infra.deploy(moto_ctx, stack_name="app")

    assert again.outcome is Outcome.NOOP and again.exit_code == ExitCode.OK
    assert pending_change_sets("app") == []


def test_update_keeps_parameters_it_was_not_given(moto_ctx: Context) -> None:
    infra.deploy(moto_ctx, stack_name="app", parameters=["Retention=14"])
    template = moto_ctx.cwd / "infra" / "releasectl.yaml"
    template.write_text(SMALL_TEMPLATE.replace("Resources:\n", "Resources:\n" + EXTRA_RESOURCE))

    result = infra.deploy(moto_ctx, stack_name="app")

    assert result.outcome is Outcome.SUCCEEDED and result.extra["change_set_type"] == "UPDATE"
    parameters = cfn_client().describe_stacks(StackName="app")["Stacks"][0]["Parameters"]
    assert parameters == [{"ParameterKey": "Retention", "ParameterValue": "14"}]


def test_diff_shows_the_changes_and_deletes_its_change_set(moto_ctx: Context) -> None:
    infra.deploy(moto_ctx, stack_name="app")
    template = moto_ctx.cwd / "infra" / "releasectl.yaml"
    template.write_text(SMALL_TEMPLATE.replace("Resources:\n", "Resources:\n" + EXTRA_RESOURCE))

    view = infra.diff(moto_ctx, stack_name="app")

    assert view.kind == "UPDATE"
    assert [c.logical_id for c in view.changes if c.action == "Add"] == ["Extra"]
    assert pending_change_sets("app") == []
    assert cfn_client().describe_stacks(StackName="app")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_diff_of_a_new_stack_leaves_no_stack_behind(moto_ctx: Context) -> None:
    view = infra.diff(moto_ctx, stack_name="fresh")

    assert view.kind == "CREATE" and len(view.changes) == 3
    live = [
        s["StackName"]
        for s in cfn_client().list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert "fresh" not in live


def test_diff_without_changes_reports_none(moto_ctx: Context) -> None:
    infra.deploy(moto_ctx, stack_name="app")

    view = infra.diff(moto_ctx, stack_name="app")

    assert view.changes == [] and view.to_json()["changes"] == []


def test_destroy_deletes_the_stack_and_a_second_destroy_is_a_noop(moto_ctx: Context) -> None:
    infra.deploy(moto_ctx, stack_name="app")

    result = infra.destroy(moto_ctx, stack_name="app", yes=True)
    again = infra.destroy(moto_ctx, stack_name="app", yes=True)

    assert result.outcome is Outcome.SUCCEEDED and result.extra["stack_status"] == "DELETE_COMPLETE"
    assert again.outcome is Outcome.NOOP


# ----------------------------------------------------------------------------- scripted


T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/app/0001"


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def event(
    n: int, logical_id: str, status: str, reason: str | None = None, kind: str = "AWS::S3::Bucket"
) -> dict:
    raw = {
        "EventId": f"e{n}",
        "StackId": STACK_ID,
        "StackName": "app",
        "LogicalResourceId": logical_id,
        "ResourceType": kind,
        "ResourceStatus": status,
        "Timestamp": T0 + timedelta(seconds=n),
    }
    if reason:
        raw["ResourceStatusReason"] = reason
    return raw


def stack_event(n: int, status: str, reason: str | None = None) -> dict:
    return event(n, "app", status, reason, kind="AWS::CloudFormation::Stack")


class ScriptedCloudFormation:
    """Replays CloudFormation: each describe_stacks after the operation starts moves one step on.

    A step is (stack status, events that happened by then). Events come back newest first in
    pages of `page_size`, as describe_stack_events does.
    """

    def __init__(
        self,
        *,
        status: str | None = "UPDATE_COMPLETE",
        parameters: dict[str, str] | None = None,
        outputs: dict[str, str] | None = None,
        declared: tuple[str, ...] = ("DesiredCount",),
        defaults: dict[str, str] | None = None,
        change_set: list[tuple[str, str | None]] | None = None,
        changes: list[dict] | None = None,
        steps: list[tuple[str, list[dict]]] | None = None,
        history: list[dict] | None = None,
        page_size: int = 2,
    ) -> None:
        self.status = status
        self.parameters = parameters or {"DesiredCount": "2"}
        self.outputs = outputs or {}
        self.declared = declared
        self.defaults = defaults or {}
        self.change_set_states = change_set or [("CREATE_COMPLETE", None)]
        self.changes = changes if changes is not None else [change("Modify", "Service", "AWS::ECS::Service")]
        self.steps = steps or []
        self.events: list[dict] = list(history or [stack_event(0, "UPDATE_COMPLETE")])
        self.page_size = page_size
        self.change_set_page_size = 1000  # describe_change_set pages its changes too
        self.started = False
        self.calls: list[tuple[str, dict]] = []
        self.deleted_change_sets: list[str] = []
        self.created_parameters: list[dict] = []

    def _call(self, name: str, kwargs: dict) -> None:
        self.calls.append((name, kwargs))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def describe_stacks(self, **kwargs: Any) -> dict:
        self._call("describe_stacks", kwargs)
        if self.started and self.steps:
            status, new_events = self.steps.pop(0)
            self.status = status
            self.events.extend(new_events)
        if self.status is None:
            raise client_error(
                "ValidationError", f"Stack with id {kwargs['StackName']} does not exist", "DescribeStacks"
            )
        return {
            "Stacks": [
                {
                    "StackName": "app",
                    "StackId": STACK_ID,
                    "StackStatus": self.status,
                    "Parameters": [
                        {"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()
                    ],
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()],
                }
            ]
        }

    def get_template_summary(self, **kwargs: Any) -> dict:
        self._call("get_template_summary", {})
        return {
            "Parameters": [
                {"ParameterKey": k, "DefaultValue": self.defaults.get(k, "1")} for k in self.declared
            ]
        }

    def create_change_set(self, **kwargs: Any) -> dict:
        self._call("create_change_set", kwargs)
        self.created_parameters = kwargs["Parameters"]
        return {"Id": "cs-1", "StackId": STACK_ID}

    def describe_change_set(self, **kwargs: Any) -> dict:
        self._call("describe_change_set", kwargs)
        status, reason = (
            self.change_set_states.pop(0) if len(self.change_set_states) > 1 else self.change_set_states[0]
        )
        response: dict[str, Any] = {"Status": status, "ExecutionStatus": "AVAILABLE"}
        if reason:
            response["StatusReason"] = reason
        if status == "CREATE_COMPLETE":
            start = int(kwargs.get("NextToken", 0))
            response["Changes"] = self.changes[start : start + self.change_set_page_size]
            if start + self.change_set_page_size < len(self.changes):
                response["NextToken"] = str(start + self.change_set_page_size)
        return response

    def execute_change_set(self, **kwargs: Any) -> dict:
        self._call("execute_change_set", kwargs)
        self.started = True
        return {}

    def delete_change_set(self, **kwargs: Any) -> dict:
        self._call("delete_change_set", kwargs)
        self.deleted_change_sets.append(kwargs["ChangeSetName"])
        return {}

    def delete_stack(self, **kwargs: Any) -> dict:
        self._call("delete_stack", kwargs)
        self.started = True
        return {}

    def get_paginator(self, operation: str) -> Any:
        return botocore_paginator(self, "cloudformation", operation)

    def list_stack_resources(self, **kwargs: Any) -> dict:
        self._call("list_stack_resources", kwargs)
        return {"StackResourceSummaries": [{"LogicalResourceId": "Service"}, {"LogicalResourceId": "Bucket"}]}

    def describe_stack_events(self, **kwargs: Any) -> dict:
        self._call("describe_stack_events", kwargs)
        newest_first = list(reversed(self.events))
        start = int(kwargs.get("NextToken", 0))
        page = newest_first[start : start + self.page_size]
        response: dict[str, Any] = {"StackEvents": page}
        if start + self.page_size < len(newest_first):
            response["NextToken"] = str(start + self.page_size)
        return response


def change(action: str, logical_id: str, kind: str, replacement: str | None = None) -> dict:
    resource: dict[str, Any] = {"Action": action, "LogicalResourceId": logical_id, "ResourceType": kind}
    if replacement:
        resource["Replacement"] = replacement
    return {"Type": "Resource", "ResourceChange": resource}


def scripted_ctx(tmp_path: Path, cfn: ScriptedCloudFormation, ecr: Any = None) -> Context:
    """A context whose CloudFormation is `cfn` and whose ECR is `ecr` (none: no ECR call may be made)."""
    (tmp_path / "infra").mkdir(exist_ok=True)
    (tmp_path / "infra" / "releasectl.yaml").write_text(SMALL_TEMPLATE)
    clients = AwsClients(region="us-east-1", profile=None, endpoint_url=None)
    clients.set_client("cloudformation", cfn)
    clients.set_client("ecr", ecr if ecr is not None else NoAwsCalls())
    return Context(
        config=Config(region="us-east-1"),
        cwd=tmp_path,
        reporter=RecordingReporter(),
        clock=FakeClock(),
        _aws=clients,
    )


def test_failed_update_shows_the_failing_resources_reason_and_exits_1(tmp_path: Path) -> None:
    cfn = ScriptedCloudFormation(
        steps=[
            ("UPDATE_IN_PROGRESS", [stack_event(1, "UPDATE_IN_PROGRESS", "User Initiated")]),
            (
                "UPDATE_ROLLBACK_IN_PROGRESS",
                [
                    event(2, "Service", "UPDATE_IN_PROGRESS", kind="AWS::ECS::Service"),
                    event(
                        3,
                        "Service",
                        "UPDATE_FAILED",
                        "Invalid request provided: subnet-123 not found",
                        kind="AWS::ECS::Service",
                    ),
                    event(4, "Bucket", "UPDATE_FAILED", "Resource update cancelled"),
                    stack_event(
                        5,
                        "UPDATE_ROLLBACK_IN_PROGRESS",
                        "The following resource(s) failed to update: [Service]",
                    ),
                ],
            ),
            ("UPDATE_ROLLBACK_COMPLETE", [stack_event(6, "UPDATE_ROLLBACK_COMPLETE")]),
        ]
    )
    ctx = scripted_ctx(tmp_path, cfn)

    result = infra.deploy(ctx, stack_name="app")

    assert result.outcome is Outcome.ROLLED_BACK and result.exit_code == ExitCode.FAILED
    assert (
        "Service (AWS::ECS::Service) UPDATE_FAILED: Invalid request provided: subnet-123 not found"
        in result.message
    )
    assert "cancelled" not in result.message
    assert result.extra["failures"] == [
        {
            "logical_id": "Service",
            "resource_type": "AWS::ECS::Service",
            "status": "UPDATE_FAILED",
            "reason": "Invalid request provided: subnet-123 not found",
        }
    ]
    assert any("subnet-123 not found" in w for w in ctx.reporter.texts("warn"))  # type: ignore[attr-defined]


def test_failed_create_says_to_destroy_before_deploying_again(tmp_path: Path) -> None:
    cfn = ScriptedCloudFormation(
        status=None,
        history=[stack_event(0, "REVIEW_IN_PROGRESS", "User Initiated")],
        steps=[
            ("CREATE_IN_PROGRESS", [event(1, "Bucket", "CREATE_FAILED", "Bucket name already exists")]),
            ("ROLLBACK_COMPLETE", [stack_event(2, "ROLLBACK_COMPLETE")]),
        ],
    )
    ctx = scripted_ctx(tmp_path, cfn)

    result = infra.deploy(ctx, stack_name="app")

    assert result.outcome is Outcome.ROLLED_BACK and result.exit_code == ExitCode.FAILED
    assert "Bucket name already exists" in result.message
    assert "releasectl infra destroy --stack-name app --yes" in result.message


def test_new_events_are_read_back_only_as_far_as_the_first_known_page() -> None:
    cfn = ScriptedCloudFormation(history=[stack_event(n, "UPDATE_IN_PROGRESS") for n in range(10)])
    known = {"e0", "e1", "e2", "e3", "e4", "e5"}

    fresh = CloudFormationStacks(cfn).events_since(STACK_ID, known)

    assert [e.event_id for e in fresh] == ["e9", "e8", "e7", "e6"]
    # Pages of two, newest first: e9 e8 | e7 e6 | e5 e4 reaches a known event; nothing older is read.
    assert cfn.names().count("describe_stack_events") == 3


def test_a_change_set_spread_over_pages_is_read_whole() -> None:
    changes = [change("Add", f"Bucket{n}", "AWS::S3::Bucket") for n in range(5)]
    cfn = ScriptedCloudFormation(changes=changes)
    cfn.change_set_page_size = 2

    change_set = CloudFormationStacks(cfn).describe_change_set("cs-1")

    assert [c.logical_id for c in change_set.changes] == [f"Bucket{n}" for n in range(5)]
    assert change_set.status == "CREATE_COMPLETE"
    assert cfn.names().count("describe_change_set") == 3


def test_each_event_is_streamed_once_in_order_with_progress(tmp_path: Path) -> None:
    cfn = ScriptedCloudFormation(
        changes=[
            change("Add", "Bucket", "AWS::S3::Bucket"),
            change("Modify", "Service", "AWS::ECS::Service"),
        ],
        steps=[
            ("UPDATE_IN_PROGRESS", [stack_event(1, "UPDATE_IN_PROGRESS", "User Initiated")]),
            ("UPDATE_IN_PROGRESS", []),
            (
                "UPDATE_IN_PROGRESS",
                [
                    event(2, "Bucket", "CREATE_IN_PROGRESS"),
                    event(3, "Bucket", "CREATE_COMPLETE"),
                    event(4, "Service", "UPDATE_IN_PROGRESS", kind="AWS::ECS::Service"),
                ],
            ),
            (
                "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
                [event(5, "Service", "UPDATE_COMPLETE", kind="AWS::ECS::Service")],
            ),
            ("UPDATE_COMPLETE", [stack_event(6, "UPDATE_COMPLETE")]),
        ],
    )
    ctx = scripted_ctx(tmp_path, cfn)

    result = infra.deploy(ctx, stack_name="app")

    assert result.outcome is Outcome.SUCCEEDED
    streamed = [line for line in ctx.reporter.texts("info") if line.startswith("12:00:")]  # type: ignore[attr-defined]
    assert [line.split()[0] for line in streamed] == [f"12:00:0{n}" for n in range(1, 7)]
    assert "[1/2] CREATE_COMPLETE" in streamed[2] and "[2/2] UPDATE_COMPLETE" in streamed[4]
    assert not any("12:00:00" in line for line in streamed), "events from before the deploy are not replayed"


def test_waiting_polls_with_the_clock_at_most_about_one_call_per_second(tmp_path: Path) -> None:
    steps = [("UPDATE_IN_PROGRESS", []) for _ in range(30)] + [
        ("UPDATE_COMPLETE", [stack_event(1, "UPDATE_COMPLETE")])
    ]
    cfn = ScriptedCloudFormation(steps=steps)
    ctx = scripted_ctx(tmp_path, cfn)

    infra.deploy(ctx, stack_name="app")

    clock: FakeClock = ctx.clock  # type: ignore[assignment]
    polls = cfn.names().count("describe_stacks") + cfn.names().count("describe_stack_events")
    assert clock.t > 0 and polls / clock.t <= 1.0
    assert max(clock.sleeps) <= 12.0


def test_change_set_that_did_not_contain_changes_is_a_noop_and_deleted(tmp_path: Path) -> None:
    reason = (
        "The submitted information didn't contain changes. "
        "Submit different information to create a change set."
    )
    cfn = ScriptedCloudFormation(change_set=[("CREATE_PENDING", None), ("FAILED", reason)])
    ctx = scripted_ctx(tmp_path, cfn)

    result = infra.deploy(ctx, stack_name="app")

    assert result.outcome is Outcome.NOOP and result.exit_code == ExitCode.OK
    assert cfn.deleted_change_sets == ["cs-1"]
    assert "execute_change_set" not in cfn.names()


def test_change_set_failing_for_another_reason_exits_1_and_is_deleted(tmp_path: Path) -> None:
    cfn = ScriptedCloudFormation(
        change_set=[("FAILED", "Template error: instance of Fn::GetAtt references undefined resource X")]
    )
    ctx = scripted_ctx(tmp_path, cfn)

    with pytest.raises(OperationFailed, match="undefined resource X") as caught:
        infra.deploy(ctx, stack_name="app")

    assert caught.value.exit_code == ExitCode.FAILED
    assert cfn.deleted_change_sets == ["cs-1"]


def test_pending_change_set_is_waited_for_with_the_clock(tmp_path: Path) -> None:
    cfn = ScriptedCloudFormation(
        change_set=[("CREATE_PENDING", None), ("CREATE_IN_PROGRESS", None), ("CREATE_COMPLETE", None)],
        steps=[("UPDATE_COMPLETE", [stack_event(1, "UPDATE_COMPLETE")])],
    )
    ctx = scripted_ctx(tmp_path, cfn)

    result = infra.deploy(ctx, stack_name="app")

    assert result.outcome is Outcome.SUCCEEDED
    assert cfn.names().count("describe_change_set") == 3
    assert len(ctx.clock.sleeps) >= 2  # type: ignore[attr-defined]


def test_deploy_that_outlasts_its_timeout_exits_3_with_the_last_status(tmp_path: Path) -> None:
    cfn = ScriptedCloudFormation(steps=[("UPDATE_IN_PROGRESS", []) for _ in range(500)])
    ctx = scripted_ctx(tmp_path, cfn)

    result = infra.deploy(ctx, stack_name="app", timeout=60)

    assert result.outcome is Outcome.TIMED_OUT and result.exit_code == ExitCode.TIMED_OUT
    assert "still UPDATE_IN_PROGRESS after 60s" in result.message
    assert ctx.clock.now() <= 61  # type: ignore[attr-defined]


def test_interrupting_the_wait_says_what_was_in_flight_and_exits_130(tmp_path: Path) -> None:
    cfn = ScriptedCloudFormation(
        steps=[("UPDATE_IN_PROGRESS", [event(1, "Service", "UPDATE_IN_PROGRESS", kind="AWS::ECS::Service")])]
    )
    ctx = scripted_ctx(tmp_path, cfn)

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    ctx.clock.sleep = interrupt  # type: ignore[method-assign]

    with pytest.raises(Interrupted) as caught:
        infra.deploy(ctx, stack_name="app")

    assert caught.value.exit_code == ExitCode.INTERRUPTED
    assert (
        "stack app (last event: Service UPDATE_IN_PROGRESS); CloudFormation carries on"
        in caught.value.message
    )


def test_deploy_refuses_a_stack_whose_creation_rolled_back(tmp_path: Path) -> None:
    cfn = ScriptedCloudFormation(status="ROLLBACK_COMPLETE")
    ctx = scripted_ctx(tmp_path, cfn)

    with pytest.raises(EnvironmentProblem, match="ROLLBACK_COMPLETE") as caught:
        infra.deploy(ctx, stack_name="app")

    assert "releasectl infra destroy" in (caught.value.hint or "")
    assert "create_change_set" not in cfn.names()


def test_deploy_refuses_while_another_operation_runs_with_exit_5(tmp_path: Path) -> None:
    cfn = ScriptedCloudFormation(status="UPDATE_IN_PROGRESS")
    ctx = scripted_ctx(tmp_path, cfn)

    with pytest.raises(Conflict) as caught:
        infra.deploy(ctx, stack_name="app")

    assert caught.value.exit_code == ExitCode.CONFLICT


def test_destroy_failure_shows_the_reason_and_exits_1(tmp_path: Path) -> None:
    cfn = ScriptedCloudFormation(
        steps=[
            ("DELETE_IN_PROGRESS", [stack_event(1, "DELETE_IN_PROGRESS", "User Initiated")]),
            (
                "DELETE_FAILED",
                [
                    event(2, "Bucket", "DELETE_FAILED", "The bucket you tried to delete is not empty"),
                    stack_event(3, "DELETE_FAILED", "The following resource(s) failed to delete: [Bucket]"),
                ],
            ),
        ]
    )
    ctx = scripted_ctx(tmp_path, cfn)

    result = infra.destroy(ctx, stack_name="app", yes=True)

    assert result.outcome is Outcome.FAILED and result.exit_code == ExitCode.FAILED
    assert (
        "Bucket (AWS::S3::Bucket) DELETE_FAILED: The bucket you tried to delete is not empty"
        in result.message
    )


def test_destroy_names_the_resources_it_kept(tmp_path: Path) -> None:
    cfn = ScriptedCloudFormation(
        steps=[
            (
                "DELETE_COMPLETE",
                [
                    event(1, "ReleaseRepository", "DELETE_SKIPPED", kind="AWS::ECR::Repository"),
                    stack_event(2, "DELETE_COMPLETE"),
                ],
            )
        ]
    )
    ctx = scripted_ctx(tmp_path, cfn)

    result = infra.destroy(ctx, stack_name="app", yes=True)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.extra["retained"] == ["ReleaseRepository"]
    assert "kept by their DeletionPolicy: ReleaseRepository" in result.message


# ----------------------------------------------------------------------------- a kept release repository


class NoAwsCalls:
    """A client that fails the test if anything reaches it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected AWS call: {name}")


TOOLS_DEFAULTS = {"AppName": "hello-world", "EnvironmentName": "staging", "ExistingReleaseRepository": ""}


def new_stack() -> ScriptedCloudFormation:
    """No stack yet; the template declares what infra/releasectl.yaml does about the release repository."""
    return ScriptedCloudFormation(
        status=None,
        declared=tuple(TOOLS_DEFAULTS),
        defaults=TOOLS_DEFAULTS,
        history=[stack_event(0, "REVIEW_IN_PROGRESS", "User Initiated")],
        steps=[("CREATE_COMPLETE", [stack_event(1, "CREATE_COMPLETE")])],
    )


def ecr_calls(aws: AwsClients) -> list[str]:
    seen: list[str] = []
    aws.call_hooks.append(lambda service, operation: seen.append(f"{service}:{operation}"))
    return seen


def test_a_new_stack_uses_the_release_repository_an_earlier_stack_kept(
    tmp_path: Path, aws: AwsClients
) -> None:
    aws.client("ecr").create_repository(repositoryName="hello-world")
    seen = ecr_calls(aws)
    cfn = new_stack()
    ctx = scripted_ctx(tmp_path, cfn, ecr=aws.client("ecr"))

    result = infra.deploy(ctx, stack_name="app")

    assert result.outcome is Outcome.SUCCEEDED
    assert cfn.created_parameters == [
        {"ParameterKey": "ExistingReleaseRepository", "ParameterValue": "hello-world"}
    ]
    assert result.extra["derived_parameters"] == {"ExistingReleaseRepository": "hello-world"}
    assert seen == ["ecr:DescribeRepositories"]
    said = ctx.reporter.texts("info")  # type: ignore[attr-defined]
    assert any("release repository hello-world already exists" in line for line in said)


def test_a_new_stack_creates_the_release_repository_when_none_was_kept(
    tmp_path: Path, aws: AwsClients
) -> None:
    seen = ecr_calls(aws)
    cfn = new_stack()
    ctx = scripted_ctx(tmp_path, cfn, ecr=aws.client("ecr"))

    result = infra.deploy(ctx, stack_name="app")

    assert result.outcome is Outcome.SUCCEEDED
    assert cfn.created_parameters == []  # every parameter takes its default: the stack creates it
    assert result.extra["derived_parameters"] == {}
    assert seen == ["ecr:DescribeRepositories"]


def test_a_stack_update_never_looks_for_a_kept_repository(tmp_path: Path) -> None:
    cfn = ScriptedCloudFormation(
        declared=tuple(TOOLS_DEFAULTS),
        defaults=TOOLS_DEFAULTS,
        parameters=dict(TOOLS_DEFAULTS),
        steps=[("UPDATE_COMPLETE", [stack_event(1, "UPDATE_COMPLETE")])],
    )
    ctx = scripted_ctx(tmp_path, cfn)  # any ECR call fails the test

    result = infra.deploy(ctx, stack_name="app")

    assert result.outcome is Outcome.SUCCEEDED
    assert {"ParameterKey": "ExistingReleaseRepository", "UsePreviousValue": True} in cfn.created_parameters


def test_a_new_prod_stack_does_not_look_for_the_release_repository(tmp_path: Path) -> None:
    cfn = new_stack()
    ctx = scripted_ctx(tmp_path, cfn)  # prod holds no repository: any ECR call fails the test

    result = infra.deploy(ctx, stack_name="app", parameters=["EnvironmentName=prod"])

    assert result.outcome is Outcome.SUCCEEDED
    assert cfn.created_parameters == [{"ParameterKey": "EnvironmentName", "ParameterValue": "prod"}]


def test_an_existing_release_repository_given_is_passed_as_given(tmp_path: Path) -> None:
    cfn = new_stack()
    ctx = scripted_ctx(tmp_path, cfn)

    infra.deploy(ctx, stack_name="app", parameters=["ExistingReleaseRepository=ledger"])

    assert cfn.created_parameters == [
        {"ParameterKey": "ExistingReleaseRepository", "ParameterValue": "ledger"}
    ]


# ----------------------------------------------------------------------------- templates over the limit


def padded(template: str) -> str:
    """`template` with comments enough to be over the inline limit."""
    padding = "".join(f"# padding line {n:05d} {'x' * 80}\n" for n in range(600))
    body = template + padding
    assert len(body.encode()) > TEMPLATE_BODY_LIMIT
    return body


def test_a_template_too_large_to_send_inline_is_read_from_the_accounts_template_bucket(
    tmp_path: Path,
) -> None:
    bucket = "releasectl-templates-123456789012-us-east-1"  # moto's account
    with infra_context(tmp_path, padded(SMALL_TEMPLATE)) as ctx:
        result = infra.deploy(ctx, stack_name="app")
        s3 = boto3.client("s3", region_name="us-east-1")
        (stored,) = s3.list_objects_v2(Bucket=bucket)["Contents"]
        blocked = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        deployed = cfn_client().get_template(StackName="app")["TemplateBody"]

    assert result.outcome is Outcome.SUCCEEDED
    assert stored["Key"].startswith("app/") and stored["Key"].endswith(".template")
    assert set(blocked.values()) == {True} and len(blocked) == 4
    assert [r["Expiration"]["Days"] for r in rules] == [7]
    assert "padding line 00599" in str(deployed)  # CloudFormation read the whole file from the bucket
    said = ctx.reporter.texts("info")  # type: ignore[attr-defined]
    assert any(f"reads it from https://{bucket}.s3.us-east-1.amazonaws.com/app/" in line for line in said)


class ForeignBucket:
    """S3 where the template bucket's name is taken by another account."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def head_bucket(self, **kwargs: Any) -> dict:
        self.calls.append("head_bucket")
        assert kwargs["ExpectedBucketOwner"] == "123456789012"
        raise client_error("403", "Forbidden", "HeadBucket")

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected S3 call: {name}")


class Sts:
    def get_caller_identity(self) -> dict:
        return {"Arn": "arn:aws:iam::123456789012:user/ops", "Account": "123456789012"}


def test_a_template_bucket_owned_by_another_account_is_never_written_to(tmp_path: Path) -> None:
    cfn = ScriptedCloudFormation()
    ctx = scripted_ctx(tmp_path, cfn)
    (tmp_path / "infra" / "releasectl.yaml").write_text(padded(SMALL_TEMPLATE))
    s3 = ForeignBucket()
    ctx.aws.set_client("s3", s3)
    ctx.aws.set_client("sts", Sts())

    with pytest.raises(EnvironmentProblem, match="does not own it") as caught:
        infra.deploy(ctx, stack_name="app")

    assert caught.value.exit_code == ExitCode.ENVIRONMENT
    assert s3.calls == ["head_bucket"]
    assert "create_change_set" not in cfn.names()


# ----------------------------------------------------------------------------- rendering


def test_change_lines_mark_replacements_and_align_columns() -> None:
    changes = [
        ResourceChange("Add", "Bucket", "AWS::S3::Bucket"),
        ResourceChange(
            "Modify", "TaskDefinition", "AWS::ECS::TaskDefinition", "True", ("ContainerDefinitions",)
        ),
        ResourceChange("Remove", "Old", "AWS::SNS::Topic"),
    ]

    lines = change_lines(changes)

    assert lines[0].startswith("+ Bucket          AWS::S3::Bucket")
    assert lines[1] == "! TaskDefinition  AWS::ECS::TaskDefinition  (replaced; ContainerDefinitions)"
    assert lines[2].startswith("- Old ")
    assert change_summary(changes) == "1 to add, 1 to change, 1 to remove (1 replaced)"


def test_failures_fall_back_to_cancelled_resources_then_to_the_stack() -> None:
    cancelled = StackEvent(
        "1", T0, "Bucket", "AWS::S3::Bucket", "CREATE_FAILED", "Resource creation cancelled"
    )
    stack = StackEvent("2", T0, "app", "AWS::CloudFormation::Stack", "CREATE_FAILED", "quota exceeded")

    assert [f.logical_id for f in failures([cancelled, stack])] == ["Bucket"]
    assert [f.reason for f in failures([stack])] == ["quota exceeded"]


def test_progress_counts_each_resource_once() -> None:
    progress = StackProgress(2)
    progress.line(StackEvent("1", T0, "A", "AWS::S3::Bucket", "CREATE_COMPLETE"))
    line = progress.line(StackEvent("2", T0, "A", "AWS::S3::Bucket", "UPDATE_COMPLETE"))

    assert "[1/2]" in line
