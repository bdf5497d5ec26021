"""The repository's Dockerfile built and run on a real Docker engine (see tests/image/engine.py).

What tests/project/test_dockerfile.py reads from the Dockerfile's text, checked here on the image:
the endpoints, the user, a hardened run, the health check both ways, the stop time, the labels,
the size over the base and which layers a rebuild reuses.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.image.conftest import Builder, BuiltImage, copy_context
from tests.image.engine import Container, Docker, start

SERVICE_USER = "10001:10001"
MAX_GROWTH_BYTES = 20 * 1024


@pytest.fixture
def running(docker: Docker, image: BuiltImage) -> Iterator[Container]:
    container = start(docker, image.tag)
    try:
        container.wait_serving()
        yield container
    finally:
        container.remove()


def layers(docker: Docker, ref: str) -> list[str]:
    return list(docker.inspect(ref)["RootFS"]["Layers"])


def step_lines(log: str, instruction: str) -> list[str]:
    """The progress lines of the one build step that runs `instruction` (e.g. "COPY")."""
    numbers = re.findall(rf"^(#\d+) \[\d+/\d+\] {instruction}\b", log, flags=re.MULTILINE)
    assert len(numbers) == 1, f"no single {instruction} step in:\n{log}"
    return [line for line in log.splitlines() if line.startswith(numbers[0] + " ")]


def cached(log: str, instruction: str) -> bool:
    return any(line.endswith(" CACHED") for line in step_lines(log, instruction))


def test_endpoints_answer_with_the_version_and_commit_given_as_build_args(
    running: Container, image: BuiltImage
) -> None:
    status, body = running.get("/")
    assert (status, body.decode()) == (
        200,
        f"Hello from CI/CD! (version {image.build_args['APP_VERSION']})\n",
    )
    status, body = running.get("/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, body = running.get("/version")
    version = json.loads(body)
    assert status == 200
    assert (version["version"], version["commit"]) == (
        image.build_args["APP_VERSION"],
        image.build_args["GIT_COMMIT"],
    )


def test_the_service_runs_as_uid_10001_not_root(
    docker: Docker, running: Container, image: BuiltImage
) -> None:
    assert docker.inspect(image.tag)["Config"]["User"] == SERVICE_USER
    ids = docker.run("exec", running.id, "python", "-c", "import os; print(os.getuid(), os.getgid())")
    assert ids.stdout.split() == ["10001", "10001"]


def test_it_serves_with_a_read_only_root_and_no_capabilities(docker: Docker, running: Container) -> None:
    host = docker.inspect(running.id)["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    status = docker.run("exec", running.id, "grep", "^CapEff", "/proc/1/status", check=False)
    if status.returncode == 0:  # the offline base has no grep; the pinned python base does
        assert status.stdout.split()[-1] == "0000000000000000"
    write = docker.run(
        "exec", running.id, "python", "-c", "open('/app/service/hello_world.py', 'a')", check=False
    )
    assert write.returncode != 0
    assert "Read-only file system" in write.stderr or "Permission denied" in write.stderr
    assert running.get("/healthz")[0] == 200


def test_the_healthcheck_turns_healthy_with_the_dockerfile_timings(running: Container) -> None:
    # --start-period=5s, --interval=10s: the first probe runs about 10 s after the start.
    waited = running.wait_health("healthy", timeout=30)
    assert waited < 25


def test_the_healthcheck_turns_unhealthy_when_the_service_stops_answering(
    docker: Docker, image: BuiltImage
) -> None:
    # The image's own probe command, at a shorter interval so the test does not wait 30 s and more.
    container = start(
        docker,
        image.tag,
        "--health-interval=1s",
        "--health-timeout=3s",
        "--health-retries=2",
        "--health-start-period=0s",
    )
    try:
        container.wait_serving()
        container.wait_health("healthy", timeout=15)
        # A frozen process keeps its socket open but answers nothing: what a hung service looks like.
        docker.run("kill", "--signal", "SIGSTOP", container.id)
        container.wait_health("unhealthy", timeout=30)
        log = container.state()["Health"]["Log"]
        assert log[-1]["ExitCode"] != 0
        assert "unhealthy" in log[-1]["Output"]
    finally:
        container.remove()


def test_docker_stop_ends_it_cleanly_in_under_two_seconds(docker: Docker, running: Container) -> None:
    started = time.monotonic()
    docker.run("stop", "--time", "10", running.id)
    elapsed = time.monotonic() - started
    state = running.state()
    assert elapsed < 2.0, f"docker stop took {elapsed:.2f} s: SIGTERM did not stop the service"
    assert (state["Status"], state["ExitCode"]) == ("exited", 0)


def test_the_oci_labels_carry_every_input_none_empty(docker: Docker, image: BuiltImage) -> None:
    labels = docker.inspect(image.tag)["Config"]["Labels"]
    oci = {
        key.removeprefix("org.opencontainers.image."): value
        for key, value in labels.items()
        if key.startswith("org.opencontainers.image.")
    }
    assert oci == {
        "title": "hello-world",
        "description": "The service releasectl ships",
        "licenses": "MIT",
        "version": image.build_args["APP_VERSION"],
        "revision": image.build_args["GIT_COMMIT"],
        "source": image.build_args["SOURCE_URL"],
        "created": image.build_args["BUILD_DATE"],
    }
    assert all(oci.values())


def test_the_image_adds_at_most_20_kb_to_its_base(docker: Docker, image: BuiltImage) -> None:
    growth = int(docker.inspect(image.tag)["Size"]) - int(docker.inspect(image.base)["Size"])
    assert 0 < growth <= MAX_GROWTH_BYTES, f"the image adds {growth} bytes to its base"
    assert layers(docker, image.tag)[: len(layers(docker, image.base))] == layers(docker, image.base)


def test_a_version_only_rebuild_reuses_the_code_layer(
    docker: Docker, build: Builder, image: BuiltImage
) -> None:
    again = build(APP_VERSION="3.1.5", BUILD_DATE="2025-02-03T04:05:06Z")
    assert cached(again.log, "WORKDIR") and cached(again.log, "COPY")
    assert layers(docker, again.tag) == layers(docker, image.tag)
    assert docker.inspect(again.tag)["Id"] != docker.inspect(image.tag)["Id"]
    assert docker.inspect(again.tag)["Config"]["Labels"]["org.opencontainers.image.version"] == "3.1.5"


def test_a_code_change_rebuilds_from_the_copy_only(
    docker: Docker, build: Builder, image: BuiltImage, tmp_path: Path
) -> None:
    context = copy_context(tmp_path / "context")
    service = context / "service" / "hello_world.py"
    service.write_text(service.read_text() + "\n# a code change\n")
    changed = build(context)
    assert cached(changed.log, "WORKDIR")
    assert not cached(changed.log, "COPY")
    before, after = layers(docker, image.tag), layers(docker, changed.tag)
    assert len(before) == len(after)
    assert before[:-1] == after[:-1], "a code change rebuilt layers below the COPY"
    assert before[-1] != after[-1]
