"""Checking a new revision through the test listener before it serves production (docs/design.md §5). Pure.

During a blue/green, canary or linear deployment the load balancer's test listener sends its
traffic to the new revision first. releasectl asks it what the service says about itself — the
version endpoint must name the release being deployed (and its commit), the health endpoint must
answer 200 — and when it does not, stops the deployment with a rollback. The settings come from
the service definition's `[service.verify]` table; without a `url` there is no check (a service
without HTTP). This module decides what an answer means; releasectl.commands.verify asks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_VERSION_PATH = "/version"
DEFAULT_HEALTH_PATH = "/healthz"
DEFAULT_ATTEMPTS = 3
DEFAULT_TIMEOUT = 5


@dataclass(frozen=True)
class VerifySettings:
    url: str
    version_path: str | None = DEFAULT_VERSION_PATH  # None: no version check
    health_path: str | None = DEFAULT_HEALTH_PATH  # None: no health check
    expect_version: bool = True
    expect_commit: bool = True
    attempts: int = DEFAULT_ATTEMPTS  # consecutive failed checks before the deployment is stopped
    timeout: int = DEFAULT_TIMEOUT  # seconds per request

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> VerifySettings | None:
        """The settings of a resolved service definition; None when it asks for no check."""
        table = (spec.get("service") or {}).get("verify") or {}
        url = str(table.get("url") or "").strip()
        if not url:
            return None
        return cls(
            url=url.rstrip("/"),
            version_path=_path(table.get("version_path", DEFAULT_VERSION_PATH)),
            health_path=_path(table.get("health_path", DEFAULT_HEALTH_PATH)),
            expect_version=bool(table.get("expect_version", True)),
            expect_commit=bool(table.get("expect_commit", True)),
            attempts=int(table.get("attempts", DEFAULT_ATTEMPTS)),
            timeout=int(table.get("timeout", DEFAULT_TIMEOUT)),
        )

    def urls(self) -> list[tuple[str, str]]:
        """(what, url) for each check, in the order they run."""
        checks = []
        if self.health_path:
            checks.append(("health", self.url + self.health_path))
        if self.version_path:
            checks.append(("version", self.url + self.version_path))
        return checks


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, or why there was none."""

    status: int | None
    body: bytes = b""
    error: str | None = None


def judge(
    what: str, url: str, answer: Answer, *, settings: VerifySettings, version: str, commit: str | None
) -> str | None:
    """What is wrong with one answer, in one phrase; None when it is what the release must say."""
    if answer.status is None:
        return f"{url} did not answer ({answer.error or 'no response'})"
    if answer.status != 200:
        return f"{url} answered HTTP {answer.status}"
    if what != "version":
        return None
    try:
        body = json.loads(answer.body.decode("utf-8", "replace") or "null")
    except ValueError:
        return f"{url} answered something that is not JSON"
    if not isinstance(body, dict):
        return f"{url} answered JSON that is not an object"
    if settings.expect_version and str(body.get("version")) != version:
        return f"{url} reports version {body.get('version')!r}, not {version}"
    if settings.expect_commit and commit and not _same_commit(str(body.get("commit") or ""), commit):
        return f"{url} reports commit {body.get('commit')!r}, not {commit[:12]}"
    return None


def _same_commit(reported: str, expected: str) -> bool:
    # A service may report the short sha; both must be a prefix of the other and long enough to mean it.
    reported, expected = reported.lower(), expected.lower()
    return len(reported) >= 7 and (expected.startswith(reported) or reported.startswith(expected))


def _path(value: Any) -> str | None:
    if value in (None, "", False):
        return None
    text = str(value)
    return text if text.startswith("/") else "/" + text
