"""The sandbox image builder: reproducible OCI images from exactly what .dockerignore admits."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from releasectl.core.errors import Conflict, EnvironmentProblem, UsageError
from releasectl_sandbox.images import OCI_MANIFEST, build_for_release, build_image, push, read_image
from releasectl_sandbox.state import BlobStore, sha256_digest
from tests.support.ecr_fixtures import create_repository
from tests.support.sandbox_projects import copy_context

ARGS = {"APP_VERSION": "1.2.0", "GIT_COMMIT": "a" * 40, "BUILD_DATE": "2026-01-02T03:04:05Z"}


@pytest.fixture
def context(tmp_path: Path) -> Path:
    return copy_context(tmp_path / "context")


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "state" / "blobs")


def layer_members(store: BlobStore, digest: str) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(store.get(digest)), mode="r:gz") as tar:
        return {member.name: member for member in tar.getmembers()}


def config_of(store: BlobStore, image: Any) -> dict[str, Any]:
    return dict(json.loads(store.get(image.config_digest)))


def test_same_inputs_give_the_same_digest(context: Path, store: BlobStore, tmp_path: Path) -> None:
    first = build_image(context, None, ARGS, store=store)
    again = build_image(context, None, ARGS, store=BlobStore(tmp_path / "other"))
    assert first.digest == again.digest
    assert first.manifest == again.manifest


def test_digest_is_sha256_of_the_manifest_bytes(context: Path, store: BlobStore) -> None:
    image = build_image(context, None, ARGS, store=store)
    assert image.digest == sha256_digest(image.manifest.encode())
    assert json.loads(image.manifest)["mediaType"] == image.media_type == OCI_MANIFEST


def test_a_version_only_change_reuses_the_layer(context: Path, store: BlobStore) -> None:
    first = build_image(context, None, ARGS, store=store)
    second = build_image(context, None, {**ARGS, "APP_VERSION": "1.3.0"}, store=store)
    assert second.layer_digest == first.layer_digest
    assert second.digest != first.digest


def test_a_code_change_changes_only_the_layer(context: Path, store: BlobStore) -> None:
    first = build_image(context, None, ARGS, store=store)
    source = context / "service" / "hello_world.py"
    source.write_text(source.read_text() + "\n# a change\n")
    second = build_image(context, None, ARGS, store=store)
    assert second.layer_digest != first.layer_digest
    before, after = config_of(store, first), config_of(store, second)
    assert before["rootfs"] != after["rootfs"]
    assert {**before, "rootfs": None} == {**after, "rootfs": None}


def test_the_layer_holds_exactly_what_dockerignore_admits_under_workdir(
    context: Path, store: BlobStore
) -> None:
    (context / "README.md").write_text("not admitted\n")
    (context / "service" / "notes.txt").write_text("not admitted either\n")
    image = build_image(context, None, ARGS, store=store)
    members = layer_members(store, image.layer_digest)
    assert sorted(members) == ["app", "app/service", "app/service/hello_world.py"]
    assert [name for name, member in members.items() if member.isdir()] == ["app", "app/service"]
    assert image.files == ("app", "app/service", "app/service/hello_world.py")


def test_layer_entries_have_fixed_times_owners_and_modes(context: Path, store: BlobStore) -> None:
    image = build_image(context, None, ARGS, store=store)
    for member in layer_members(store, image.layer_digest).values():
        assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (0, 0, 0, "", "")
        assert member.mode == (0o755 if member.isdir() else 0o644)
    assert gzip.decompress(store.get(image.layer_digest))  # a valid gzip stream
    assert store.get(image.layer_digest)[4:8] == b"\0\0\0\0"  # gzip header mtime is 0


def test_config_holds_the_dockerfile_settings_and_version_build_args(context: Path, store: BlobStore) -> None:
    config = config_of(store, build_image(context, None, ARGS, store=store))
    runtime = config["config"]
    assert "APP_VERSION=1.2.0" in runtime["Env"] and f"GIT_COMMIT={'a' * 40}" in runtime["Env"]
    assert "PYTHONUNBUFFERED=1" in runtime["Env"]
    assert runtime["Cmd"] == ["python", "service/hello_world.py"]
    assert runtime["WorkingDir"] == "/app"
    assert runtime["User"] == "10001:10001"
    assert runtime["ExposedPorts"] == {"8080/tcp": {}}
    assert runtime["Labels"]["org.opencontainers.image.version"] == "1.2.0"
    assert runtime["Labels"]["org.opencontainers.image.created"] == ARGS["BUILD_DATE"]
    assert runtime["Healthcheck"]["Test"] == ["CMD", "python", "service/hello_world.py", "--check"]
    assert runtime["Healthcheck"]["Interval"] == 10_000_000_000
    assert config["created"] == ARGS["BUILD_DATE"]


def test_read_image_returns_what_a_task_runs(context: Path, store: BlobStore) -> None:
    image = build_image(context, None, ARGS, store=store)
    spec = read_image(store, image.manifest, image.digest)
    assert spec.cmd == ("python", "service/hello_world.py")
    assert spec.workdir == "/app"
    assert ("APP_VERSION", "1.2.0") in spec.env
    assert spec.layer_digests == (image.layer_digest,)


def test_copy_of_a_file_excluded_by_dockerignore_is_refused(context: Path, store: BlobStore) -> None:
    (context / "extra.txt").write_text("x\n")
    dockerfile = context / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace("COPY service", "COPY extra.txt /extra.txt\nCOPY service")
    )
    with pytest.raises(UsageError, match=r"COPY extra\.txt.*excluded by \.dockerignore"):
        build_image(context, None, ARGS, store=store)


def test_run_steps_are_refused_with_a_hint(context: Path, store: BlobStore) -> None:
    dockerfile = context / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("WORKDIR /app", "WORKDIR /app\nRUN true"))
    with pytest.raises(UsageError, match="RUN") as raised:
        build_image(context, None, ARGS, store=store)
    assert raised.value.hint and "--builder docker" in raised.value.hint


def test_build_for_release_finds_the_store_through_the_sandbox_state_variable(
    context: Path, tmp_path: Path
) -> None:
    image = build_for_release(
        context, build_args=ARGS, env={"RELEASECTL_SANDBOX_STATE": str(tmp_path / "state")}
    )
    assert BlobStore(tmp_path / "state" / "blobs").get(image.digest) == image.manifest.encode()


def test_build_for_release_outside_a_sandbox_says_how_to_get_one(context: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="RELEASECTL_SANDBOX_STATE"):
        build_for_release(context, build_args=ARGS, env={})


@mock_aws
def test_push_puts_the_exact_manifest_under_each_tag(context: Path, store: BlobStore) -> None:
    import boto3

    ecr = boto3.client("ecr", region_name="us-east-1")
    create_repository(ecr, "hello-world", mutability="IMMUTABLE_WITH_EXCLUSION", mutable_tags=["latest"])
    image = build_image(context, None, ARGS, store=store)
    assert push(ecr, "hello-world", image, tags=[f"git-{'a' * 40}", "1.2.0"]) == image.digest
    stored = ecr.batch_get_image(repositoryName="hello-world", imageIds=[{"imageTag": "1.2.0"}])["images"][0]
    assert stored["imageManifest"] == image.manifest
    assert stored["imageId"]["imageDigest"] == image.digest
    # Pushing the same image again changes nothing and succeeds.
    assert push(ecr, "hello-world", image, tags=["1.2.0"]) == image.digest


@mock_aws
def test_push_of_another_image_to_a_taken_tag_is_a_conflict(context: Path, store: BlobStore) -> None:
    import boto3

    ecr = boto3.client("ecr", region_name="us-east-1")
    create_repository(ecr, "hello-world", mutability="IMMUTABLE_WITH_EXCLUSION", mutable_tags=["latest"])
    push(ecr, "hello-world", build_image(context, None, ARGS, store=store), tags=["1.2.0"])
    other = build_image(context, None, {**ARGS, "APP_VERSION": "9.9.9"}, store=store)
    with pytest.raises(Conflict, match="already names image"):
        push(ecr, "hello-world", other, tags=["1.2.0"])
