"""What the release role may do for a release's migration and its failure evidence
(infra/releasectl.yaml, docs/operations.md): run one-off tasks of staging's family in staging's cluster
only, stop tasks of that cluster, read the service's log group and the target health."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.project.test_template import (
    FAMILY_REVISIONS,
    TEMPLATE,
    CfnLoader,
    as_list,
    cluster_arn,
    role_actions,
    role_statements,
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)  # a SafeLoader subclass


def statements_with(template: dict[str, Any], role: str, action: str) -> list[dict[str, Any]]:
    return [s for s in role_statements(template, role) if action in as_list(s["Action"])]


def test_the_release_role_runs_one_off_tasks_of_its_family_in_its_cluster_only(
    template: dict[str, Any],
) -> None:
    (statement,) = statements_with(template, "CodeBuildRole", "ecs:RunTask")
    assert as_list(statement["Resource"]) == [FAMILY_REVISIONS]
    assert statement["Condition"] == {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": ["Cluster", "Arn"]}}}
    (stop,) = statements_with(template, "CodeBuildRole", "ecs:StopTask")
    assert as_list(stop["Resource"]) == [cluster_arn("task")]


def test_the_release_role_reads_the_services_log_group_and_nothing_else_of_logs(
    template: dict[str, Any],
) -> None:
    (statement,) = statements_with(template, "CodeBuildRole", "logs:FilterLogEvents")
    assert set(as_list(statement["Action"])) == {"logs:GetLogEvents", "logs:FilterLogEvents"}
    assert as_list(statement["Resource"]) == [{"Fn::GetAtt": ["AppLogGroup", "Arn"]}]


def test_only_the_release_role_runs_tasks(template: dict[str, Any]) -> None:
    assert "ecs:RunTask" in role_actions(template, "CodeBuildRole")
    for role in ("DeployRole", "DeployProjectRole", "TestBuildRole", "PipelineRole"):
        assert "ecs:RunTask" not in role_actions(template, role), role
