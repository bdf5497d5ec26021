"""The release ledger: which versions exist, on which commit and image digest.

Two implementations feed it: git tags (releasectl.adapters.git.GitTagLedger) and ECR tags
(releasectl.adapters.aws.ecr.EcrLedger). Both are read; merge() combines them, so a version
known to either is known. Pure: no I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from releasectl.core.versions import version_key

if TYPE_CHECKING:  # only named in an annotation: datetime costs its import on every run
    from datetime import datetime


# A NamedTuple, not a dataclass: see releasectl.commands.context.Context.
class Release(NamedTuple):
    """One released version, as git tags and ECR images know it."""

    version: str  # canonical SemVer without prefix: "1.2.3" or "1.3.0-rc.1"
    commit: str | None = None  # full 40-hex sha
    digest: str | None = None  # "sha256:<64 hex>", known from ECR only
    pushed_at: datetime | None = None
    sources: frozenset[str] = frozenset()  # {"git"}, {"ecr"} or both

    @property
    def key(self) -> tuple[Any, ...]:
        """Its place in SemVer precedence (core.versions)."""
        return version_key(self.version)


class Ledger(Protocol):
    def releases(self) -> list[Release]:
        """Every known release, any order."""
        ...


def merge(*groups: Iterable[Release]) -> list[Release]:
    """One record per version, fields filled from whichever ledger knows them; newest first.

    When the ledgers disagree about a version's commit, ECR wins: it is written by the
    pipeline that built the image, while git tags can be moved by hand.
    """
    by_version: dict[str, Release] = {}
    for group in groups:
        for release in group:
            known = by_version.get(release.version)
            if known is None:
                by_version[release.version] = release
                continue
            ecr_first = "ecr" in release.sources and "ecr" not in known.sources
            primary, secondary = (release, known) if ecr_first else (known, release)
            by_version[release.version] = primary._replace(
                commit=primary.commit or secondary.commit,
                digest=primary.digest or secondary.digest,
                pushed_at=primary.pushed_at or secondary.pushed_at,
                sources=primary.sources | secondary.sources,
            )
    return sorted(by_version.values(), key=lambda r: r.key, reverse=True)


def find(releases: Iterable[Release], version: str) -> Release | None:
    for release in releases:
        if release.version == version:
            return release
    return None


def for_commit(releases: Iterable[Release], commit: str) -> list[Release]:
    return [r for r in releases if r.commit == commit]
