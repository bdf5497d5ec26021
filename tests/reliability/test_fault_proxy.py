"""The fault proxy itself: faithful when it injects nothing, each fault as AWS clients see it,
reproducible by seed, counted, and stopped cleanly."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.faultproxy import FaultPlan, FaultProxy, cbor_error


class Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received, as JSON, and a custom status and header."""

    protocol_version = "HTTP/1.1"
    received: list[dict[str, Any]] = []

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.hex(),
        }
        Echo.received.append(seen)
        payload = json.dumps(seen).encode()
        self.send_response(int(self.headers.get("X-Want-Status") or 200))
        self.send_header("X-Backend", "echo")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[str]:
    Echo.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def request(
    url: str, *, body: bytes = b"", headers: dict[str, str] | None = None
) -> http.client.HTTPResponse:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("POST", "/some/path?x=1", body=body, headers=headers or {})
    return connection.getresponse()


def aws_client(service: str, url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def test_without_faults_it_forwards_method_path_headers_body_and_status_unchanged(backend: str) -> None:
    body = bytes(range(256)) * 300  # binary, and larger than one socket read
    with FaultProxy(backend) as proxy:
        response = request(proxy.url, body=body, headers={"X-Want-Status": "418", "X-Custom": "kept"})
        answer = json.loads(response.read())

    assert response.status == 418
    assert response.getheader("X-Backend") == "echo"
    assert answer["method"] == "POST"
    assert answer["path"] == "/some/path?x=1"
    assert answer["headers"]["x-custom"] == "kept"
    assert bytes.fromhex(answer["body"]) == body
    assert proxy.injected == {}
    assert proxy.forwarded == 1


def test_keep_alive_connections_carry_many_requests(backend: str) -> None:
    with FaultProxy(backend) as proxy:
        host, port = proxy.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        for n in range(5):
            connection.request("POST", f"/{n}", body=b"x")
            assert connection.getresponse().read()
    assert [r["path"] for r in Echo.received] == ["/0", "/1", "/2", "/3", "/4"]


def test_a_503_for_a_json_service_is_an_aws_error_and_never_reaches_the_backend(backend: str) -> None:
    with FaultProxy(backend, FaultPlan(forced="503")) as proxy:
        from botocore.exceptions import ClientError

        with pytest.raises(ClientError) as caught:
            aws_client("ecr", proxy.url).describe_repositories()

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert caught.value.response["Error"]["Code"] == "ServiceUnavailableException"
    assert Echo.received == []
    assert proxy.injected == {"503": 1}


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("ecr", "describe_repositories", "ThrottlingException"),  # AWS JSON 1.1
        ("logs", "describe_log_groups", "ThrottlingException"),
        ("codebuild", "list_projects", "ThrottlingException"),  # JSON too: botocore picks it over CBOR
        ("cloudformation", "list_stacks", "Throttling"),  # query, XML errors
    ],
)
def test_throttling_parses_as_a_throttling_error_in_every_protocol(
    backend: str, service: str, call: str, code: str
) -> None:
    from botocore.exceptions import ClientError

    with FaultProxy(backend, FaultPlan(forced="throttle")) as proxy, pytest.raises(ClientError) as caught:
        getattr(aws_client(service, proxy.url), call)()

    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert Echo.received == []


@pytest.mark.parametrize("kind", ["503", "throttle", "reset", "reset_after"])
def test_botocore_retries_every_injected_kind_in_standard_mode(
    backend: str, kind: str, fast_retries: None
) -> None:
    """The suite relies on it: each fault is transient to botocore, so retries absorb it."""
    import boto3
    from botocore.config import Config

    counter = itertools.count()
    plan = FaultPlan(forced=kind, match=lambda _request: next(counter) < 2)
    with FaultProxy(backend, plan) as proxy:
        ecr = boto3.client(
            "ecr",
            endpoint_url=proxy.url,
            region_name="us-east-1",
            config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
        )
        ecr.describe_repositories()

    assert proxy.injected == {kind: 2}
    assert [s.fault for s in proxy.log] == [kind, kind, ""]


def test_a_reset_closes_the_connection_without_an_answer(backend: str) -> None:
    with (
        FaultProxy(backend, FaultPlan(forced="reset")) as proxy,
        pytest.raises((ConnectionError, http.client.RemoteDisconnected)),
    ):
        request(proxy.url, body=b"payload").read()
    assert Echo.received == []
    assert proxy.injected == {"reset": 1}
    assert proxy.forwarded == 0


def test_a_reset_after_forwarding_lets_the_backend_apply_the_request_but_drops_its_answer(
    backend: str,
) -> None:
    with (
        FaultProxy(backend, FaultPlan(forced="reset_after")) as proxy,
        pytest.raises((ConnectionError, http.client.RemoteDisconnected)),
    ):
        request(proxy.url, body=b"write me").read()
    assert [bytes.fromhex(r["body"]) for r in Echo.received] == [b"write me"]
    assert proxy.injected == {"reset_after": 1}
    assert proxy.forwarded == 1


