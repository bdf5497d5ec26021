"""The sandbox image builder (`--builder sandbox`): an OCI image without a Docker engine.

build_image() evaluates the Dockerfile (releasectl_sandbox.dockerfile) with the build args, puts what
its COPY steps take from the admitted build context (releasectl_sandbox.dockerignore) into one
reproducible layer, writes an OCI image config (ENV, CMD, ENTRYPOINT, WORKDIR, USER, LABELs,
EXPOSE, HEALTHCHECK, STOPSIGNAL) and an OCI manifest, and keeps all three in the sandbox blob
store. The digest is sha256 of the manifest bytes, as in a registry. Same inputs, same digest.

What it does not do: RUN steps (refused), and the base image's layers (the FROM image is
named in the manifest's annotations, not included; sandbox tasks run the image's command with
this machine's Python). push() stores the manifest in the sandbox's ECR with put_image.

It needs no sandbox in this process: a `releasectl release` inside a simulated CodeBuild build
finds the blob store through RELEASECTL_SANDBOX_STATE and pushes through AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releasectl.core.errors import Conflict, OperationFailed, UsageError
from releasectl_sandbox.dockerfile import Healthcheck, ImageConfig, image_config
from releasectl_sandbox.dockerignore import admitted_files
from releasectl_sandbox.layer import copy_entries, gzip_layer, layer_tar
from releasectl_sandbox.state import BlobStore, sha256_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
EPOCH = "1970-01-01T00:00:00Z"
BUILDER_ANNOTATION = "dev.releasectl.builder"


@dataclass(frozen=True)
class SandboxImage:
    """An image in the blob store, ready to push."""

    manifest: str  # the exact text ECR stores; its sha256 is the digest
    digest: str
    config_digest: str
    layer_digest: str
    diff_id: str
    files: tuple[str, ...]  # paths in the layer, directories included
    media_type: str = OCI_MANIFEST


def _nanoseconds(seconds: float) -> int:
    return round(seconds * 1_000_000_000)


def _healthcheck(check: Healthcheck) -> dict[str, Any]:
    return {
        "Test": list(check.test),
        "Interval": _nanoseconds(check.interval_s),
        "Timeout": _nanoseconds(check.timeout_s),
        "StartPeriod": _nanoseconds(check.start_period_s),
        "StartInterval": _nanoseconds(check.start_interval_s),
        "Retries": check.retries,
    }


def config_json(config: ImageConfig, *, diff_id: str, created: str, platform: str) -> bytes:
    """The OCI image config, serialised once and for all (sorted keys, no spaces)."""
    os_name, _, architecture = platform.partition("/")
    runtime: dict[str, Any] = {
        "Env": [f"{k}={v}" for k, v in config.env.items()],
        "WorkingDir": config.workdir,
    }
    if config.entrypoint is not None:
        runtime["Entrypoint"] = list(config.entrypoint)
    if config.cmd is not None:
        runtime["Cmd"] = list(config.cmd)
    if config.user:
        runtime["User"] = config.user
    if config.labels:
        runtime["Labels"] = dict(config.labels)
    if config.exposed_ports:
        runtime["ExposedPorts"] = {port: {} for port in config.exposed_ports}
    if config.volumes:
        runtime["Volumes"] = {volume: {} for volume in config.volumes}
    if config.stop_signal:
        runtime["StopSignal"] = config.stop_signal
    if config.healthcheck is not None:
        runtime["Healthcheck"] = _healthcheck(config.healthcheck)
    body = {
        "architecture": architecture or "amd64",
        "os": os_name or "linux",
        "created": created,
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [
            {
                "created": created,
                "created_by": f"releasectl sandbox builder: FROM {config.base_image} (not included)",
                "empty_layer": True,
            },
            {"created": created, "created_by": "releasectl sandbox builder: COPY steps of the Dockerfile"},
        ],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def manifest_json(*, config: bytes, layer: bytes, base_image: str) -> str:
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": sha256_digest(layer), "size": len(layer)}],
        "annotations": {"org.opencontainers.image.base.name": base_image, BUILDER_ANNOTATION: "sandbox"},
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def build_image(
    context_dir: Path,
    dockerfile: Path | None = None,
    build_args: Mapping[str, str] | None = None,
    *,
    store: BlobStore | None = None,
    platform: str = "linux/amd64",
) -> SandboxImage:
    """Build the image of `dockerfile` (default: context_dir/Dockerfile) into the blob store
    (default: the one RELEASECTL_SANDBOX_STATE names). A BUILD_DATE build arg sets the config's
    `created`; without it the time is the epoch, so rebuilding never changes the digest."""
    args = dict(build_args or {})
    store = store or BlobStore.from_env()
    path = dockerfile or context_dir / "Dockerfile"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"Dockerfile {path} does not exist", hint="pass the Dockerfile's path") from None
    config = image_config(text, args)
    if config.runs:
        raise UsageError(
            "the sandbox builder cannot run RUN steps (there is no container engine)",
            hint="keep RUN out of the Dockerfile, or build with --builder docker",
        )
    entries = copy_entries(context_dir, config.copies, admitted_files(context_dir), config.workdir)
    tar_bytes = layer_tar(entries)
    layer = gzip_layer(tar_bytes)
    diff_id = sha256_digest(tar_bytes)
    created = args.get("BUILD_DATE") or EPOCH
    config_bytes = config_json(config, diff_id=diff_id, created=created, platform=platform)
    manifest = manifest_json(config=config_bytes, layer=layer, base_image=config.base_image)
    layer_digest = store.put(layer)
    config_digest = store.put(config_bytes)
    digest = store.put(manifest.encode())
    return SandboxImage(
        manifest=manifest,
        digest=digest,
        config_digest=config_digest,
        layer_digest=layer_digest,
        diff_id=diff_id,
        files=tuple(e.path for e in entries),
    )


def push(client: Any, repository: str, image: SandboxImage, *, tags: Sequence[str] = ()) -> str:
    """put_image the manifest into ECR, once per tag (or once untagged); returns the digest.

    A tag that already names this image is fine (a re-run); one that names another image is a
    Conflict (exit 5). Untagged pushes need a repository without tag-mutability exclusion
    filters in the sandbox: moto 5.2.5 fails on them there.
    """
    from releasectl.adapters.aws.clients import aws_errors
    from releasectl.adapters.aws.ecr_tags import TagWrite, put_tag

    if not tags:
        with aws_errors(f"pushing {image.digest} to ECR repository {repository!r}"):
            client.put_image(
                repositoryName=repository,
                imageManifest=image.manifest,
                imageManifestMediaType=image.media_type,
                imageDigest=image.digest,
            )
        return image.digest
    for tag in tags:
        written = put_tag(
            client,
            repository,
            tag=tag,
            digest=image.digest,
            manifest=image.manifest,
            media_type=image.media_type,
        )
        if written.status is TagWrite.TAKEN:
            raise Conflict(
                f"tag {tag!r} in ECR repository {repository!r} already names image {written.other_digest}, "
                f"not {image.digest}",
                hint="the same commit was built differently before; release a new commit",
            )
    return image.digest


def build_for_release(
    context_dir: Path,
    *,
    build_args: Mapping[str, str],
    env: Mapping[str, str] | None = None,
    dockerfile: Path | None = None,
) -> SandboxImage:
    """What `releasectl release --builder sandbox` calls: build into the blob store that
    RELEASECTL_SANDBOX_STATE (in `env`, default os.environ) names. Nothing is pushed: the version
    claim puts the manifest into ECR with its tags (push() does the same for other callers)."""
    return build_image(context_dir, dockerfile, build_args, store=BlobStore.from_env(env))


# ----------------------------------------------------------------------------- reading back


@dataclass(frozen=True)
class ImageSpec:
    """What a task needs from a pushed image."""

    digest: str
    layer_digests: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    workdir: str


def read_image(store: BlobStore, manifest: str, digest: str) -> ImageSpec:
    """The runnable parts of an image, from its manifest (as ECR returns it) and the blob store."""
    try:
        body = json.loads(manifest)
        config_digest = body["config"]["digest"]
        layers = tuple(layer["digest"] for layer in body.get("layers") or ())
    except (ValueError, KeyError, TypeError):
        raise OperationFailed(f"image {digest}: the manifest is not an image manifest") from None
    try:
        runtime = json.loads(store.get(config_digest)).get("config") or {}
    except ValueError:
        raise OperationFailed(f"image {digest}: its config is not JSON") from None
    env = tuple(
        (name, value) for name, _, value in (item.partition("=") for item in runtime.get("Env") or ())
    )
    return ImageSpec(
        digest=digest,
        layer_digests=layers,
        env=env,
        entrypoint=tuple(runtime.get("Entrypoint") or ()),
        cmd=tuple(runtime.get("Cmd") or ()),
        workdir=runtime.get("WorkingDir") or "/",
    )
