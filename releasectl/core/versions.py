"""What a release version is (docs/design.md §4): its forms, its order, and the tags that name it. Pure.

A release is `X.Y.Z` or `X.Y.Z-rc.N`: SemVer 2.0 with no leading zeros, no build metadata and no
pre-release but `-rc.N`, because image tags and the ECR ledger know no other form. ECR image tags
and the `releasectl:version` task-definition tag spell it bare; git tags carry the configured
prefix (`v1.2.0`), and a version typed on the command line may carry it too. The image built
from a commit is also tagged `git-<40 hex>`. Every other module asks here instead of matching
versions itself, so the forms cannot drift apart.

Git tags are read more widely than releasectl writes them (read_tag): under the legacy prefixes
as well, with build metadata set aside, and with the pre-release labels a project configured
(`v2.0.0-beta.1`). A tag that looks like a version but names no release is reported with the
reason, never passed over in silence.

SemVer is parsed here rather than with the semver package: importing it cost more than the
rest of `releasectl version --offline`'s own modules together.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from releasectl.core.errors import UsageError

PRE_LABELS = ("rc",)  # the pre-releases releasectl makes
DEFAULT_PRE_LABELS = PRE_LABELS  # the pre-release labels of git tags it reads unless configured
COMMIT_TAG_PREFIX = "git-"
# Task-definition tags deploy and rollback leave on the revisions they run; aws: keys are reserved.
RELEASECTL_TAG_PREFIX = "releasectl:"
VERSION_TAG = f"{RELEASECTL_TAG_PREFIX}version"
COMMIT_TAG = f"{RELEASECTL_TAG_PREFIX}commit"
OUTCOME_TAG = f"{RELEASECTL_TAG_PREFIX}outcome"
# On a revision that ran a release's migration: "exit N", or "not started" (docs/operations.md).
MIGRATION_TAG = f"{RELEASECTL_TAG_PREFIX}migration"
# On a revision registered only to run a one-off task: "run" or "migrate"; no deployment ran it.
ONE_OFF_TAG = f"{RELEASECTL_TAG_PREFIX}one-off"

# Always applied with fullmatch: `$` would let a trailing newline through.
_NUMBER = r"(?:0|[1-9][0-9]*)"
_RELEASE_RE = re.compile(rf"({_NUMBER})\.({_NUMBER})\.({_NUMBER})(?:-rc\.({_NUMBER}))?")
_COMMIT_TAG_RE = re.compile(rf"{COMMIT_TAG_PREFIX}(?P<sha>[0-9a-f]{{40}})")
_SHA_RE = re.compile(r"[0-9a-f]{40}")
# Wider than a release on purpose (`v1.2`, `1.2.3-beta`, `01.2.3`): a floating tag must not even
# look like a version, or promote could move what people read as an immutable release.
_VERSION_LIKE_RE = re.compile(r"[vV]?[0-9]+(\.[0-9]+){1,2}([-+].*)?")
# SemVer 2.0's own grammar, with the checks its identifiers need done in code (fewer states).
_SEMVER_RE = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?")
# What a git tag's text after its prefix may be read as: numbers with dots, then anything SemVer
# allows after them. `lead` is a stray `v` (a tag of another prefix, e.g. `v1.2.0` under "").
_TAG_TEXT_RE = re.compile(
    r"(?P<lead>[vV]?)(?P<core>[0-9]+(?:\.[0-9]+)+)(?:-(?P<pre>[^+]*))?(?:\+(?P<build>.*))?"
)
_LABEL_RE = re.compile(r"[a-z][a-z0-9]*")
_VERSION_HINT = "use MAJOR.MINOR.PATCH, e.g. 1.2.3 or 1.3.0-rc.1 (no leading zeros, no +build metadata)"
_FINAL = (1,)


# ----------------------------------------------------------------------------- a SemVer version


class Version:
    """A SemVer 2.0 version: ordered by precedence, build metadata ignored for order and equality."""

    __slots__ = ("build", "major", "minor", "patch", "prerelease")

    def __init__(
        self,
        major: int = 0,
        minor: int = 0,
        patch: int = 0,
        prerelease: str | None = None,
        build: str | None = None,
    ) -> None:
        self.major, self.minor, self.patch = major, minor, patch
        self.prerelease = prerelease or None
        self.build = build or None

    @classmethod
    def parse(cls, text: str) -> Version:
        """Strict SemVer 2.0; ValueError for anything else."""
        found = _SEMVER_RE.fullmatch(text) if isinstance(text, str) else None
        if found is None:
            raise ValueError(f"{text!r} is not a SemVer version")
        major, minor, patch, pre, build = found.groups()
        if any(len(n) > 1 and n[0] == "0" for n in (major, minor, patch)):
            raise ValueError(f"{text!r} has leading zeros")
        if pre is not None and not _valid_identifiers(pre, numeric_zeros=False):
            raise ValueError(f"{text!r} has an invalid pre-release")
        if build is not None and not _valid_identifiers(build, numeric_zeros=True):
            raise ValueError(f"{text!r} has invalid build metadata")
        return cls(int(major), int(minor), int(patch), pre, build)

    @property
    def key(self) -> tuple[Any, ...]:
        core = (self.major, self.minor, self.patch)
        return (*core, _pre_key(self.prerelease) if self.prerelease else _FINAL)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.build:
            text += f"+{self.build}"
        return text

    def __repr__(self) -> str:
        return f"Version({str(self)!r})"

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.key == other.key

    def __lt__(self, other: Version) -> bool:
        return self.key < other.key

    def __le__(self, other: Version) -> bool:
        return self.key <= other.key

    def __gt__(self, other: Version) -> bool:
        return self.key > other.key

    def __ge__(self, other: Version) -> bool:
        return self.key >= other.key

    def replace(self, **changes: Any) -> Version:
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        return Version(**fields)

    def finalize_version(self) -> Version:
        return Version(self.major, self.minor, self.patch)

    def bump_major(self) -> Version:
        return Version(self.major + 1)

    def bump_minor(self) -> Version:
        return Version(self.major, self.minor + 1)

    def bump_patch(self) -> Version:
        return Version(self.major, self.minor, self.patch + 1)

    def bump_prerelease(self, label: str = "rc") -> Version:
        """rc.1 → rc.2; a final version gets `<label>.1` on the next patch, as SemVer tools do."""
        if not self.prerelease:
            return Version(self.major, self.minor, self.patch + 1, f"{label}.1")
        parts = self.prerelease.split(".")
        for index in range(len(parts) - 1, -1, -1):
            if parts[index].isdigit():
                parts[index] = str(int(parts[index]) + 1)
                return self.replace(prerelease=".".join(parts), build=None)
        return self.replace(prerelease=f"{self.prerelease}.1", build=None)


def _valid_identifiers(text: str, *, numeric_zeros: bool) -> bool:
    for part in text.split("."):
        if not part:
            return False
        if not numeric_zeros and part.isdigit() and len(part) > 1 and part[0] == "0":
            return False
    return True


def _pre_key(prerelease: str) -> tuple[Any, ...]:
    # SemVer's rule: numeric identifiers below alphanumeric ones, fewer identifiers first.
    return (0, tuple((0, int(part)) if part.isdigit() else (1, part) for part in prerelease.split(".")))


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

    Releases take a regular expression, not a parsed Version: parsing every release just to
    sort them was the one cost of `releasectl version` that grew with the number of releases.
    """
    found = _RELEASE_RE.fullmatch(version)
    if found is not None:
        major, minor, patch, rc = found.groups()
        stage = _FINAL if rc is None else (0, ((1, "rc"), (0, int(rc))))
        return (int(major), int(minor), int(patch), stage)
    return Version.parse(version).key


