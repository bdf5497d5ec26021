"""Put realistic images into a (moto) ECR repository.

moto accepts any manifest and any digest, so these helpers build what a registry really
holds: a Docker v2 / OCI manifest or index as JSON text, whose digest is sha256 of exactly
those bytes, pushed with put_image and the matching imageManifestMediaType.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

_LAYER_TYPES = {
    DOCKER_MANIFEST: (
        "application/vnd.docker.container.image.v1+json",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
    ),
    OCI_MANIFEST: ("application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip"),
}
_unique = itertools.count(1)


def sha256_digest(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return "sha256:" + hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class Manifest:
    text: str  # the exact bytes ECR stores (as str, which is what the API carries)
    media_type: str
    digest: str


def image_manifest(*, config_bytes: bytes | None = None, media_type: str = DOCKER_MANIFEST) -> Manifest:
    """A single-platform image manifest; different config bytes give a different digest."""
    if config_bytes is None:
        config_bytes = json.dumps({"architecture": "amd64", "os": "linux", "n": next(_unique)}).encode()
    config_type, layer_type = _LAYER_TYPES[media_type]
    layer = b"layer for " + config_bytes
    body = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": config_type,
            "size": len(config_bytes),
            "digest": sha256_digest(config_bytes),
        },
        "layers": [{"mediaType": layer_type, "size": len(layer), "digest": sha256_digest(layer)}],
    }
    text = json.dumps(body, indent=3)  # registries keep whatever whitespace was pushed
    return Manifest(text, media_type, sha256_digest(text))


def index_manifest(children: Sequence[Manifest], *, media_type: str = OCI_INDEX) -> Manifest:
    """A multi-platform index (OCI) or manifest list (Docker) over already-built manifests."""
    platforms = [{"architecture": a, "os": "linux"} for a in ("amd64", "arm64", "ppc64le", "s390x")]
    body = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {"mediaType": c.media_type, "size": len(c.text.encode()), "digest": c.digest, "platform": p}
            for c, p in zip(children, platforms, strict=False)
        ],
    }
    text = json.dumps(body)
    return Manifest(text, media_type, sha256_digest(text))


def put_manifest(client: Any, repository: str, manifest: Manifest, *, tags: Sequence[str]) -> str:
    """put_image the manifest once per tag (at least once); returns its digest."""
    for tag in tags or [None]:
        args: dict[str, Any] = {
            "repositoryName": repository,
            "imageManifest": manifest.text,
            "imageManifestMediaType": manifest.media_type,
            "imageDigest": manifest.digest,
        }
        if tag is not None:
            args["imageTag"] = tag
        client.put_image(**args)
    return manifest.digest


def push_image(
    client: Any,
    repository: str,
    *,
    tags: Sequence[str],
    config_bytes: bytes | None = None,
    media_type: str = DOCKER_MANIFEST,
) -> str:
    """Push one image (manifest or, for index/list media types, an index over two platforms)
    with the given tags; returns the digest. Untagged pushes need a MUTABLE repository in moto."""
    if media_type in (OCI_INDEX, DOCKER_MANIFEST_LIST):
        child_type = OCI_MANIFEST if media_type == OCI_INDEX else DOCKER_MANIFEST
        base = config_bytes or json.dumps({"n": next(_unique)}).encode()
        children = [
            image_manifest(config_bytes=base + arch, media_type=child_type) for arch in (b"/amd64", b"/arm64")
        ]
        for child in children:
            # Tagged only because moto 5.2 crashes on untagged pushes to repositories with
            # exclusion filters; the ledger ignores tags that are not release tags.
            put_manifest(client, repository, child, tags=[f"child-{child.digest[7:19]}"])
        return put_manifest(client, repository, index_manifest(children, media_type=media_type), tags=tags)
    return put_manifest(
        client, repository, image_manifest(config_bytes=config_bytes, media_type=media_type), tags=tags
    )


def create_repository(
    client: Any, name: str, *, mutability: str = "MUTABLE", mutable_tags: Sequence[str] = ()
) -> dict[str, Any]:
    """A repository; with mutability IMMUTABLE_WITH_EXCLUSION, `mutable_tags` are the wildcard
    filters left mutable (the production setting: release tags fixed, `latest` floating)."""
    args: dict[str, Any] = {"repositoryName": name, "imageTagMutability": mutability}
    if mutable_tags:
        args["imageTagMutabilityExclusionFilters"] = [
            {"filterType": "WILDCARD", "filter": t} for t in mutable_tags
        ]
    return dict(client.create_repository(**args)["repository"])


def snapshot(client: Any, repository: str) -> list[tuple[str, tuple[str, ...]]]:
    """(digest, sorted tags) of every image: compare before/after to prove nothing changed."""
    details = client.describe_images(repositoryName=repository)["imageDetails"]
    return sorted((d["imageDigest"], tuple(sorted(d.get("imageTags") or ()))) for d in details)


def tags_of(client: Any, repository: str, digest: str) -> set[str]:
    details = client.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])
    return set(details["imageDetails"][0].get("imageTags") or ())
