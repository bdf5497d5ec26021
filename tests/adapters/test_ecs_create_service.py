"""Creating the service: a deploy that lost the race to create it is told so (exit 5)."""

from __future__ import annotations

from typing import Any

import pytest

from releasectl.adapters.aws.clients import AwsClients
from releasectl.adapters.aws.ecs import EcsApi
from releasectl.core.errors import Conflict, ExitCode, OperationFailed


def stubbed(aws: AwsClients, code: str, message: str) -> tuple[EcsApi, Any]:
    from botocore.stub import Stubber

    client: Any = aws.client("ecs")
    stub = Stubber(client)
    stub.add_client_error("create_service", service_error_code=code, service_message=message)
    stub.activate()
    return EcsApi(client, cluster="shop-prod", service="shop"), stub


def test_a_service_created_meanwhile_by_another_deploy_is_a_conflict(aws: AwsClients) -> None:
    ecs, _ = stubbed(aws, "InvalidParameterException", "Creation of service was not idempotent.")
    with pytest.raises(Conflict) as caught:
        ecs.create_service({"cluster": "shop-prod", "serviceName": "shop", "taskDefinition": "shop-prod:1"})
    assert caught.value.exit_code == ExitCode.CONFLICT
    assert "created in cluster 'shop-prod' by another deploy" in caught.value.message


def test_any_other_refusal_stays_a_failure(aws: AwsClients) -> None:
    ecs, _ = stubbed(
        aws, "InvalidParameterException", "The target group does not have an associated load balancer."
    )
    with pytest.raises(OperationFailed):
        ecs.create_service({"cluster": "shop-prod", "serviceName": "shop", "taskDefinition": "shop-prod:1"})
