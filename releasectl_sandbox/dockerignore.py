"""Which files a .dockerignore admits into the build context, decided the way Docker decides.

The rules follow moby's `patternmatcher` and `ignorefile` packages as BuildKit applies them while
walking the context:

- A line starting with `#` in column 1 is a comment; other lines are trimmed, and blank ones skipped.
- A leading `!` makes an exception (re-include). The rest is cleaned like Go's `filepath.Clean`
  (`./a//b/` is `a/b`) and one leading `/` is dropped: the context root is both `/` and `.`.
- Go `filepath.Match` syntax: `*` and `?` never cross `/`, `[...]` classes (`[^...]` negates),
  `\\` escapes. `**` matches any number of directories, including none; a trailing `**` anything.
- A pattern that matches a directory matches everything inside it.
- The last pattern that matches a path decides: excluded by a plain pattern, admitted by an exception.
  BuildKit evaluates the walk one directory level at a time and carries each pattern's result for a
  directory down to its contents; `DockerIgnore.excluded` evaluates a path the same way.

Pure apart from `admitted_files`, which walks a directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from releasectl.core.errors import UsageError

_HINT = "see https://docs.docker.com/build/concepts/context/#dockerignore-files"


def go_clean(path: str) -> str:
    """Go's filepath.Clean for `/`-separated paths (posixpath.normpath keeps a leading `//`)."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
        else:
            parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def read_patterns(text: str) -> list[tuple[int, str]]:
    """(line number, pattern) for each pattern line, normalised as Docker reads a .dockerignore."""
    patterns: list[tuple[int, str]] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if number == 1:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        body = line[1:].strip() if invert else line
        if body:
            body = go_clean(body)
            if len(body) > 1 and body.startswith("/"):
                body = body[1:]
        patterns.append((number, "!" + body if invert else body))
    return patterns


class _Kind(Enum):
    EXACT = "exact"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    REGEXP = "regexp"


def _check_syntax(pattern: str) -> str | None:
    """Why Go's filepath.Match would reject the pattern, or None."""
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                return "ends with an unescaped backslash"
            i += 2
        elif ch == "[":
            end = _class_end(pattern, i)
            if end < 0:
                return "has a malformed or unterminated [...] class"
            i = end
        else:
            i += 1
    return None


def _class_end(pattern: str, start: int) -> int:
    """Index just after the `[...]` class opening at `start`, or -1 where Go reports ErrBadPattern."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    ranges = 0
    while True:
        if i < len(pattern) and pattern[i] == "]" and ranges:
            return i + 1
        i = _class_char(pattern, i)[1]
        if i > 0 and pattern[i] == "-":
            i = _class_char(pattern, i + 1)[1]
        if i < 0:
            return -1
        ranges += 1


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    """One class member at i (Go's getEsc) and the index after it; -1 if malformed or unterminated."""
    if i >= len(pattern) or pattern[i] in "-]":
        return "", -1
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            return "", -1
    return pattern[i], i + 1 if i + 1 < len(pattern) else -1


def _class_regex(pattern: str, start: int, end: int) -> str:
    i = start + 1
    negate = pattern[i] == "^"
    if negate:
        i += 1
    members: list[str] = []
    while i < end - 1:
        low, i = _class_char(pattern, i)
        high = low
        if pattern[i] == "-":
            high, i = _class_char(pattern, i + 1)
        if low <= high:  # Go accepts a reversed range that matches nothing; Python would reject it
            members.append(re.escape(low) if low == high else f"{re.escape(low)}-{re.escape(high)}")
    if not members:
        return r"[\s\S]" if negate else "(?!)"
    return "[" + ("^" if negate else "") + "".join(members) + "]"


def _compile(pattern: str) -> tuple[_Kind, re.Pattern[str] | None]:
    """Classify the pattern as moby does (the kinds differ in corner cases such as `**foo`)."""
    regex, kind, i, n = "", _Kind.EXACT, 0, len(pattern)
    while i < n:
        first, ch = i == 0, pattern[i]
        i += 1
        if ch == "*" and i < n and pattern[i] == "*":
            i += 1
            if i < n and pattern[i] == "/":
                i += 1
            if i == n:
                if kind is _Kind.EXACT:
                    kind = _Kind.PREFIX
                else:
                    regex, kind = regex + ".*", _Kind.REGEXP
            else:
                regex, kind = regex + "(.*/)?", _Kind.REGEXP
            if first:
                kind = _Kind.SUFFIX
        elif ch in "*?":
            regex, kind = regex + ("[^/]*" if ch == "*" else "[^/]"), _Kind.REGEXP
        elif ch == "\\":
            regex, kind, i = regex + re.escape(pattern[i]), _Kind.REGEXP, i + 1
        elif ch == "[":
            end = _class_end(pattern, i - 1)
            regex, kind, i = regex + _class_regex(pattern, i - 1, end), _Kind.REGEXP, end
        else:
            regex += re.escape(ch)
            if ch == "]":
                kind = _Kind.REGEXP
    return kind, re.compile(regex) if kind is _Kind.REGEXP else None


@dataclass(frozen=True)
class Pattern:
    text: str
    exception: bool
    line: int
    kind: _Kind = field(init=False, repr=False, compare=False)
    regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kind, regex = _compile(self.text)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "regex", regex)

    def matches(self, path: str) -> bool:
        """Whether the pattern matches this path itself (not its parents)."""
        if self.kind is _Kind.EXACT:
            return path == self.text
        if self.kind is _Kind.PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind is _Kind.SUFFIX:
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regex is not None
        return self.regex.fullmatch(path) is not None

    def literal_prefix(self) -> str:
        """The text every path this pattern can match starts with."""
        return re.split(r"[*?\[\\]", self.text, maxsplit=1)[0]


