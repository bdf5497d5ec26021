"""Release notes and the changelog (docs/release-notes.md): which commits a release holds, grouped
and rendered, and the changelog file merged with its hand-written header. Pure: no I/O.

Which commits a release holds: those its commit reaches and no lower release reaches, so every
commit belongs to exactly one release, the first that shipped it. Pre-releases fold into their
final: the notes of 1.2.0 cover 1.2.0-rc.1 and -rc.2 too, and the changelog lists a pre-release
on its own only while its final does not exist. A pre-release's own notes stop at every lower
release, earlier pre-releases included.

The groups are breaking changes (with the text of their ``BREAKING CHANGE:`` footer), features,
fixes and everything else, each commit in exactly one of them (a ``feat!:`` is a breaking change,
not a feature). Within a group commits keep the history's order, newest first, so the same
history always renders the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, Protocol

from releasectl.core.conventional import parse
from releasectl.core.ledger import Release
from releasectl.core.versions import is_prerelease, version_key

GROUPS: tuple[tuple[str, str], ...] = (
    ("breaking", "Breaking changes"),
    ("features", "Features"),
    ("fixes", "Fixes"),
    ("other", "Other changes"),
)
_GROUP_OF_KIND = {"breaking": "breaking", "feat": "features", "fix": "fixes"}
SHORT_SHA = 7
# The line that separates the hand-written header of a changelog from the releases under it.
MARKER_PREFIX = "<!-- releasectl changelog"
MARKER = f"{MARKER_PREFIX}: written below this line by `releasectl changelog --write`; edit above it -->"
DEFAULT_HEADER = (
    "# Changelog\n\nEvery release of this project, newest first, from its Conventional Commits.\n\n"
)


class HistoryEntry(Protocol):
    """One commit as the git adapter reads it."""

    @property
    def sha(self) -> str: ...
    @property
    def parents(self) -> tuple[str, ...]: ...
    @property
    def date(self) -> str: ...  # committer date, YYYY-MM-DD
    @property
    def message(self) -> str: ...


class Entry(NamedTuple):
    """One commit in the notes."""

    sha: str
    group: str  # breaking, features, fixes or other
    type: str | None  # the Conventional Commit type, lower-cased; None when not conventional
    scope: str | None
    description: str
    subject: str  # the header line as written
    breaking_text: str | None  # the BREAKING CHANGE footer, when it says more than the description

    @property
    def short(self) -> str:
        return self.sha[:SHORT_SHA]

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.sha,
            "short": self.short,
            "type": self.type,
            "scope": self.scope,
            "description": self.description,
            "subject": self.subject,
            "breaking": self.group == "breaking",
            "breaking_text": self.breaking_text,
        }

    def markdown(self) -> str:
        if self.group == "other":
            line = f"- {self.subject} ({self.short})"
        else:
            scope = f"**{self.scope}:** " if self.scope else ""
            line = f"- {scope}{self.description} ({self.short})"
        if not self.breaking_text:
            return line
        # A paragraph of the list item: indented under it, after a blank line.
        text = "\n".join(f"  {part}" if part.strip() else "" for part in self.breaking_text.splitlines())
        return f"{line}\n\n{text}"


def entry(sha: str, message: str) -> Entry:
    commit = parse(message)
    footer = commit.breaking_description if commit.breaking else None
    return Entry(
        sha=sha,
        group=_GROUP_OF_KIND.get(commit.kind, "other"),
        type=commit.type,
        scope=commit.scope.strip() if commit.scope else None,
        description=commit.description,
        subject=commit.header,
        breaking_text=footer if footer and footer.strip() != commit.description else None,
    )


class Notes(NamedTuple):
    """The notes of one release (or of what is not released yet, version None)."""

    version: str | None
    tag: str | None
    commit: str | None
    previous: str | None  # the release these notes continue from, when one is reached
    date: str | None  # the release commit's committer date, YYYY-MM-DD
    entries: tuple[Entry, ...]

    def grouped(self) -> dict[str, list[Entry]]:
        groups: dict[str, list[Entry]] = {name: [] for name, _ in GROUPS}
        for item in self.entries:
            groups[item.group].append(item)
        return groups

    @property
    def title(self) -> str:
        name = self.version or "Unreleased"
        return f"{name} ({self.date})" if self.date and self.version else name

    def body(self, *, level: int = 3) -> str:
        """The groups, each under a heading of ``level``; what a GitHub release shows."""
        if not self.entries:
            since = f" since {self.previous}" if self.previous else ""
            return f"No changes{since}.\n"
        parts = []
        groups = self.grouped()
        for name, title in GROUPS:
            items = groups[name]
            if items:
                lines = "\n".join(item.markdown() for item in items)
                parts.append(f"{'#' * level} {title}\n\n{lines}\n")
        return "\n".join(parts)

    def markdown(self, *, level: int = 2) -> str:
        """A heading with the version and date, then the groups one level below."""
        return f"{'#' * level} {self.title}\n\n{self.body(level=level + 1)}"

    def tag_message(self) -> str:
        """The annotated tag's message: a subject `git tag -n` shows, then the notes."""
        return f"release {self.version}\n\n{self.body()}"

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "tag": self.tag,
            "commit": self.commit,
            "previous": self.previous,
            "date": self.date,
            "commits": len(self.entries),
            "groups": {name: [item.to_json() for item in items] for name, items in self.grouped().items()},
            "markdown": self.markdown(),
        }


