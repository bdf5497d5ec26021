"""The test-listener check during a blue/green, canary or linear deployment (docs/design.md §5).

The waiter calls `check()` on each poll once the test listener sends its traffic to the new
revision, until one check passes. A check that fails is retried on the next polls; after
`attempts` failures in a row the waiter stops the deployment with a rollback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from releasectl.core.verification import Answer, VerifySettings, judge

Fetch = Callable[[str, float], Answer]


def http_fetch(url: str, timeout: float) -> Answer:
    from releasectl.adapters.http_probe import get

    return get(url, timeout=timeout)


@dataclass
class Verifier:
    settings: VerifySettings
    version: str
    commit: str | None
    fetch: Fetch | None = None  # None: http_fetch, looked up when a check runs
    failures: int = 0
    passed: bool = False
    last_problem: str | None = None
    checked: list[str] = field(default_factory=list)

    def check(self) -> str | None:
        """Run every check once: None when all pass, else the first problem."""
        for what, url in self.settings.urls():
            answer = (self.fetch or http_fetch)(url, float(self.settings.timeout))
            problem = judge(
                what, url, answer, settings=self.settings, version=self.version, commit=self.commit
            )
            if problem:
                self.failures += 1
                self.last_problem = problem
                return problem
        self.checked = [url for _, url in self.settings.urls()]
        self.failures = 0
        self.passed = True
        return None

    @property
    def exhausted(self) -> bool:
        return self.failures >= self.settings.attempts
