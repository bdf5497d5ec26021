"""Elastic Load Balancing v2: the health of a target group's targets, with the reasons the load
balancer gives (evidence of why a deployment failed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from releasectl.adapters.aws.clients import aws_errors


def describe_target_health(client: Any, target_group_arn: str) -> list[Mapping[str, Any]]:
    """Every registered target of the group with its state, reason and description (one call)."""
    with aws_errors(f"reading the target health of {target_group_arn.rsplit(':', 1)[-1]}"):
        response = client.describe_target_health(TargetGroupArn=target_group_arn)
    return list(response.get("TargetHealthDescriptions") or ())
