"""The buildx docker-container path on a real engine, where a BuildKit daemon image can be had.

`release` creates its builder with the pinned BuildKit image and `--bootstrap`. No registry reachable
from these machines serves that image, so here the test is skipped with the reason; where the engine
has the image (or IMAGE_TESTS_BUILDKIT_IMAGE names one it has), it runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from releasectl.adapters.docker import BuildxBuilder, DockerCli
from releasectl.commands.context import RecordingReporter
from releasectl.core.config import DEFAULT_BUILDKIT_IMAGE
from tests.image.engine import Docker


def test_the_pinned_buildkit_image_bootstraps_the_builder(docker: Docker) -> None:
    if docker.run("buildx", "version", check=False).returncode != 0:
        pytest.skip(
            "BUILDX PATH NOT RUN: this docker client has no buildx plugin (Debian 13's docker-buildx has one)"
        )
    image = os.environ.get("IMAGE_TESTS_BUILDKIT_IMAGE", DEFAULT_BUILDKIT_IMAGE)
    if docker.run("image", "inspect", image, check=False).returncode != 0:
        pytest.skip(
            f"BUILDX PATH NOT RUN: the engine lacks BuildKit image {image}, and no registry here serves it"
        )
    name = f"releasectl-image-test-{os.getpid()}"
    path = f"{Path(docker.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    builder = BuildxBuilder(DockerCli(RecordingReporter(), env={**os.environ, **docker.env, "PATH": path}))
    try:
        builder.ensure_builder(name, image)
        inspected = docker.run("buildx", "inspect", name).stdout
        assert "running" in inspected.lower()
        builder.ensure_builder(name, image)  # the second release reuses it
    finally:
        docker.run("buildx", "rm", "--force", name, check=False)
