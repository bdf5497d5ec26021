"""The ECS boundary's service-deployment calls: what each answer becomes, checked with botocore's
Stubber (the real client, its model and serialisation) and against moto, which lacks the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from releasectl.adapters.aws.ecs import EcsApi, ServiceDeploymentsUnavailable, service_deployments_offered
from releasectl.core.errors import EnvironmentProblem, ExitCode

ARN = "arn:aws:ecs:us-east-1:123456789012:service-deployment/web/hello-world/abc123"


@pytest.fixture
def stubbed() -> Iterator[tuple[EcsApi, Any]]:
    import boto3
    from botocore.stub import Stubber

    client = boto3.client(
        "ecs", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield EcsApi(client, cluster="web", service="hello-world"), stubber
        stubber.assert_no_pending_responses()


def test_describe_returns_the_deployment_and_counts_one_call(stubbed: tuple[EcsApi, Any]) -> None:
    ecs, stubber = stubbed
    found = {"serviceDeploymentArn": ARN, "status": "IN_PROGRESS", "lifecycleStage": "BAKE_TIME"}
    stubber.add_response(
        "describe_service_deployments", {"serviceDeployments": [found]}, {"serviceDeploymentArns": [ARN]}
    )
    assert ecs.describe_service_deployment(ARN)["lifecycleStage"] == "BAKE_TIME"
    assert ecs.calls == 1


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("UnknownOperationException", 400),
        ("InvalidAction", 400),
        ("UnsupportedFeatureException", 400),
        ("NotFound", 404),
        ("NotImplemented", 501),
    ],
)
def test_an_endpoint_without_the_api_is_told_apart(
    stubbed: tuple[EcsApi, Any], code: str, status: int
) -> None:
    ecs, stubber = stubbed
    stubber.add_client_error("describe_service_deployments", code, "no such thing here", status)
    with pytest.raises(ServiceDeploymentsUnavailable):
        ecs.describe_service_deployment(ARN)


def test_a_deployment_ecs_does_not_know_is_exit_4(stubbed: tuple[EcsApi, Any]) -> None:
    ecs, stubber = stubbed
    stubber.add_client_error(
        "describe_service_deployments", "ServiceDeploymentNotFoundException", "gone", 400
    )
    with pytest.raises(EnvironmentProblem):
        ecs.describe_service_deployment(ARN)


def test_access_denied_is_exit_4_naming_the_call(stubbed: tuple[EcsApi, Any]) -> None:
    ecs, stubber = stubbed
    stubber.add_client_error("stop_service_deployment", "AccessDeniedException", "not allowed", 400)
    with pytest.raises(EnvironmentProblem) as caught:
        ecs.stop_service_deployment(ARN)
    assert caught.value.exit_code is ExitCode.ENVIRONMENT
    assert "stopping service deployment" in caught.value.message


def test_stop_asks_for_a_rollback_and_a_refusal_is_no_error(stubbed: tuple[EcsApi, Any]) -> None:
    ecs, stubber = stubbed
    stubber.add_response(
        "stop_service_deployment",
        {"serviceDeploymentArn": ARN},
        {"serviceDeploymentArn": ARN, "stopType": "ROLLBACK"},
    )
    stubber.add_client_error("stop_service_deployment", "ConflictException", "already finished", 400)
    assert ecs.stop_service_deployment(ARN) is True
    assert ecs.stop_service_deployment(ARN) is False


def test_listing_pages_through_and_filters_on_creation_time_and_status(stubbed: tuple[EcsApi, Any]) -> None:
    from datetime import UTC, datetime

    ecs, stubber = stubbed
    after = datetime(2026, 12, 7, tzinfo=UTC)
    wanted = {
        "cluster": "web",
        "service": "hello-world",
        "createdAt": {"after": after},
        "status": ["PENDING", "IN_PROGRESS"],
    }
    stubber.add_response(
        "list_service_deployments",
        {"serviceDeployments": [{"serviceDeploymentArn": ARN}], "nextToken": "t"},
        wanted,
    )
    stubber.add_response(
        "list_service_deployments",
        {"serviceDeployments": [{"serviceDeploymentArn": ARN + "2"}]},
        {**wanted, "nextToken": "t"},
    )
    found = ecs.list_service_deployments(created_after=after, in_flight_only=True)
    assert [d["serviceDeploymentArn"] for d in found] == [ARN, ARN + "2"]
    assert ecs.calls == 2


def test_a_service_names_its_current_deployment_only_where_ecs_offers_the_api() -> None:
    assert service_deployments_offered({"currentServiceDeployment": ARN})
    assert not service_deployments_offered({"serviceName": "hello-world"})


def test_moto_lacks_the_api_and_says_so_as_unavailable(moto_endpoint: str, fast_retries: None) -> None:
    import boto3

    client = boto3.client(
        "ecs",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with pytest.raises(ServiceDeploymentsUnavailable):
        EcsApi(client, cluster="web", service="hello-world").describe_service_deployment(ARN)


def test_an_ecs_server_error_is_a_failure_not_an_absent_api(stubbed: tuple[EcsApi, Any]) -> None:
    from releasectl.core.errors import OperationFailed

    ecs, stubber = stubbed
    stubber.add_client_error("describe_service_deployments", "ServerException", "try again", 500)
    with pytest.raises(OperationFailed) as caught:
        ecs.describe_service_deployment(ARN)
    assert not isinstance(caught.value, ServiceDeploymentsUnavailable)