def precedence(version: str | None) -> tuple[Any, ...] | None:
    """version_key, or None for a tag someone wrote that is no version (it orders with nothing)."""
    if not version:
        return None
    try:
        return version_key(version)
    except (ValueError, TypeError):
        return None


def is_prerelease(version: str) -> bool:
    """For a release version (what the ledger holds): is it a pre-release (`-rc.N`)?"""
    return "-" in version


# ----------------------------------------------------------------------------- parsing


def parse_version(text: str, *, what: str = "version", allow_prefix: str | None = None) -> Version:
    """A strict SemVer 2.0 version, or a usage error (exit 2).

    ``allow_prefix`` is for text read from a tag, where a leading ``v`` (the tag prefix)
    is expected; versions typed by a user or written in a footer take none.
    """
    raw = text.strip()
    body = raw[len(allow_prefix) :] if allow_prefix and raw.startswith(allow_prefix) else raw
    if not body:
        raise UsageError(f"{what} is empty", hint=_VERSION_HINT)
    try:
        version = Version.parse(body)
    except ValueError:
        raise UsageError(f"{what} {raw!r} is not a valid version", hint=_VERSION_HINT) from None
    if version.build:
        raise UsageError(
            f"{what} {raw!r} carries build metadata (+{version.build}), which image tags cannot hold",
            hint=_VERSION_HINT,
        )
    return version


