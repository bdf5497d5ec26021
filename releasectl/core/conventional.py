"""Conventional Commits 1.0 (https://www.conventionalcommits.org/en/v1.0.0/), read to the letter.

Pure: no I/O. parse() never raises, whatever the text; a message that is not a
conventional commit comes back with ``type=None`` and counts as "other".

Reading of the spec that the rest of the tool relies on:

- header ``type(scope)!: description``; the type is a word, compared case-insensitively;
  the scope, when present, is non-empty; the description is non-empty and follows ": ".
- footers start at the first line that follows a blank line (never the header line) and
  looks like ``Token: value``, ``Token #value`` or a bare ``Token:`` whose value starts on
  the next line (git strips the space after the colon); tokens use ``-`` for spaces, except
  ``BREAKING CHANGE``. Every line after that belongs to the footers: a line that looks
  like a token starts a new footer, any other line continues the previous value.
- a breaking change is ``!`` before the colon, or a ``BREAKING CHANGE: `` /
  ``BREAKING-CHANGE: `` footer, in upper case exactly. Lower-case "breaking change" in a
  body is prose. A breaking footer under a non-conventional header still counts: an
  announced break must never ship as a patch.
- ``feat:`` inside a body is prose too: only the header decides the type.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_HEADER = re.compile(
    r"(?P<type>[A-Za-z][A-Za-z0-9_-]*)"
    r"(?:\((?P<scope>[^()\r\n]+)\))?"
    r"(?P<bang>!)?"
    r": (?P<description>.+)"
)
_FOOTER_TOKEN = r"(?:BREAKING CHANGE|[A-Za-z0-9][A-Za-z0-9-]*)(?:: | #|:(?=\n|$))"  # noqa: S105 (a pattern)  # nosec B105
_FOOTER = re.compile(r"(?P<token>BREAKING CHANGE|[A-Za-z0-9][A-Za-z0-9-]*)(?P<sep>: | #|:$)(?P<value>.*)")
# A blank line (spaces allowed) followed by a footer token: where the footer block starts.
_FOOTER_START = re.compile(r"\n[^\S\n]*\n(?=" + _FOOTER_TOKEN + ")")
_BREAKING_TOKENS = frozenset({"BREAKING CHANGE", "BREAKING-CHANGE"})

FEAT = "feat"
FIX = "fix"

# NamedTuples rather than dataclasses: thousands are built per run, and a frozen dataclass
# costs six times as much to construct.


class Footer(NamedTuple):
    token: str  # as written; compare with casefold() except for BREAKING CHANGE
    separator: str  # ": " (also for a bare "Token:") or " #"
    value: str


class ConventionalCommit(NamedTuple):
    header: str
    type: str | None  # lower-cased; None when the header is not conventional
    scope: str | None
    description: str
    body: str
    footers: tuple[Footer, ...]
    breaking: bool

    @property
    def conventional(self) -> bool:
        return self.type is not None

    @property
    def kind(self) -> str:
        """``breaking``, ``feat``, ``fix`` or ``other``: what decides the bump."""
        if self.breaking:
            return "breaking"
        if self.type == FEAT or self.type == FIX:
            return self.type
        return "other"

    def footer(self, token: str) -> str | None:
        """The first footer with this token (case-insensitive), or None."""
        wanted = token.casefold()
        for footer in self.footers:
            if footer.token.casefold() == wanted:
                return footer.value
        return None

    @property
    def release_as(self) -> str | None:
        value = self.footer("Release-As") if self.footers else None
        return value.strip() if value is not None else None

    @property
    def breaking_description(self) -> str | None:
        for footer in self.footers:
            if footer.token in _BREAKING_TOKENS and footer.separator == ": ":
                return footer.value
        return self.description if self.breaking else None


def parse(message: str) -> ConventionalCommit:
    """Parse a full commit message (subject, body, footers). Never raises."""
    if "\r" in message:
        message = message.replace("\r\n", "\n").replace("\r", "\n")
    header, _, rest = message.lstrip().partition("\n")
    header = header.strip()

    footers: tuple[Footer, ...] = ()
    # Every footer token ends in ":" or " #": a body with neither has none (the common case,
    # thousands of times per run), and needs no search.
    start = None
    if ":" in rest or "#" in rest:
        rest = "\n" + rest  # so a blank line right after the header is found like any other
        start = _FOOTER_START.search(rest)
    if start is None:
        body = rest.strip("\n")
    else:
        body, footers = rest[: start.start()].strip("\n"), _footers(rest[start.end() :])

    match = _HEADER.fullmatch(header)
    if match:
        kind, scope, bang, description = match.group("type", "scope", "bang", "description")
        description = description.strip()
        # Checked here rather than in the pattern, which would backtrack badly on long blank runs.
        if not description or (scope is not None and not scope.strip()):
            match = None
    if match:
        kind = kind.lower()
        breaking = bang is not None
    else:
        kind, scope, description, breaking = None, None, header, False
    if not breaking and footers:
        breaking = any(f.token in _BREAKING_TOKENS and f.separator == ": " for f in footers)
    return ConventionalCommit(header, kind, scope, description, body, footers, breaking)


def _footers(text: str) -> tuple[Footer, ...]:
    found: list[tuple[str, str, list[str]]] = []
    for line in text.split("\n"):
        match = _FOOTER.fullmatch(line)
        if match:
            found.append((match["token"], match["sep"].ljust(2), [match["value"]]))
        elif found:
            found[-1][2].append(line)
    return tuple(Footer(token, sep, "\n".join(value).strip()) for token, sep, value in found)
