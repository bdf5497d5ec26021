"""ECR, read side: the release ledger of record, repository settings, manifests, tag lookups.

Together with releasectl.adapters.aws.ecr_tags (the write side), the only code that calls ECR. Every
function takes a boto3 ECR client (from ctx.aws.client("ecr")) so tests can put moto, a
Stubber or a scripted fake behind it. botocore is imported inside functions.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from releasectl.adapters.aws.clients import aws_errors, each_page, error_code
from releasectl.core.errors import EnvironmentProblem, OperationFailed
from releasectl.core.imageref import ecr_registry, validate_digest
from releasectl.core.ledger import Release
from releasectl.core.versions import commit_of_tag, is_release_tag

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr.type_defs import ImageIdentifierTypeDef

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
# Without all four, batch_get_image answers a multi-arch image with a failure (or a converted
# manifest with another digest), and the retag would silently point at a different image.
ACCEPTED_MEDIA_TYPES = (DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX)

_PAGE_SIZE = 1000  # describe_images' maximum: one call per thousand images


class RepositoryMissing(EnvironmentProblem):
    """The ECR repository does not exist (exit 4)."""


def repository_missing(repository: str, exc: BaseException) -> RepositoryMissing:
    message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", "")) or str(exc)
    return RepositoryMissing(
        f"ECR repository {repository!r} does not exist ({message})",
        hint="create it with `releasectl infra deploy`, or set ecr_repository / RELEASECTL_ECR_REPOSITORY "
        "to an existing repository in this account and region",
    )


class ImageNotFound(EnvironmentProblem):
    """The repository exists but holds no image under that tag or digest (exit 4)."""


def client_error_class() -> type[Exception]:
    from botocore.exceptions import ClientError

    return ClientError


@contextlib.contextmanager
def repository_errors(repository: str, action: str) -> Iterator[None]:
    """aws_errors, with a missing repository told as such (exit 4) and how to create it."""
    client_error = client_error_class()
    with aws_errors(action):
        try:
            yield
        except client_error as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                raise repository_missing(repository, exc) from None
            raise


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class EcrImage:
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime | None = None
    media_type: str | None = None
    registry_id: str | None = None

    @property
    def versions(self) -> tuple[str, ...]:
        return tuple(t for t in self.tags if is_release_tag(t))

    @property
    def commits(self) -> tuple[str, ...]:
        return tuple(sorted(c for c in (commit_of_tag(t) for t in self.tags) if c))


class EcrLedger:
    """The releases recorded as tags in one ECR repository (docs/design.md §4)."""

    def __init__(self, client: ECRClient, repository: str) -> None:
        self.client = client
        self.repository = repository
        self._images: list[EcrImage] | None = None

    def images(self) -> list[EcrImage]:
        """Every tagged image, read in one paginated pass and kept for this ledger's lifetime."""
        if self._images is None:
            self._images = list(self._read_images())
        return self._images

    def _read_images(self) -> Iterator[EcrImage]:
        pages = self.client.get_paginator("describe_images").paginate(
            repositoryName=self.repository,
            filter={"tagStatus": "TAGGED"},
            PaginationConfig={"PageSize": _PAGE_SIZE},
        )
        action = f"reading releases from ECR repository {self.repository!r}"
        guard = functools.partial(repository_errors, self.repository, action)
        details = [detail for page in each_page(pages, guard) for detail in page.get("imageDetails", [])]
        for detail in details:
            yield EcrImage(
                digest=detail["imageDigest"],
                tags=tuple(detail.get("imageTags") or ()),
                pushed_at=detail.get("imagePushedAt"),
                media_type=detail.get("imageManifestMediaType"),
                registry_id=detail.get("registryId"),
            )

    def releases(self) -> list[Release]:
        """One Release per version tag. The commit comes from the image's `git-<sha>` tag; an
        image carrying several (rebuilt identically from several commits) has no single
        commit, so none is claimed rather than a guess."""
        found: list[Release] = []
        for image in self.images():
            commits = image.commits
            commit = commits[0] if len(commits) == 1 else None
            for version in image.versions:
                found.append(
                    Release(
                        version=version,
                        commit=commit,
                        digest=image.digest,
                        pushed_at=image.pushed_at,
                        sources=frozenset({"ecr"}),
                    )
                )
        return found

    def registry_id(self) -> str | None:
        return next((i.registry_id for i in self.images() if i.registry_id), None)


@dataclass(frozen=True)
class RepositoryInfo:
    name: str
    uri: str
    registry_id: str
    arn: str
    tag_mutability: str
    exclusion_filters: tuple[str, ...] = ()

    @property
    def registry(self) -> str:
        return self.uri.split("/", 1)[0]

    def tag_is_mutable(self, tag: str) -> bool:
        return tag_is_mutable(self.tag_mutability, self.exclusion_filters, tag)


