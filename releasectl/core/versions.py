"""What a release version is (docs/design.md §4): its forms, its order, and the tags that name it. Pure.

A release is `X.Y.Z` or `X.Y.Z-rc.N`: SemVer 2.0 with no leading zeros, no build metadata and no
pre-release but `-rc.N`, because image tags and the ECR ledger know no other form. ECR image tags
and the `releasectl:version` task-definition tag spell it bare; git tags carry the configured
prefix (`v1.2.0`), and a version typed on the command line may carry it too. The image built
from a commit is also tagged `git-<40 hex>`. Every other module asks here instead of matching
versions itself, so the forms cannot drift apart.
"""

from __future__ import annotations

import re
from typing import Any

import semver

from releasectl.core.errors import UsageError

PRE_LABELS = ("rc",)
COMMIT_TAG_PREFIX = "git-"
# Task-definition tags deploy and rollback leave on the revisions they run; aws: keys are reserved.
RELEASECTL_TAG_PREFIX = "releasectl:"
VERSION_TAG = f"{RELEASECTL_TAG_PREFIX}version"
COMMIT_TAG = f"{RELEASECTL_TAG_PREFIX}commit"
OUTCOME_TAG = f"{RELEASECTL_TAG_PREFIX}outcome"

# Always applied with fullmatch: `$` would let a trailing newline through.
_NUMBER = r"(?:0|[1-9][0-9]*)"
_RELEASE_RE = re.compile(rf"({_NUMBER})\.({_NUMBER})\.({_NUMBER})(?:-rc\.({_NUMBER}))?")
_RELEASE_PRE_RE = re.compile(rf"rc\.{_NUMBER}")
_COMMIT_TAG_RE = re.compile(rf"{COMMIT_TAG_PREFIX}(?P<sha>[0-9a-f]{{40}})")
_SHA_RE = re.compile(r"[0-9a-f]{40}")
# Wider than a release on purpose (`v1.2`, `1.2.3-beta`, `01.2.3`): a floating tag must not even
# look like a version, or promote could move what people read as an immutable release.
_VERSION_LIKE_RE = re.compile(r"[vV]?[0-9]+(\.[0-9]+){1,2}([-+].*)?")
_VERSION_HINT = "use MAJOR.MINOR.PATCH, e.g. 1.2.3 or 1.3.0-rc.1 (no leading zeros, no +build metadata)"
_FINAL = (1,)


# ----------------------------------------------------------------------------- which strings


def is_release_tag(text: str) -> bool:
    """`X.Y.Z` or `X.Y.Z-rc.N` exactly: an immutable version tag in ECR."""
    return _RELEASE_RE.fullmatch(text) is not None


def looks_like_version(tag: str) -> bool:
    return _VERSION_LIKE_RE.fullmatch(tag) is not None


def is_commit_tag(tag: str) -> bool:
    """Anything under the `git-` prefix: a commit tag, or one that would be mistaken for one."""
    return tag.startswith(COMMIT_TAG_PREFIX)


def commit_tag(commit: str) -> str:
    """`git-<40 hex>`: the tag that names the image built from one commit."""
    if not _SHA_RE.fullmatch(commit):
        raise UsageError(f"commit {commit!r} is not a full 40-character lower-case sha")
    return f"{COMMIT_TAG_PREFIX}{commit}"


def commit_of_tag(tag: str) -> str | None:
    match = _COMMIT_TAG_RE.fullmatch(tag)
    return match["sha"] if match else None


# ----------------------------------------------------------------------------- order


def version_key(version: str) -> tuple[Any, ...]:
    """A sort key in SemVer precedence order; ValueError for text that is no SemVer version.

    Releases take a regular expression, not a semver.Version: parsing every release just to
    sort them was the one cost of `releasectl version` that grew with the number of releases.
    """
    found = _RELEASE_RE.fullmatch(version)
    if found is not None:
        major, minor, patch, rc = found.groups()
        stage = _FINAL if rc is None else (0, ((1, "rc"), (0, int(rc))))
        return (int(major), int(minor), int(patch), stage)
    parsed = semver.Version.parse(version)
    if not parsed.prerelease:
        return (parsed.major, parsed.minor, parsed.patch, _FINAL)
    # SemVer's rule: numeric identifiers below alphanumeric ones, fewer identifiers first.
    identifiers = tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in str(parsed.prerelease).split(".")
    )
    return (parsed.major, parsed.minor, parsed.patch, (0, identifiers))


def precedence(version: str | None) -> tuple[Any, ...] | None:
    """version_key, or None for a tag someone wrote that is no version (it orders with nothing)."""
    if not version:
        return None
    try:
        return version_key(version)
    except (ValueError, TypeError):
        return None


def is_prerelease(version: str) -> bool:
    """For a release version (what the ledger holds): is it an `-rc.N`?"""
    return "-" in version


# ----------------------------------------------------------------------------- parsing


def parse_version(text: str, *, what: str = "version", allow_prefix: str | None = None) -> semver.Version:
    """A strict SemVer 2.0 version, or a usage error (exit 2).

    ``allow_prefix`` is for text read from a tag, where a leading ``v`` (the tag prefix)
    is expected; versions typed by a user or written in a footer take none.
    """
    raw = text.strip()
    body = raw[len(allow_prefix) :] if allow_prefix and raw.startswith(allow_prefix) else raw
    if not body:
        raise UsageError(f"{what} is empty", hint=_VERSION_HINT)
    try:
        version = semver.Version.parse(body)
    except (ValueError, TypeError):
        raise UsageError(f"{what} {raw!r} is not a valid version", hint=_VERSION_HINT) from None
    if version.build:
        raise UsageError(
            f"{what} {raw!r} carries build metadata (+{version.build}), which image tags cannot hold",
            hint=_VERSION_HINT,
        )
    return version


def parse_release(text: str, *, what: str = "version", allow_prefix: str | None = None) -> semver.Version:
    """A release version: X.Y.Z or X.Y.Z-rc.N, or a usage error (exit 2)."""
    version = parse_version(text, what=what, allow_prefix=allow_prefix)
    if version.prerelease and not _RELEASE_PRE_RE.fullmatch(version.prerelease):
        raise UsageError(
            f"{what} {text.strip()!r} is not a release version: the only pre-releases are -rc.N",
            hint=_VERSION_HINT,
        )
    return version


def parse_tag(name: str, prefix: str) -> semver.Version | None:
    """The version a git release tag names, or None for a tag that is not a release tag."""
    if not name.startswith(prefix):
        return None
    try:
        return parse_release(name, allow_prefix=prefix)
    except UsageError:
        return None


def parse_version_argument(text: str, *, prefix: str = "v") -> str:
    """A VERSION named on the command line, as the ledger spells it: `X.Y.Z` or `X.Y.Z-rc.N`,
    the git tag form (`v1.2.0`, with the configured tag_prefix) meaning the same. Anything
    else is a usage error (exit 2)."""
    raw = text.strip()
    candidate = raw[len(prefix) :] if prefix and raw.startswith(prefix) else raw
    if not raw or not is_release_tag(candidate):
        raise UsageError(
            f"version {raw!r} is not a release version",
            hint="use X.Y.Z or X.Y.Z-rc.N without leading zeros, e.g. 1.2.0 (see `releasectl releases`)",
        )
    return candidate