class DockerIgnore:
    """An ordered list of .dockerignore patterns."""

    def __init__(self, patterns: Sequence[str | tuple[int, str]], *, source: str = ".dockerignore") -> None:
        self.patterns: list[Pattern] = []
        for index, item in enumerate(patterns, start=1):
            line, text = item if isinstance(item, tuple) else (index, item)
            text = text.strip()
            if not text:
                continue
            text = go_clean(text)
            exception = text.startswith("!")
            if exception:
                text = text[1:]
                if not text:
                    raise UsageError(f"{source} line {line}: '!' alone excludes nothing", hint=_HINT)
            if len(text) > 1 and text.startswith("/"):
                text = text[1:]  # as when read from a file: the context root is "/"
            problem = _check_syntax(text)
            if problem:
                raise UsageError(f"{source} line {line}: pattern {text!r} {problem}", hint=_HINT)
            self.patterns.append(Pattern(text, exception, line))

    @classmethod
    def from_text(cls, text: str, *, source: str = ".dockerignore") -> DockerIgnore:
        return cls(read_patterns(text), source=source)

    @property
    def has_exceptions(self) -> bool:
        return any(p.exception for p in self.patterns)

    def step(self, path: str, parent: list[bool] | None) -> tuple[bool, list[bool]]:
        """Excluded?, plus per-pattern results to hand to this path's children (BuildKit's walk).

        `parent` is what `step` returned for the containing directory, or None at the top level.
        """
        matched = False
        results = [False] * len(self.patterns)
        for i, pattern in enumerate(self.patterns):
            match = bool(parent and parent[i])
            if not match:
                # Only a pattern that could change the answer is evaluated; the skipped
                # ones also pass False to the children, exactly as BuildKit does.
                if pattern.exception != matched:
                    continue
                match = pattern.matches(path)
                if not match and parent is None and "/" in path:
                    dirs = path.split("/")[:-1]
                    match = any(pattern.matches("/".join(dirs[: k + 1])) for k in range(len(dirs)))
            results[i] = match
            if match:
                matched = not pattern.exception
        return matched, results

    def excluded(self, path: str) -> bool:
        """Whether a context-relative, `/`-separated path is left out of the build context."""
        cleaned = go_clean(path).lstrip("/")
        if cleaned in ("", "."):
            return False
        parts = cleaned.split("/")
        matched, parent = False, None
        for depth in range(1, len(parts) + 1):
            matched, parent = self.step("/".join(parts[:depth]), parent)
        return matched

    def admits(self, path: str) -> bool:
        return not self.excluded(path)

    def may_admit_under(self, directory: str) -> bool:
        """False only when no exception can re-include anything below an excluded directory."""
        dir_slash = directory.rstrip("/") + "/"
        return any(
            (prefix := p.literal_prefix()).startswith(dir_slash) or dir_slash.startswith(prefix)
            for p in self.patterns
            if p.exception
        )


def admitted_files(root: Path, rules: DockerIgnore | None = None) -> list[str]:
    """Sorted `/`-separated paths of the files (and symlinks) in the build context of `root`.

    `rules` defaults to `root/.dockerignore` (no file: everything is admitted). Directories are
    implied by their contents. An excluded directory is not descended into unless an exception
    could re-include something inside it, so `.git` or `.venv` cost nothing.
    """
    if rules is None:
        source = root / ".dockerignore"
        text = source.read_text(encoding="utf-8") if source.is_file() else ""
        rules = DockerIgnore.from_text(text, source=source.name)
    admitted: list[str] = []

    def walk(directory: str, parent: list[bool] | None) -> None:
        with os.scandir(root / directory if directory else root) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        for entry in entries:
            path = f"{directory}/{entry.name}" if directory else entry.name
            excluded, results = rules.step(path, parent)
            if entry.is_dir(follow_symlinks=False):
                if not excluded or rules.may_admit_under(path):
                    walk(path, results)
            elif not excluded:
                admitted.append(path)

    walk("", None)
    return sorted(admitted)