def tag_is_mutable(mutability: str, exclusion_filters: tuple[str, ...], tag: str) -> bool:
    """Whether put_image may move `tag` in a repository with these settings. Exclusion filters
    invert the base setting for the tags they match (`*` is the only wildcard)."""
    excluded = any(_wildcard(f).fullmatch(tag) for f in exclusion_filters)
    if mutability == "IMMUTABLE":
        return False
    if mutability == "IMMUTABLE_WITH_EXCLUSION":
        return excluded
    if mutability == "MUTABLE_WITH_EXCLUSION":
        return not excluded
    # MUTABLE, and any setting this code does not know yet: assume tags can move.
    return True


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def describe_repository(client: ECRClient, repository: str) -> RepositoryInfo:
    """The repository's settings; EnvironmentProblem (exit 4) when it does not exist."""
    with repository_errors(repository, f"describing ECR repository {repository!r}"):
        found = client.describe_repositories(repositoryNames=[repository])["repositories"]
    if not found:
        raise repository_missing(repository, LookupError("not listed"))
    repo = found[0]
    return RepositoryInfo(
        name=repo["repositoryName"],
        uri=repo["repositoryUri"],
        registry_id=repo["registryId"],
        arn=repo["repositoryArn"],
        tag_mutability=repo.get("imageTagMutability", "MUTABLE"),
        exclusion_filters=tuple(
            f["filter"] for f in repo.get("imageTagMutabilityExclusionFilters") or () if "filter" in f
        ),
    )


def find_repository(client: ECRClient, repository: str) -> RepositoryInfo | None:
    """The repository's settings, or None when there is none by that name."""
    try:
        return describe_repository(client, repository)
    except RepositoryMissing:
        return None


@dataclass(frozen=True)
class ImageManifest:
    digest: str
    media_type: str
    manifest: str  # exactly as ECR stores it: re-serialising would change the digest
    registry_id: str | None


def manifest_for(client: ECRClient, repository: str, digest: str) -> ImageManifest:
    """The stored manifest of one image, by digest."""
    return read_manifest(client, repository, {"imageDigest": validate_digest(digest)}, digest)


def read_manifest(
    client: ECRClient, repository: str, image_id: ImageIdentifierTypeDef, label: str
) -> ImageManifest:
    with repository_errors(repository, f"reading image {label} from ECR repository {repository!r}"):
        response = client.batch_get_image(
            repositoryName=repository,
            imageIds=[image_id],
            acceptedMediaTypes=list(ACCEPTED_MEDIA_TYPES),
        )
    images = response.get("images") or []
    if not images:
        failure = (response.get("failures") or [{}])[0]
        code = failure.get("failureCode", "ImageNotFound")
        if code in {"ImageNotFound", "ImageTagDoesNotMatchDigest"}:
            raise ImageNotFound(
                f"image {label} not found in ECR repository {repository!r}",
                hint="see `releasectl releases` for what the repository holds",
            )
        raise OperationFailed(
            f"reading image {label} from ECR repository {repository!r}: {code}: "
            f"{failure.get('failureReason', 'no reason given')}"
        )
    image = images[0]
    manifest = image["imageManifest"]
    return ImageManifest(
        digest=image["imageId"]["imageDigest"],
        media_type=image.get("imageManifestMediaType") or media_type_of(manifest),
        manifest=manifest,
        registry_id=image.get("registryId"),
    )


def media_type_of(manifest: str) -> str:
    """The media type a manifest declares; OCI allows leaving it out, so infer it then."""
    try:
        data = json.loads(manifest)
    except ValueError:
        raise OperationFailed("the image manifest ECR returned is not JSON") from None
    declared = data.get("mediaType") if isinstance(data, dict) else None
    if isinstance(declared, str) and declared:
        return declared
    return OCI_INDEX if isinstance(data, dict) and "manifests" in data else OCI_MANIFEST


def tag_digest(client: ECRClient, repository: str, tag: str) -> str | None:
    """The digest a tag points at now, or None when no image has it."""
    client_error = client_error_class()
    with aws_errors(f"looking up tag {tag!r} in ECR repository {repository!r}"):
        try:
            details = client.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        except client_error as exc:
            code = error_code(exc)
            if code == "ImageNotFoundException":
                return None
            if code == "RepositoryNotFoundException":
                raise repository_missing(repository, exc) from None
            raise
    found = details.get("imageDetails") or []
    return str(found[0]["imageDigest"]) if found else None


def image_uri(registry_id: str, region: str, repository: str, digest: str) -> str:
    """`<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:…`: what deploys point at."""
    return f"{ecr_registry(registry_id, region)}/{repository}@{validate_digest(digest)}"
