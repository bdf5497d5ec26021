"""How a sandbox task runs an image's command on this machine."""

from __future__ import annotations

import sys
from pathlib import Path

from releasectl_sandbox.images import ImageSpec
from releasectl_sandbox.tasks import awslogs_location, health_path, task_command, task_environment

IMAGE = ImageSpec(
    digest="sha256:" + "1" * 64,
    layer_digests=(),
    env=(("PORT", "8080"), ("APP_VERSION", "1.0.0")),
    entrypoint=(),
    cmd=("python", "service/hello_world.py"),
    workdir="/app",
)


def test_python_in_the_image_command_is_the_sandbox_python(tmp_path: Path) -> None:
    assert task_command(IMAGE, {}, tmp_path) == [sys.executable, "service/hello_world.py"]


def test_absolute_paths_that_exist_in_the_image_are_read_from_its_layer(tmp_path: Path) -> None:
    (tmp_path / "app" / "bin").mkdir(parents=True)
    (tmp_path / "app" / "bin" / "serve").write_text("")
    argv = task_command(IMAGE, {"command": ["/app/bin/serve", "/etc/not-in-image"]}, tmp_path)
    assert argv == [str(tmp_path / "app" / "bin" / "serve"), "/etc/not-in-image"]


def test_an_entry_point_override_drops_the_image_cmd(tmp_path: Path) -> None:
    assert task_command(IMAGE, {"entryPoint": ["python3", "-V"]}, tmp_path) == [sys.executable, "-V"]


def test_the_sandbox_sets_host_and_a_port_of_the_task_over_image_and_definition() -> None:
    container = {"environment": [{"name": "PORT", "value": "9999"}, {"name": "EXTRA", "value": "x"}]}
    env = task_environment(IMAGE, container, 40123, {"AWS_REGION": "us-east-1"})
    assert (env["HOST"], env["PORT"], env["EXTRA"], env["APP_VERSION"]) == (
        "127.0.0.1",
        "40123",
        "x",
        "1.0.0",
    )


def test_the_health_check_path_comes_from_the_task_definition_command() -> None:
    probe = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/ready', timeout=3)"
    assert health_path({"healthCheck": {"command": ["CMD", "python", "-c", probe]}}) == "/ready"
    assert health_path({"healthCheck": {"command": ["CMD-SHELL", "true"]}}) == "/healthz"
    assert health_path({}) == "/healthz"


def test_awslogs_streams_are_named_prefix_container_task() -> None:
    options = {"awslogs-group": "/ecs/svc", "awslogs-stream-prefix": "app"}
    container = {"name": "web", "logConfiguration": {"logDriver": "awslogs", "options": options}}
    assert awslogs_location(container, "abc") == ("/ecs/svc", "app/web/abc")
    assert awslogs_location({"name": "web"}, "abc") == (None, None)
