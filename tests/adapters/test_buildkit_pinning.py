"""Nothing floats at build time: the BuildKit daemon image is pinned by digest and configurable, the
builder is bootstrapped at creation so a daemon image that cannot be pulled fails at once with the
fix, and the Dockerfile pulls no syntax frontend."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from releasectl.adapters.docker import (
    BuildxBuilder,
    DockerCli,
    ImageBuild,
    buildx_build_argv,
    buildx_create_argv,
)
from releasectl.commands.context import RecordingReporter
from releasectl.core.config import DEFAULT_BUILDKIT_IMAGE, load_config
from releasectl.core.errors import EnvironmentProblem, UsageError

ROOT = Path(__file__).resolve().parents[2]
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
MIRROR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/moby/buildkit"
PINNED_BASE = (
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/library/python:3.12.8-slim-bookworm"
    "@sha256:2199a62885a12290dc9c5be3ca0681d367576ab7bf037da120e564723292a2f0"
)


@dataclass
class ScriptedCli(DockerCli):
    """`docker` answering from a table of (argv prefix → exit, stdout, stderr); records every call."""

    answers: dict[tuple[str, ...], tuple[int, str, str]] = field(default_factory=dict)
    seen: list[list[str]] = field(default_factory=list)

    def run_quiet(self, args: Sequence[str], *, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        self.seen.append(list(args))
        for prefix, (code, out, err) in self.answers.items():
            if tuple(args[: len(prefix)]) == prefix:
                return subprocess.CompletedProcess(list(args), code, out, err)
        return subprocess.CompletedProcess(list(args), 0, "", "")


def cli(**answers: tuple[int, str, str]) -> ScriptedCli:
    table = {tuple(key.split("_")): value for key, value in answers.items()}
    return ScriptedCli(RecordingReporter(), env={}, answers=table)


def test_the_default_buildkit_image_is_pinned_by_digest() -> None:
    assert DIGEST.search(DEFAULT_BUILDKIT_IMAGE)
    assert load_config(env={}, cwd=ROOT).buildkit_image == DEFAULT_BUILDKIT_IMAGE


def test_the_buildkit_image_is_named_in_one_place_in_the_product() -> None:
    name = DEFAULT_BUILDKIT_IMAGE.split("@")[0]
    holders = [p for p in (ROOT / "releasectl").rglob("*.py") if name in p.read_text(encoding="utf-8")]
    assert [p.relative_to(ROOT).as_posix() for p in holders] == ["releasectl/core/config.py"]


def test_the_dockerfile_pulls_no_syntax_frontend() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert not re.search(r"^#\s*syntax\s*=", dockerfile, flags=re.MULTILINE | re.IGNORECASE)


def test_a_configured_buildkit_image_reaches_the_builder_it_creates() -> None:
    docker = cli(buildx_inspect=(1, "", 'ERROR: no builder "releasectl" found'))
    image = f"{MIRROR}:v0.18.2@sha256:{'a' * 64}"
    BuildxBuilder(docker).ensure_builder("releasectl", image)
    (create,) = [argv for argv in docker.seen if argv[:2] == ["buildx", "create"]]
    assert create == buildx_create_argv("releasectl", image=image)[1:]
    assert f"image={image}" in create and "--bootstrap" in create


def test_a_buildkit_image_that_cannot_be_pulled_fails_at_once_naming_the_setting() -> None:
    docker = cli(
        buildx_inspect=(1, "", "no builder"),
        buildx_create=(1, "", "ERROR: failed to pull moby/buildkit: toomanyrequests: rate limit"),
    )
    with pytest.raises(EnvironmentProblem) as caught:
        BuildxBuilder(docker).ensure_builder("releasectl", DEFAULT_BUILDKIT_IMAGE)
    text = caught.value.one_line()
    assert "toomanyrequests" in text and DEFAULT_BUILDKIT_IMAGE in text
    assert "buildkit_image" in text and "pull-through" in text
    assert caught.value.exit_code == 4


def test_a_builder_left_with_another_buildkit_image_is_refused_with_the_fix() -> None:
    docker = cli(
        buildx_inspect=(0, 'Name: releasectl\nDriver Options: image="moby/buildkit:buildx-stable-1"\n', "")
    )
    with pytest.raises(EnvironmentProblem) as caught:
        BuildxBuilder(docker).ensure_builder("releasectl", DEFAULT_BUILDKIT_IMAGE)
    assert "docker buildx rm releasectl" in caught.value.one_line()


def test_a_builder_with_the_configured_image_is_reused() -> None:
    docker = cli(
        buildx_inspect=(0, f'Name: releasectl\nDriver Options: image="{DEFAULT_BUILDKIT_IMAGE}"\n', "")
    )
    BuildxBuilder(docker).ensure_builder("releasectl", DEFAULT_BUILDKIT_IMAGE)
    assert [argv[:2] for argv in docker.seen] == [["buildx", "inspect"]]


def test_a_base_image_setting_becomes_the_base_image_build_arg(tmp_path: Path) -> None:
    build = ImageBuild(
        context=tmp_path,
        repository_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/hello-world",
        version="1.0.0",
        commit="0" * 40,
        build_date="2025-01-02T03:04:05Z",
        base_image=PINNED_BASE,
    )
    argv = buildx_build_argv(build, metadata_file=tmp_path / "meta.json")
    assert f"BASE_IMAGE={PINNED_BASE}" in argv
    without = buildx_build_argv(
        ImageBuild(**{**build.__dict__, "base_image": None}), metadata_file=tmp_path / "m"
    )
    assert not any(arg.startswith("BASE_IMAGE=") for arg in without)


@pytest.mark.parametrize("key", ["buildkit_image", "base_image"])
@pytest.mark.parametrize("value", ["moby/buildkit:latest", "moby/buildkit:v0.18.2", "python@sha256:abc"])
def test_an_image_setting_must_be_pinned_by_digest(key: str, value: str) -> None:
    with pytest.raises(UsageError, match=key):
        load_config(env={f"RELEASECTL_{key.upper()}": value})


@pytest.mark.parametrize(
    ("value", "platform"),
    [
        ("linux/amd64", "linux/amd64"),
        ("x86_64", "linux/amd64"),
        ("ARM64", "linux/arm64"),
        ("aarch64", "linux/arm64"),
    ],
)
def test_the_platform_setting_takes_the_usual_spellings(value: str, platform: str) -> None:
    assert load_config(env={"RELEASECTL_PLATFORM": value}).platform == platform


def test_a_platform_fargate_does_not_run_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        load_config(env={"RELEASECTL_PLATFORM": "windows/amd64"})
    assert "linux/amd64 or linux/arm64" in caught.value.one_line()
