"""Notifications through the CLI (releasectl/commands/notify.py): a local webhook on 127.0.0.1 that the
test starts and stops, and an SNS topic on the moto server. The body's fields; a webhook that
answers 500 or not at all changes nothing else; the webhook URL appears in no output."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from releasectl.core.result import CommandResult, ImageInfo, Outcome
from tests.support.service_world import CLUSTER, SERVICE, ServiceWorld

# A path shaped like a Slack webhook's: the secret part of the URL.
SECRET_PATH = "/services/T0000TEST/B0000TEST/notarealsecretbutkeptoutofoutput"


@dataclass
class Webhook:
    """A webhook receiver on 127.0.0.1: answers `status`, after `delay` seconds."""

    status: int = 200
    delay: float = 0.0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"

    def start(self) -> None:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                hook.paths.append(self.path)
                hook.bodies.append(json.loads(self.rfile.read(length)))
                time.sleep(hook.delay)
                self.send_response(hook.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    hook.start()
    try:
        yield hook
    finally:
        hook.stop()


def deploy(service_world: ServiceWorld, hook: Webhook, *args: str) -> Any:
    return service_world.cli("--json", *args, RELEASECTL_NOTIFY="RELEASE_HOOK_URL", RELEASE_HOOK_URL=hook.url)


def running(service_world: ServiceWorld) -> str:
    found = service_world.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    return str(found[0]["taskDefinition"])


def test_a_finished_deploy_posts_one_slack_compatible_event_with_its_facts(
    service_world: ServiceWorld, webhook: Webhook
) -> None:
    ran = deploy(service_world, webhook, "deploy", "1.2.0", "--no-wait")
    assert ran.code == 0, ran.stderr
    (body,) = webhook.bodies
    assert webhook.paths == [SECRET_PATH]
    assert body["text"].startswith("releasectl deploy 1.2.0: succeeded")
    assert {k: body[k] for k in ("event", "command", "version", "digest", "outcome", "exit_status")} == {
        "event": "releasectl.finished",
        "command": "deploy",
        "version": "1.2.0",
        "digest": service_world.digests["1.2.0"],
        "outcome": "succeeded",
        "exit_status": 0,
    }
    assert body["service"] == SERVICE
    assert isinstance(body["duration_s"], float)
    assert body["evidence"] is None
    result = json.loads(ran.stdout)
    assert result["notifications"] == [{"target": "$RELEASE_HOOK_URL", "sent": True, "error": None}]


def test_a_webhook_answering_500_is_a_warning_and_changes_nothing_else(
    service_world: ServiceWorld, webhook: Webhook
) -> None:
    webhook.status = 500
    ran = deploy(service_world, webhook, "deploy", "1.2.0", "--no-wait")
    assert ran.code == 0, ran.stderr
    assert (
        "warning: notify: webhook $RELEASE_HOOK_URL not notified: 127.0.0.1 answered HTTP 500" in ran.stderr
    )
    result = json.loads(ran.stdout)
    assert result["outcome"] == "succeeded"
    assert running(service_world) == result["task_definition"]  # the deploy itself happened
    assert len(webhook.bodies) == 1


def test_a_webhook_that_does_not_answer_in_time_is_a_warning_and_changes_nothing_else(
    service_world: ServiceWorld, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("releasectl.commands.notify.WEBHOOK_TIMEOUT", 0.3)
    webhook.delay = 2.0
    ran = deploy(service_world, webhook, "deploy", "1.2.0", "--no-wait")
    assert ran.code == 0, ran.stderr
    assert "did not answer within 0.3 s" in ran.stderr
    assert json.loads(ran.stdout)["outcome"] == "succeeded"


def test_the_webhook_url_appears_in_no_output_not_even_with_verbose(
    service_world: ServiceWorld, webhook: Webhook
) -> None:
    for status in (200, 500):
        webhook.status = status
        ran = deploy(service_world, webhook, "-v", "deploy", "1.2.0", "--no-wait")
        for secret in (SECRET_PATH, "notarealsecret", webhook.url):
            assert secret not in ran.stdout and secret not in ran.stderr


def test_a_command_that_ends_in_an_error_is_announced_with_its_exit_status(
    service_world: ServiceWorld, webhook: Webhook
) -> None:
    ran = deploy(service_world, webhook, "deploy", "9.9.9", "--no-wait")
    assert ran.code == 4
    (body,) = webhook.bodies
    assert (body["command"], body["outcome"], body["exit_status"]) == ("deploy", "error", 4)
    assert "9.9.9" in body["message"]


def test_bad_usage_is_not_announced(service_world: ServiceWorld, webhook: Webhook) -> None:
    ran = deploy(service_world, webhook, "deploy", "not-a-version", "--no-wait")
    assert ran.code == 2
    assert webhook.bodies == []


def test_an_unset_webhook_variable_is_a_warning(service_world: ServiceWorld) -> None:
    ran = service_world.cli("--json", "deploy", "1.2.0", "--no-wait", RELEASECTL_NOTIFY="UNSET_HOOK_URL")
    assert ran.code == 0
    assert "warning: notify: $UNSET_HOOK_URL is not set" in ran.stderr


def test_a_failure_is_announced_with_its_evidence_summary(
    webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from releasectl.commands.notify import announce_result
    from tests.support.scripted_ecs import make_context

    monkeypatch.setenv("RELEASE_HOOK_URL", webhook.url)
    ctx = make_context(notify=("RELEASE_HOOK_URL",), env=None)
    result = CommandResult(
        command="run",
        outcome=Outcome.FAILED,
        message="task 0123 exited 3 (Essential container in task exited)",
        version="1.4.0",
        image=ImageInfo(repository="hello-world", digest="sha256:" + "a" * 64, uri=None),
        duration_s=12.5,
        extra={
            "task_id": "0123",
            "evidence": {"summary": "1 task failed: Essential container in task exited"},
        },
    )
    announce_result(ctx, result)
    (body,) = webhook.bodies
    assert body["outcome"] == "failed" and body["exit_status"] == 1
    assert body["evidence"] == "1 task failed: Essential container in task exited"
    assert body["text"].endswith("\nwhy: 1 task failed: Essential container in task exited")
    assert body["task_id"] == "0123"
    assert body["duration_s"] == 12.5


def test_an_sns_topic_gets_the_same_event(service_world: ServiceWorld, moto_endpoint: str) -> None:
    import boto3

    sns = boto3.client("sns", endpoint_url=moto_endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    topic = sns.create_topic(Name="releases")["TopicArn"]
    queue = sqs.create_queue(QueueName="releases")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    ran = service_world.cli("--json", "deploy", "1.2.0", "--no-wait", RELEASECTL_NOTIFY=topic)
    assert ran.code == 0, ran.stderr
    (message,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Subject"] == "releasectl deploy 1.2.0: succeeded"
    body = json.loads(envelope["Message"])
    assert (body["command"], body["version"], body["outcome"]) == ("deploy", "1.2.0", "succeeded")
    assert json.loads(ran.stdout)["notifications"] == [{"target": topic, "sent": True, "error": None}]