def parse_release(text: str, *, what: str = "version", allow_prefix: str | None = None) -> Version:
    """A release version: X.Y.Z or X.Y.Z-rc.N, or a usage error (exit 2)."""
    version = parse_version(text, what=what, allow_prefix=allow_prefix)
    if version.prerelease and not is_release_tag(str(version)):
        raise UsageError(
            f"{what} {text.strip()!r} is not a release version: the only pre-releases are -rc.N",
            hint=_VERSION_HINT,
        )
    return version


def parse_tag(name: str, prefix: str) -> Version | None:
    """The version a git tag names in releasectl's own form (`<prefix>X.Y.Z[-rc.N]`), or None.
    read_tag reads the wider forms a project's older tags may take."""
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


# ----------------------------------------------------------------------------- reading git tags


class TagReading(NamedTuple):
    """What one git tag says about the releases, read under the configured prefixes and labels."""

    tag: str
    prefix: str  # the prefix it was read under
    version: str | None  # the release it names, as the ledger spells it; None: it names none
    canonical: bool  # spelled exactly `<tag_prefix>X.Y.Z[-label.N]`, as releasectl writes tags
    reason: str  # why it names no release, or what was set aside to read it ("" for neither)
    hint: str  # what makes it read, for a tag that names no release
    nominal: tuple[Any, ...] | None  # precedence of the version it appears to name; None when read as
    # `<prefix>X.Y.Z[-rc.N]`, which version_key orders

    @property
    def read(self) -> bool:
        return self.version is not None


def read_tag(name: str, prefixes: Sequence[str], labels: Collection[str] = PRE_LABELS) -> TagReading | None:
    """How a git tag reads under ``prefixes`` (tag_prefix first, then legacy_tag_prefixes).

    A release: `X.Y.Z`, or `X.Y.Z-<label>.N` for a label in ``labels``; build metadata
    (`+build.1`) is set aside, as SemVer ignores it for order. A tag that looks like a version
    but is none of those (`v1.2`, `v01.2.3`, `v2.0.0-beta.1` with beta not configured)
    comes back with ``version`` None and the reason. None for a tag that does not look like
    a version at all (`vnext`, `latest`): it is no one's business here.
    """
    unread: TagReading | None = None
    for prefix in prefixes:
        if not name.startswith(prefix):
            continue
        reading = _read_text(name, prefix, name[len(prefix) :], labels, canonical=prefix == prefixes[0])
        if reading is not None and reading.read:
            return reading
        unread = unread or reading
    return unread