# ----------------------------------------------------------------------------- which commits


def _core(version: str) -> str:
    return version.partition("-")[0]


def listed(releases: Iterable[Release]) -> list[Release]:
    """The releases a changelog shows, newest first: every final, and each pre-release whose final
    does not exist (yet)."""
    known = list(releases)
    finals = {r.version for r in known if not is_prerelease(r.version)}
    shown = [r for r in known if not is_prerelease(r.version) or _core(r.version) not in finals]
    return sorted(shown, key=lambda r: version_key(r.version), reverse=True)


def stops(releases: Iterable[Release], version: str) -> list[Release]:
    """The lower releases whose history the notes of ``version`` exclude, newest first.

    For a final, every lower release the changelog lists, so its own pre-releases fold in; for a
    pre-release, every lower release.
    """
    key = version_key(version)
    known = [r for r in releases if r.commit and version_key(r.version) < key]
    if is_prerelease(version):
        return sorted(known, key=lambda r: version_key(r.version), reverse=True)
    with_this = [*known, Release(version=version)]
    shown = {r.version for r in listed(with_this)}
    return [r for r in listed(known) if r.version in shown]


def notes(
    version: str | None,
    *,
    tag: str | None,
    commit: str | None,
    history: Sequence[HistoryEntry],
    lower: Sequence[Release],
) -> Notes:
    """The notes of ``version`` released on ``commit``, from the commits it holds (``history``,
    newest first) and the releases below it (``lower``, which name the previous one)."""
    date = next((item.date for item in history if item.sha == commit), None)
    return Notes(
        version=version,
        tag=tag,
        commit=commit,
        previous=_previous(history, lower, commit),
        date=date,
        entries=tuple(entry(item.sha, item.message) for item in history),
    )


def _previous(history: Sequence[HistoryEntry], lower: Sequence[Release], commit: str | None) -> str | None:
    """The highest lower release on the edge of these commits: the one the notes continue from."""
    inside = {item.sha for item in history}
    edge = {parent for item in history for parent in item.parents if parent not in inside}
    if commit is not None and commit not in inside:
        edge.add(commit)  # no commit of its own: it sits where a lower release does
    reached = [r for r in lower if r.commit in edge]
    return max(reached, key=lambda r: version_key(r.version)).version if reached else None


def sections(
    history: Sequence[HistoryEntry], releases: Iterable[Release], *, tag_of: Callable[[str], str]
) -> list[Notes]:
    """Every release the changelog lists with its notes, newest first, from one walk of the history
    of all of them: each commit goes to the lowest release that reaches it."""
    shown = [r for r in listed(releases) if r.commit]
    parents = {item.sha: item.parents for item in history}
    owner: dict[str, str] = {}
    for release in reversed(shown):  # lowest first
        stack = [str(release.commit)]
        while stack:
            sha = stack.pop()
            if sha in owner or sha not in parents:
                continue
            owner[sha] = release.version
            stack.extend(parents[sha])
    held: dict[str, list[HistoryEntry]] = {r.version: [] for r in shown}
    for item in history:
        version = owner.get(item.sha)
        if version is not None:
            held[version].append(item)
    found = []
    for index, release in enumerate(shown):
        found.append(
            notes(
                release.version,
                tag=tag_of(release.version),
                commit=release.commit,
                history=held[release.version],
                lower=shown[index + 1 :],
            )
        )
    return found


# ----------------------------------------------------------------------------- the changelog file


def changelog(existing: str | None, releases: Sequence[Notes]) -> str:
    """The changelog document: the hand-written header of ``existing`` kept byte for byte, then
    every release. The same history gives the same bytes, so a second write changes nothing."""
    body = "\n".join(n.markdown() for n in releases) if releases else "No releases yet.\n"
    return f"{header(existing)}\n{body}"


def header(existing: str | None) -> str:
    """What of an existing changelog is kept: everything up to and including the marker line.

    A file without the marker (written by hand or by another tool) keeps what comes before its
    first second-level heading, where releases start in Keep a Changelog and here, and gains the
    marker; a file with no such heading is all header. No file: a short default header.
    """
    if not existing or not existing.strip():
        return f"{DEFAULT_HEADER}{MARKER}\n"
    lines = existing.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.lstrip().startswith(MARKER_PREFIX):
            kept = "".join(lines[: index + 1])
            return kept if kept.endswith("\n") else f"{kept}\n"
    end = next((i for i, line in enumerate(lines) if line.startswith("## ")), len(lines))
    kept = "".join(lines[:end])
    if not kept.strip():
        return f"{DEFAULT_HEADER}{MARKER}\n"
    newline = "\r\n" if "\r\n" in kept else "\n"  # the header's own line ends, for what is added to it
    if not kept.endswith("\n"):
        kept += newline
    if not kept.endswith(("\n\n", "\n\r\n")):
        kept += newline  # a blank line before the marker
    return f"{kept}{MARKER}{newline}"
