"""SNS: publish one notification to a topic."""

from __future__ import annotations

from typing import Any

from releasectl.adapters.aws.clients import aws_errors


def topic_region(topic_arn: str) -> str:
    """The region in an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME): a topic is published to there."""
    return topic_arn.split(":")[3]


def publish(client: Any, topic_arn: str, *, subject: str, message: str) -> str:
    """Publish `message` (the event's JSON) to the topic; the message id."""
    with aws_errors(f"publishing to SNS topic {topic_arn.rsplit(':', 1)[-1]}"):
        response = client.publish(TopicArn=topic_arn, Subject=subject, Message=message)
    return str(response.get("MessageId") or "")
