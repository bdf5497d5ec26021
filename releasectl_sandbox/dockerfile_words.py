"""Word splitting and variable expansion as the Dockerfile frontend does them (its `shell` lexer).

Used for the instructions Docker expands at build time (ENV, ARG, LABEL, COPY, WORKDIR, USER,
EXPOSE, VOLUME, STOPSIGNAL, FROM), never for RUN/CMD/ENTRYPOINT, whose shell form is left to the shell.

- `'...'` is literal; `"..."` expands variables and lets `\\` escape `"`, `$` and `\\` only;
  outside quotes `\\` escapes any character.
- `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`,
  `${NAME:?message}`, `${NAME?message}`; an unset variable expands to the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from releasectl.core.errors import UsageError

Lookup = Callable[[str], str | None]

_HINT = "see https://docs.docker.com/reference/dockerfile/#environment-replacement"
_NAME = re.compile(r"[A-Za-z0-9_]+")


def split_words(text: str) -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes in the words (Docker's parseWords)."""
    words: list[str] = []
    word, quote, i = "", "", 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quote != "'" and i + 1 < len(text):
            word += text[i : i + 2]
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch.isspace():
            if word:
                words.append(word)
            word = ""
            i += 1
            continue
        word += ch
        i += 1
    if word:
        words.append(word)
    return words


class _Lexer:
    def __init__(self, text: str, lookup: Lookup, where: str) -> None:
        self.text, self.pos, self.lookup, self.where = text, 0, lookup, where

    def fail(self, problem: str) -> UsageError:
        return UsageError(f"{self.where}: {problem} in {self.text!r}", hint=_HINT)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        ch = self.peek()
        self.pos += 1
        return ch

    def word(self, stop: str = "") -> str:
        out: list[str] = []
        while self.peek() and self.peek() != stop:
            ch = self.take()
            if ch == "'":
                end = self.text.find("'", self.pos)
                if end < 0:
                    raise self.fail("unterminated single quote")
                out.append(self.text[self.pos : end])
                self.pos = end + 1
            elif ch == '"':
                out.append(self.double_quoted())
            elif ch == "$":
                out.append(self.dollar())
            elif ch == "\\":
                out.append(self.take())
            else:
                out.append(ch)
        return "".join(out)

    def double_quoted(self) -> str:
        out: list[str] = []
        while True:
            ch = self.take()
            if not ch:
                raise self.fail("unterminated double quote")
            if ch == '"':
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
            elif ch == "\\" and self.peek() and self.peek() in '"$\\':
                out.append(self.take())  # only these can be escaped; other backslashes stay
            else:
                out.append(ch)

    def dollar(self) -> str:
        if self.peek() != "{":
            name = _NAME.match(self.text, self.pos)
            if not name:
                return "$"
            self.pos = name.end()
            return self.lookup(name.group()) or ""
        self.take()
        name = _NAME.match(self.text, self.pos)
        if not name:
            raise self.fail("missing variable name after ${")
        self.pos = name.end()
        value = self.lookup(name.group())
        op = self.take()
        if op == "}":
            return value or ""
        colon = op == ":"
        if colon:
            op = self.take()
        if op not in ("-", "+", "?"):
            raise self.fail(f"unsupported substitution modifier {op!r} (only :- - :+ + :? ?)")
        word = self.word(stop="}")
        if self.take() != "}":
            raise self.fail("missing } in variable substitution")
        present = bool(value) if colon else value is not None
        if op == "-":
            return (value or "") if present else word
        if op == "+":
            return word if present else ""
        if not present:
            raise self.fail(f"{name.group()}: {word or 'is not set'}")
        return value or ""


def expand(text: str, lookup: Lookup, *, where: str = "Dockerfile") -> str:
    """One word with its quotes removed, escapes applied and variables substituted."""
    return _Lexer(text, lookup, where).word()