def _read_text(
    name: str, prefix: str, text: str, labels: Collection[str], *, canonical: bool
) -> TagReading | None:
    if _RELEASE_RE.fullmatch(text) is not None and ("-" not in text or "rc" in labels):
        return TagReading(name, prefix, text, canonical, "", "", None)  # releasectl's own form: most tags
    found = _TAG_TEXT_RE.fullmatch(text)
    if found is None:
        return None
    lead, core, pre, build = found["lead"], found["core"], found["pre"], found["build"]
    parts = core.split(".")
    numbers = [int(n) for n in parts]
    nominal_core = (*numbers[:3], *[0] * (3 - len(numbers)))
    shown = f"{nominal_core[0]}.{nominal_core[1]}.{nominal_core[2]}"
    nominal = precedence(f"{shown}-{pre}" if pre else shown) or (*nominal_core, _FINAL)

    def unread(reason: str, hint: str) -> TagReading:
        return TagReading(name, prefix, None, False, reason, hint, nominal)

    if lead:
        other = f"{prefix}{lead}"
        return unread(
            f'its prefix "{other}" is neither tag_prefix nor one of legacy_tag_prefixes',
            f'add "{other}" to legacy_tag_prefixes under [tool.releasectl]',
        )
    if len(parts) != 3:
        return unread(
            f"{core} has {len(parts)} numbers, not MAJOR.MINOR.PATCH",
            f"tag the release it stands for in full: git tag -a {prefix}{shown} {name}^{{commit}} "
            f'-m "release {shown}"',
        )
    if any(len(n) > 1 and n[0] == "0" for n in parts):
        return unread(
            f"{core} has leading zeros, which SemVer does not allow",
            f"tag the release it stands for as {prefix}{shown}",
        )
    if pre is not None:
        label, dot, number = pre.partition(".")
        well_formed = (
            bool(dot) and _LABEL_RE.fullmatch(label) is not None and number.isdigit()
            and (number == "0" or number[0] != "0")
        )  # fmt: skip
        if not well_formed:
            return unread(
                f"its pre-release -{pre} is not LABEL.N (e.g. -rc.1)",
                f"tag the pre-release it stands for as {prefix}{shown}-rc.N",
            )
        if label not in labels:
            return unread(
                f"its pre-release label {label!r} is not in prerelease_labels ({', '.join(labels)})",
                f'add "{label}" to prerelease_labels under [tool.releasectl]',
            )
        version = f"{core}-{pre}"
    else:
        version = core
    if build is not None:
        return TagReading(name, prefix, version, False, f"build metadata +{build} set aside", "", nominal)
    return TagReading(name, prefix, version, canonical, "", "", nominal)


# ----------------------------------------------------------------------------- config values


_PREFIX_RE = re.compile(r"[A-Za-z0-9._/-]{0,100}")


def check_tag_prefix(key: str, value: Any) -> str:
    """A tag prefix: empty (tags `1.2.3`) or the start of a git tag name (`v`, `svc-`, `app/v`)."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else None
    if text is None or not _PREFIX_RE.fullmatch(text) or text.startswith(("-", "/", ".")) or ".." in text:
        raise UsageError(
            f"config {key}: {value!r} is not a tag prefix",
            hint='use letters, digits and . _ / - (e.g. "v", "svc-", or "" for tags like 1.2.3)',
        )
    return text


def check_tag_prefixes(key: str, value: Any) -> tuple[str, ...]:
    """A list of tag prefixes; the environment spells it `,release-` (an empty item is the empty prefix)."""
    if isinstance(value, str):
        items: Any = value.split(",") if value.strip() else []
    else:
        items = value
    if not isinstance(items, list | tuple):
        raise UsageError(f'config {key}: {value!r} is not a list of tag prefixes (e.g. ["", "release-"])')
    found: list[str] = []
    for item in items:
        prefix = check_tag_prefix(key, item)
        if prefix not in found:
            found.append(prefix)
    return tuple(found)


def check_pre_labels(key: str, value: Any) -> tuple[str, ...]:
    """Pre-release labels read from git tags (`rc`, `beta`, `alpha`); `rc`, which releasectl makes,
    is always read."""
    items = [part for part in value.split(",") if part.strip()] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise UsageError(f'config {key}: {value!r} is not a list of labels (e.g. ["rc", "beta"])')
    found: list[str] = []
    for item in items:
        label = item.strip() if isinstance(item, str) else item
        if not isinstance(label, str) or not _LABEL_RE.fullmatch(label):
            raise UsageError(
                f"config {key}: {item!r} is not a pre-release label",
                hint="labels are lower-case letters and digits starting with a letter, e.g. rc, beta, alpha",
            )
        if label not in found:
            found.append(label)
    for label in PRE_LABELS:
        if label not in found:
            found.append(label)
    return tuple(found)
