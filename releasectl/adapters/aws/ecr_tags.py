"""ECR, write side: put a tag on an image, retag without a pull, claim a version atomically.

docs/design.md §4 (claim) and §5 (retag). Each function takes a boto3 ECR client; reads go through
releasectl.adapters.aws.ecr.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from releasectl.adapters.aws.clients import aws_errors, error_code
from releasectl.adapters.aws.ecr import (
    RepositoryInfo,
    client_error_class,
    describe_repository,
    read_manifest,
    repository_missing,
    tag_digest,
)
from releasectl.core.config import DEFAULT_FLOATING_TAGS
from releasectl.core.errors import Conflict, EnvironmentProblem, OperationFailed, ReleasectlError, UsageError
from releasectl.core.imageref import validate_digest, validate_tag
from releasectl.core.versions import commit_tag, is_release_tag

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr.type_defs import ImageIdentifierTypeDef

# "The image is already there": AWS raises the first for the same image and the second for a
# tag held by another digest in an immutable repository; moto raises the first for both.
_TAG_TAKEN_CODES = {"ImageAlreadyExistsException", "ImageTagAlreadyExistsException"}
_TAG_WRITE_ATTEMPTS = 3


class TagWrite(StrEnum):
    CREATED = "created"  # this call put the tag on the image
    PRESENT = "present"  # the tag already named this image
    TAKEN = "taken"  # the tag names another image and cannot be moved


@dataclass(frozen=True)
class TagWriteResult:
    status: TagWrite
    other_digest: str | None = None


def put_tag(
    client: ECRClient, repository: str, *, tag: str, digest: str, manifest: str, media_type: str
) -> TagWriteResult:
    """Put `tag` on the image with `digest` (whose manifest bytes are given) with one put_image.

    A refusal is confirmed by reading where the tag points, because moto and AWS disagree on
    the error code and only the digest tells "already ours" from "someone else's".
    """
    client_error = client_error_class()
    for _ in range(_TAG_WRITE_ATTEMPTS):
        with aws_errors(f"tagging {digest} as {tag!r} in ECR repository {repository!r}"):
            try:
                response = client.put_image(
                    repositoryName=repository,
                    imageManifest=manifest,
                    imageManifestMediaType=media_type,
                    imageDigest=digest,
                    imageTag=tag,
                )
            except client_error as exc:
                code = error_code(exc)
                if code == "RepositoryNotFoundException":
                    raise repository_missing(repository, exc) from None
                if code not in _TAG_TAKEN_CODES:
                    raise
            else:
                written = response.get("image", {}).get("imageId", {}).get("imageDigest")
                if written != digest:
                    raise OperationFailed(
                        f"ECR stored tag {tag!r} on {written} instead of {digest} in {repository!r}",
                        hint="the manifest bytes changed on the way; inspect the tag before using it",
                    )
                return TagWriteResult(TagWrite.CREATED)
        current = tag_digest(client, repository, tag)
        if current == digest:
            return TagWriteResult(TagWrite.PRESENT)
        if current is not None:
            return TagWriteResult(TagWrite.TAKEN, other_digest=current)
        # Refused, yet no image has the tag: it was deleted in between. Try again.
    raise OperationFailed(
        f"tag {tag!r} in ECR repository {repository!r} kept changing while it was being written",
        hint="run the command again",
    )


@dataclass(frozen=True)
class RetagResult:
    repository: str
    tag: str
    digest: str
    media_type: str
    registry_id: str | None
    changed: bool  # False: the tag already named this image


def retag(client: ECRClient, repository: str, *, source_tag_or_digest: str, target_tag: str) -> RetagResult:
    """Point `target_tag` at the image named by a tag or digest, without pulling it (docs/design.md §5).

    Costs one batch_get_image and one put_image, plus one describe_images when ECR refuses the
    write. Missing source → exit 4; target held immutably by another image → exit 5.
    """
    validate_tag(target_tag, what="target tag")
    image_id: ImageIdentifierTypeDef
    if source_tag_or_digest.startswith("sha256:"):
        image_id = {"imageDigest": validate_digest(source_tag_or_digest)}
    else:
        image_id = {"imageTag": validate_tag(source_tag_or_digest, what="source tag")}
    source = read_manifest(client, repository, image_id, source_tag_or_digest)
    written = put_tag(
        client,
        repository,
        tag=target_tag,
        digest=source.digest,
        manifest=source.manifest,
        media_type=source.media_type,
    )
    if written.status is TagWrite.TAKEN:
        raise Conflict(
            f"tag {target_tag!r} is immutable in ECR repository {repository!r} and names "
            f"{written.other_digest}, not {source.digest}",
            hint=f"exclude {target_tag!r} from the repository's tag immutability (an "
            "IMMUTABLE_WITH_EXCLUSION filter, as infra/releasectl.yaml sets for the floating tags), "
            "or use another tag",
        )
    return RetagResult(
        repository=repository,
        tag=target_tag,
        digest=source.digest,
        media_type=source.media_type,
        registry_id=source.registry_id,
        changed=written.status is TagWrite.CREATED,
    )


# ----------------------------------------------------------------------------- claiming versions


class ClaimStatus(StrEnum):
    WON = "won"  # this call put the version tag on our digest
    ALREADY_OURS = "already_ours"  # the version already named our digest (a re-run): nothing to do
    LOST = "lost"  # another digest holds the version (or our commit's tag): re-read and recompute


@dataclass(frozen=True)
class ClaimResult:
    status: ClaimStatus
    version: str
    commit: str
    digest: str
    contested_tag: str | None = None  # on LOST: `X.Y.Z`, or `git-<sha>` when the commit has another image
    other_digest: str | None = None

    @property
    def won(self) -> bool:
        return self.status is not ClaimStatus.LOST


def claim(
    client: ECRClient,
    repository: str,
    *,
    digest: str,
    manifest: str,
    media_type: str,
    version: str,
    commit: str,
    repository_info: RepositoryInfo | None = None,
) -> ClaimResult:
    """Claim `version` for the image `digest` built from `commit` (docs/design.md §4).

    Puts `X.Y.Z` first, then `git-<commit>`. The version is the contested name: ECR's tag
    immutability makes a refused put_image the lock, and losing it writes nothing, so the
    caller can recompute, rebuild (the version is baked into the image) and try again. The
    commit tag goes on only once the version is ours. If the commit tag already names another
    image (this commit was released under another version meanwhile), the version tag this call
    created is deleted again, so no version is left half-claimed.
    """
    validate_digest(digest)
    if not is_release_tag(version):
        raise UsageError(f"version {version!r} is not X.Y.Z or X.Y.Z-rc.N")
    git_tag = commit_tag(commit)
    info = repository_info or describe_repository(client, repository)
    movable = [t for t in (git_tag, version) if info.tag_is_mutable(t)]
    if movable:
        # In a repository where these tags can be overwritten, put_image would silently move a
        # version another pipeline already claimed: there is no lock, so refuse to pretend.
        raise EnvironmentProblem(
            f"ECR repository {repository!r} lets tag {movable[-1]!r} be overwritten "
            f"(imageTagMutability {info.tag_mutability}), so a version claim there cannot be atomic",
            hint=f"aws ecr put-image-tag-mutability --repository-name {repository} "
            "--image-tag-mutability IMMUTABLE_WITH_EXCLUSION --image-tag-mutability-exclusion-filters "
            + " ".join(f"filterType=WILDCARD,filter={tag}" for tag in DEFAULT_FLOATING_TAGS),
        )
    common = {"digest": digest, "manifest": manifest, "media_type": media_type}
    try:
        by_version = put_tag(client, repository, tag=version, **common)
    except (ReleasectlError, KeyboardInterrupt) as exc:
        # A write whose answer was lost may still have landed; only the version tag can have so far.
        _take_back(client, repository, version=version, commit_tag=None, digest=digest, cause=exc)
        raise
    if by_version.status is TagWrite.TAKEN:
        return ClaimResult(
            ClaimStatus.LOST,
            version,
            commit,
            digest,
            contested_tag=version,
            other_digest=by_version.other_digest,
        )
    try:
        by_commit = put_tag(client, repository, tag=git_tag, **common)
    except (ReleasectlError, KeyboardInterrupt) as exc:
        _take_back(client, repository, version=version, commit_tag=git_tag, digest=digest, cause=exc)
        raise
    if by_commit.status is TagWrite.TAKEN:
        if by_version.status is TagWrite.CREATED:
            delete_tag(client, repository, version)
        return ClaimResult(
            ClaimStatus.LOST,
            version,
            commit,
            digest,
            contested_tag=git_tag,
            other_digest=by_commit.other_digest,
        )
    fresh = TagWrite.CREATED in (by_version.status, by_commit.status)
    return ClaimResult(ClaimStatus.WON if fresh else ClaimStatus.ALREADY_OURS, version, commit, digest)


def _take_back(
    client: ECRClient,
    repository: str,
    *,
    version: str,
    commit_tag: str | None,
    digest: str,
    cause: BaseException,
) -> None:
    """After a claim failed halfway, remove what it may have written on our image: the version
    tag first (a version without its commit tag is the worse leftover, docs/design.md §4), then the
    commit tag (a write whose answer was lost may have landed). A re-run then claims it whole.
    Says in `cause` what was done, or what is left to do by hand when even this failed."""
    if isinstance(cause, EnvironmentProblem | UsageError):
        return  # refused before anything was written (exit 2/4 promise exactly that)
    left = [version] if commit_tag is None else [version, commit_tag]
    for _ in range(_TAG_WRITE_ATTEMPTS):
        try:
            while left:
                if tag_digest(client, repository, left[0]) == digest:
                    delete_tag(client, repository, left[0])
                left.pop(0)
        except ReleasectlError:
            continue
        if isinstance(cause, ReleasectlError):
            cause.message += f"; version {version} was not claimed"
        return
    if isinstance(cause, ReleasectlError):
        cause.message += f"; tag(s) {', '.join(left)} may be left on {digest} without the rest of the claim"
        cause.hint = (
            f"remove them with `aws ecr batch-delete-image --repository-name {repository} --image-ids "
            + " ".join(f"imageTag={tag}" for tag in left)
            + "`, then run the release again"
        )


def delete_tag(client: ECRClient, repository: str, tag: str) -> None:
    """Remove one tag (immutability forbids moving a tag, not deleting it)."""
    with aws_errors(f"removing tag {tag!r} from ECR repository {repository!r}"):
        response = client.batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": tag}])
    failures = [f for f in response.get("failures", []) if f.get("failureCode") != "ImageNotFound"]
    if failures:
        raise OperationFailed(
            f"could not remove tag {tag!r} from ECR repository {repository!r}: "
            f"{failures[0].get('failureReason') or failures[0].get('failureCode')}",
            hint=f"remove it by hand: aws ecr batch-delete-image --repository-name {repository} "
            f"--image-ids imageTag={tag}",
        )
