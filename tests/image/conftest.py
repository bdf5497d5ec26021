"""Fixtures of the real-engine image tests: the engine, an offline base, the image from the Dockerfile."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from releasectl_sandbox.dockerignore import admitted_files
from tests.image.engine import ROOT, Docker, engine, make_base

BUILD_ARGS = {
    "APP_VERSION": "3.1.4",
    "GIT_COMMIT": "0123456789abcdef0123456789abcdef01234567",
    "BUILD_DATE": "2025-01-02T03:04:05Z",
    "SOURCE_URL": "https://github.com/example/hello-world",
}


Builder = Callable[..., "BuiltImage"]


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    base: str
    build_args: dict[str, str]
    log: str


def _prefix() -> str:
    # Several xdist workers share one engine: every name they make is their own.
    return f"releasectl-image-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}"


@pytest.fixture(scope="session")
def docker() -> Docker:
    found, why = engine()
    if found is None:
        pytest.skip(f"REAL-ENGINE IMAGE TESTS NOT RUN: {why}")
    return found


@pytest.fixture(scope="session")
def base_image(docker: Docker) -> Iterator[str]:
    made = make_base(docker, f"{_prefix()}/base:offline")
    yield made
    if made.startswith(_prefix()):
        docker.run("rmi", "--force", made, check=False)


def copy_context(target: Path) -> Path:
    """The build context as the repository's .dockerignore admits it, plus the Dockerfile."""
    for path in [*admitted_files(ROOT), Path("Dockerfile"), Path(".dockerignore")]:
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, target / path)
    return target


@pytest.fixture(scope="session")
def build(docker: Docker, base_image: str) -> Iterator[Builder]:
    """build(context=None, **args) -> BuiltImage; every tag it made is removed at the end."""
    tags: list[str] = []

    def run(context: Path | None = None, **overrides: str) -> BuiltImage:
        args = {**BUILD_ARGS, "BASE_IMAGE": base_image, **overrides}
        tag = f"{_prefix()}/hello:{len(tags)}"
        tags.append(tag)
        log = docker.build(context or ROOT, tag, args)
        return BuiltImage(tag, base_image, args, log)

    yield run
    if tags:
        docker.run("rmi", "--force", *tags, check=False)


@pytest.fixture(scope="session")
def image(build: Builder) -> BuiltImage:
    return build()
