"""`releasectl infra` against the sandbox: change sets that honour the template's Conditions, and
output that says what the sandbox's CloudFormation (moto) leaves out."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from releasectl_sandbox.sandbox import Sandbox
from tests.support.cli import run_cli
from tests.support.paths import ROOT
from tests.support.sandbox_projects import CONFIG, init_repo, project_config, service_files

TEMPLATE = str(ROOT / "infra" / "releasectl.yaml")
NAT = {
    "NatAddressA",
    "NatAddressB",
    "NatGatewayA",
    "NatGatewayB",
    "PrivateDefaultRouteA",
    "PrivateDefaultRouteB",
}
ENDPOINTS = {"EndpointSecurityGroup", "EcrApiEndpoint", "EcrDockerEndpoint", "LogsEndpoint"}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("infra")
    project = init_repo(root / "project", {"pyproject.toml": CONFIG, **service_files()})
    with Sandbox(
        project, config=project_config(project), state_dir=root / "state", env_file=None, bootstrap=False
    ) as running:
        yield running


def diff(sandbox: Sandbox, *parameters: str) -> dict[str, object]:
    args = ["--json", "infra", "diff", "--template", TEMPLATE, "--parameter", "GitHubRepository=o/r"]
    for parameter in parameters:
        args += ["--parameter", parameter]
    result = run_cli(*args, cwd=sandbox.project_dir, env=sandbox.env, timeout=120)
    assert result.code == 0, result.stderr
    return dict(json.loads(result.stdout))


def added(payload: dict[str, object]) -> set[str]:
    changes = payload["changes"]
    assert isinstance(changes, list)
    return {c["logical_id"] for c in changes if c["action"] == "Add"}


def test_infra_diff_in_endpoints_mode_lists_the_endpoints_and_no_nat_gateway(sandbox: Sandbox) -> None:
    ids = added(diff(sandbox))
    assert ids >= ENDPOINTS
    assert ids.isdisjoint(NAT)
    assert "HttpsListener" not in ids  # UseHttps is false without a certificate


def test_infra_diff_in_nat_mode_lists_the_nat_gateways_and_no_interface_endpoint(sandbox: Sandbox) -> None:
    ids = added(diff(sandbox, "EgressMode=NatGateway"))
    assert ids >= NAT
    assert ids.isdisjoint(ENDPOINTS)


def test_infra_diff_says_which_resource_types_the_sandbox_cloudformation_does_not_create(
    sandbox: Sandbox,
) -> None:
    note = str(diff(sandbox)["note"])
    assert note.startswith("sandbox: conditions honoured")
    assert "moto's CloudFormation is partial" in note
    for kind in (
        "AWS::CodePipeline::Pipeline",
        "AWS::CodeBuild::Project",
        "AWS::CodeConnections::Connection",
    ):
        assert kind in note
    human = run_cli(
        "infra",
        "diff",
        "--template",
        TEMPLATE,
        "--parameter",
        "GitHubRepository=o/r",
        cwd=sandbox.project_dir,
        env=sandbox.env,
    )
    assert human.stdout.splitlines()[-1] == f"note: {note}"


def test_infra_deploy_that_moto_cannot_execute_is_one_clear_error_not_a_server_error(
    sandbox: Sandbox,
) -> None:
    result = run_cli(
        "infra",
        "deploy",
        "--template",
        TEMPLATE,
        "--parameter",
        "GitHubRepository=o/r",
        cwd=sandbox.project_dir,
        env=sandbox.env,
        timeout=120,
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.code != 0 and len(errors) == 1, result.stderr
    assert "sandbox: moto's CloudFormation could not execute this change set" in errors[0]
    assert "Internal Server Error" not in result.stderr
