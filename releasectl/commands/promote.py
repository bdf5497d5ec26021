"""`releasectl promote VERSION --tag TAG`: move a floating tag to a release's digest, without pulling."""

from __future__ import annotations

from collections.abc import Sequence

from releasectl.commands.context import Context
from releasectl.core.errors import UsageError
from releasectl.core.imageref import validate_tag
from releasectl.core.result import CommandResult, ImageInfo, Outcome
from releasectl.core.versions import is_commit_tag, looks_like_version, parse_version_argument


def floating_tag(tag: str, allowed: Sequence[str]) -> str:
    """A tag promote may move: valid Docker syntax, neither a version nor `git-…` (the immutable
    release tags: moving one would rewrite the ledger), and one of the configured floating_tags,
    which are the tags the release repository excludes from immutability."""
    validate_tag(tag, what="tag")
    listed = ", ".join(allowed)
    if looks_like_version(tag):
        raise UsageError(
            f"tag {tag!r} looks like a version; promote moves floating tags only ({listed})",
            hint=f"use one of the floating tags: {listed}",
        )
    if is_commit_tag(tag):
        raise UsageError(
            f"tag {tag!r} is a commit tag; promote moves floating tags only ({listed})",
            hint=f"use one of the floating tags: {listed}",
        )
    if tag not in allowed:
        raise UsageError(
            f"tag {tag!r} is not a floating tag; promote moves only {listed}",
            hint="add it to floating_tags under [tool.releasectl] (or RELEASECTL_FLOATING_TAGS) and to the "
            "release repository's exclusion filters (infra/releasectl.yaml)",
        )
    return tag


def promote(ctx: Context, *, version: str, tag: str) -> CommandResult:
    """Point `tag` at VERSION's image without pulling it: batch_get_image + put_image, plus one
    describe_images only when ECR refuses the write (≤ 3 calls)."""
    from releasectl.adapters.aws.ecr import ImageNotFound, image_uri
    from releasectl.adapters.aws.ecr_tags import retag

    started = ctx.clock.now()
    wanted = parse_version_argument(version, prefix=ctx.config.tag_prefix)
    target = floating_tag(tag, ctx.config.floating_tags)
    repository = ctx.config.require("ecr_repository")
    client = ctx.aws.client("ecr")
    try:
        moved = retag(client, repository, source_tag_or_digest=wanted, target_tag=target)
    except ImageNotFound:
        raise ImageNotFound(
            f"version {wanted} is not released in ECR repository {repository!r}",
            hint="see `releasectl releases` for the released versions",
        ) from None
    region = getattr(getattr(client, "meta", None), "region_name", None) or ctx.config.region
    uri = (
        image_uri(moved.registry_id, region, repository, moved.digest)
        if moved.registry_id and region
        else None
    )
    if moved.changed:
        outcome, message = Outcome.SUCCEEDED, f"{target} now names {wanted} ({moved.digest})"
    else:
        outcome, message = Outcome.NOOP, f"{target} already named {wanted} ({moved.digest})"
    ctx.reporter.detail(f"{moved.media_type} manifest put back unchanged")
    return CommandResult(
        command="promote",
        outcome=outcome,
        message=message,
        version=wanted,
        image=ImageInfo(repository=repository, digest=moved.digest, uri=uri),
        duration_s=ctx.clock.now() - started,
        extra={"tag": target, "media_type": moved.media_type},
    )
