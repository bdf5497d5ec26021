"""An environment's role: assumed with a session named after the release; refused is exit 4 naming it."""

from __future__ import annotations

from typing import Any

import pytest

from releasectl.adapters.aws.clients import AwsClients
from releasectl.commands.context import Context
from releasectl.core.config import Config, Environment
from releasectl.core.errors import EnvironmentProblem, ExitCode

ROLE = "arn:aws:iam::222222222222:role/shop-prod-deploy"


def context(aws: AwsClients) -> Context:
    prod = Environment(name="prod", cluster="shop-prod", service="shop", role_arn=ROLE)
    config = Config(region="us-east-1", env="prod", role_arn=ROLE, environments={"prod": prod})
    return Context(config=config, _aws=aws)


def test_the_assumed_session_is_named_after_the_release_and_acts_in_the_other_account(
    aws: AwsClients,
) -> None:
    ctx = context(aws)
    ctx.name_session("1.4.0", "prod")
    identity = ctx.env_aws().client("sts").get_caller_identity()
    assert identity["Account"] == "222222222222"
    assert identity["Arn"].endswith("assumed-role/shop-prod-deploy/releasectl-1.4.0-prod")


def test_the_callers_own_clients_stay_for_the_release_repository(aws: AwsClients) -> None:
    ctx = context(aws)
    assert ctx.aws.client("sts").get_caller_identity()["Account"] != "222222222222"


def test_a_denied_assume_role_is_exit_4_naming_the_role_and_the_action(aws: AwsClients) -> None:
    from botocore.stub import Stubber

    ctx = context(aws)
    sts: Any = aws.client("sts")
    with Stubber(sts) as stub:
        stub.add_client_error(
            "assume_role",
            service_error_code="AccessDenied",
            service_message="not authorized to perform sts:AssumeRole",
        )
        with pytest.raises(EnvironmentProblem) as caught:
            ctx.env_aws()
    assert caught.value.exit_code == ExitCode.ENVIRONMENT
    assert caught.value.message.startswith(f"cannot assume role {ROLE}: sts:AssumeRole denied")


def test_session_names_keep_to_what_iam_accepts() -> None:
    ctx = Context(config=Config())
    ctx.name_session("1.4.0-rc.1+build/7", "prod")
    assert ctx.session_name == "releasectl-1.4.0-rc.1+build-7-prod"