def test_latency_delays_but_forwards(backend: str) -> None:
    with FaultProxy(backend, FaultPlan(forced="latency", latency_s=(0.01, 0.01))) as proxy:
        assert request(proxy.url).status == 200
    assert proxy.injected == {"latency": 1}
    assert len(Echo.received) == 1


def test_the_rate_is_honoured_and_counted_per_kind(backend: str) -> None:
    plan = FaultPlan(rate=0.3, seed=11, weights={"503": 1.0, "throttle": 1.0}, reset_after_rate=0.0)
    with FaultProxy(backend, plan) as proxy:
        statuses = [request(proxy.url).status for _ in range(200)]

    faults = sum(1 for s in statuses if s != 200)
    assert 40 <= faults <= 80  # 30% of 200, with room for chance
    assert proxy.injected["503"] == statuses.count(503)
    assert proxy.injected["throttle"] == statuses.count(400)
    assert proxy.forwarded == statuses.count(200) == len(Echo.received)


def test_the_same_seed_gives_the_same_faults(backend: str) -> None:
    def faults(seed: int) -> list[str]:
        with FaultProxy(backend, FaultPlan(rate=0.5, seed=seed, weights={"503": 1, "throttle": 1})) as proxy:
            for _ in range(30):
                request(proxy.url).read()
        return [seen.fault for seen in proxy.log]

    assert faults(5) == faults(5)
    assert faults(5) != faults(6)


def test_match_limits_faults_to_chosen_operations(backend: str) -> None:
    plan = FaultPlan(forced="503", match=lambda r: r.operation == "PutImage")
    with FaultProxy(backend, plan) as proxy:
        put = request(proxy.url, headers={"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.PutImage"})
        other = request(
            proxy.url, headers={"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.ListImages"}
        )
    assert (put.status, other.status) == (503, 200)
    assert [(s.operation, s.fault) for s in proxy.log] == [("PutImage", "503"), ("ListImages", "")]


def test_operations_are_named_for_json_cbor_and_query_requests(backend: str) -> None:
    with FaultProxy(backend) as proxy:
        aws_client("codebuild", proxy.url).list_projects()
        aws_client("ecs", proxy.url).list_clusters()
        # The echo's answer is no CloudFormation XML; only the operation's name matters here.
        with contextlib.suppress(Exception):
            aws_client("cloudformation", proxy.url).list_stacks()
    assert [s.operation for s in proxy.log] == ["ListProjects", "ListClusters", "ListStacks"]


def test_stopping_closes_the_port_and_idle_keep_alive_connections(backend: str) -> None:
    proxy = FaultProxy(backend).start()
    url = proxy.url
    host, port = url.removeprefix("http://").split(":")
    idle = http.client.HTTPConnection(host, int(port), timeout=5)
    idle.request("GET", "/")
    idle.getresponse().read()
    before = threading.active_count()

    proxy.stop()

    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=1).close()
    assert threading.active_count() < before
    proxy.stop()  # a second stop is harmless


def test_a_cbor_request_gets_its_errors_in_cbor(backend: str) -> None:
    from botocore.parsers import RpcV2CBORParser

    cbor = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
    with FaultProxy(backend, FaultPlan(forced="throttle")) as proxy:
        response = request(proxy.url, body=b"\xa0", headers=cbor)
        body = response.read()

    assert response.status == 400
    assert response.getheader("smithy-protocol") == "rpc-v2-cbor"
    assert RpcV2CBORParser()._initial_body_parse(body)["__type"] == "ThrottlingException"


def test_a_stub_answers_chosen_requests_itself(backend: str) -> None:
    def stub(seen: Any) -> Any:
        return (200, [("X-Stub", "yes")], b"{}") if seen.operation == "GetAuthorizationToken" else None

    target = "AmazonEC2ContainerRegistry_V20150921."
    with FaultProxy(backend, stub=stub) as proxy:
        stubbed = request(proxy.url, headers={"X-Amz-Target": target + "GetAuthorizationToken"})
        passed = request(proxy.url, headers={"X-Amz-Target": target + "ListImages"})
        assert (stubbed.getheader("X-Stub"), stubbed.read()) == ("yes", b"{}")
        assert passed.getheader("X-Backend") == "echo"
    assert [r["headers"]["x-amz-target"] for r in Echo.received] == [target + "ListImages"]


def test_cbor_error_body_is_what_botocore_decodes() -> None:
    from botocore.parsers import RpcV2CBORParser

    parsed = RpcV2CBORParser()._initial_body_parse(cbor_error("ThrottlingException", "Rate exceeded"))
    assert parsed == {"__type": "ThrottlingException", "message": "Rate exceeded"}
