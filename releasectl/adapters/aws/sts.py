"""STS: who the credentials in use belong to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from releasectl.adapters.aws.clients import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient


@dataclass(frozen=True)
class CallerIdentity:
    """Only who the caller is: never a key id, secret or session token."""

    arn: str
    account: str


def caller_identity(client: STSClient) -> CallerIdentity:
    """The identity behind the credentials; fails (exit 4) when there are none or they are refused."""
    with aws_errors("checking credentials"):
        identity = client.get_caller_identity()
    return CallerIdentity(arn=identity["Arn"], account=identity["Account"])
