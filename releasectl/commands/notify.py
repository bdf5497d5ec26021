"""Announce a finished release, deploy, rollback, abort or run to the `notify` targets.

Each target is the name of an environment variable holding a webhook URL, or an SNS topic ARN
(releasectl.core.config). Every target gets the same event (releasectl.core.notification). A
target that cannot be reached, refuses, or is unset is a warning: the command's outcome and exit
status never change because of a notification. Webhook URLs are never printed, not even with
-v: messages name the variable and the host only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from releasectl.core.errors import ReleasectlError, UsageError
from releasectl.core.notification import NOTIFIED, event, event_from_result, is_sns_topic, redact, subject
from releasectl.core.result import CommandResult, Outcome

if TYPE_CHECKING:
    from releasectl.commands.context import Context

WEBHOOK_TIMEOUT = 5.0


def announce_result(ctx: Context, result: CommandResult) -> None:
    """Send the result's event, when the command is one that announces itself and `notify` is set."""
    if result.command not in NOTIFIED or not ctx.config.notify or result.extra.get("dry_run"):
        return
    body = event_from_result(result, environment=ctx.config.env, exit_status=int(result.exit_code))
    result.extra["notifications"] = _safely(ctx, body)


def announce_error(ctx: Context, command: str | None, exc: ReleasectlError, duration_s: float | None) -> None:
    """Send the event of a command that ended with an error (not a usage error: nothing ran)."""
    if command not in NOTIFIED or not ctx.config.notify or isinstance(exc, UsageError):
        return
    body = event(
        command=str(command),
        environment=ctx.config.env,
        service=ctx.config.ecs_service,
        version=None,
        digest=None,
        outcome=Outcome.ERROR,
        exit_status=int(exc.exit_code),
        duration_s=duration_s,
        message=exc.one_line(),
    )
    _safely(ctx, body)


def _safely(ctx: Context, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """send(), whose every failure is a warning: a notification never changes the exit status."""
    try:
        return send(ctx, body)
    except Exception as exc:  # a bug in sending must not turn a release into a failure
        # The class only: a message could quote a URL.
        ctx.reporter.warn(f"notify: not sent ({exc.__class__.__name__})")
        return []


def send(
    ctx: Context, body: Mapping[str, Any], *, env: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Deliver `body` to every target; what became of each (for --json), secrets left out."""
    env = os.environ if env is None else env
    report = []
    for target in ctx.config.notify:
        if is_sns_topic(target):
            report.append(_to_topic(ctx, target, body))
        else:
            report.append(_to_webhook(ctx, target, body, env))
    return report


def _to_webhook(
    ctx: Context, variable: str, body: Mapping[str, Any], env: Mapping[str, str]
) -> dict[str, Any]:
    from releasectl.adapters.webhook import WebhookError, post_json

    url = env.get(variable, "").strip()
    shown = f"${variable}"
    if not url:
        ctx.reporter.warn(f"notify: {shown} is not set; no notification sent there")
        return {"target": shown, "sent": False, "error": "not set"}
    try:
        status = post_json(url, body, timeout=WEBHOOK_TIMEOUT)
    except WebhookError as exc:
        # The adapter's messages carry no URL; redact() is the second lock on that door.
        text = redact(str(exc), _secret_parts(url))
        ctx.reporter.warn(f"notify: webhook {shown} not notified: {text}")
        return {"target": shown, "sent": False, "error": text}
    ctx.reporter.detail(f"notify: webhook {shown} notified (HTTP {status})")
    return {"target": shown, "sent": True, "error": None}


def _to_topic(ctx: Context, topic: str, body: Mapping[str, Any]) -> dict[str, Any]:
    from releasectl.adapters.aws.sns import publish, topic_region

    try:
        message_id = publish(
            _sns_client(ctx, topic_region(topic)),
            topic,
            subject=subject(body),
            message=json.dumps(body),
        )
    except ReleasectlError as exc:
        ctx.reporter.warn(f"notify: SNS topic {topic} not notified: {exc.one_line()}")
        return {"target": topic, "sent": False, "error": exc.one_line()}
    ctx.reporter.detail(f"notify: SNS topic {topic} notified (message {message_id})")
    return {"target": topic, "sent": True, "error": None}


def _sns_client(ctx: Context, region: str) -> Any:
    """The caller's SNS client in the topic's region (a topic is published to in its own region)."""
    if region == ctx.aws.resolved_region():
        return ctx.aws.client("sns")
    from releasectl.adapters.aws.clients import AwsClients

    return AwsClients(
        region=region,
        profile=ctx.config.profile,
        endpoint_url=ctx.config.endpoint_url,
        max_attempts=ctx.config.max_attempts,
        call_hooks=ctx.aws.call_hooks,
    ).client("sns")


def _secret_parts(url: str) -> list[str]:
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    found = [url, parts.path, parts.query, parts.netloc.split("@", 1)[0] if "@" in parts.netloc else ""]
    # A bare "/" or a short word is no secret, and replacing it would garble the message.
    return [part for part in found if len(part) >= 4]
