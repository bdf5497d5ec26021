"""A pytest plugin (`-p tests.image.report`, as `make unit` loads it) that says how many real-engine
image tests ran, and says loudly when they did not, with the reason.

It counts the reports the main process receives, so it also counts under pytest-xdist.
"""

from __future__ import annotations

import pytest

PREFIX = "tests/image/"
_seen: dict[str, str] = {}
_reasons: set[str] = set()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.nodeid.startswith(PREFIX):
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _seen[report.nodeid] = report.outcome
    if report.skipped and isinstance(report.longrepr, tuple):
        _reasons.add(str(report.longrepr[2]))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _seen:
        return
    outcomes = list(_seen.values())
    ran = sum(outcome != "skipped" for outcome in outcomes)
    line = (
        f"real-engine image tests: {ran} ran ({outcomes.count('passed')} passed, "
        f"{outcomes.count('failed')} failed), {outcomes.count('skipped')} skipped"
    )
    terminalreporter.write_sep("-", line, bold=True, red=ran == 0 or "failed" in outcomes)
    for reason in sorted(_reasons):
        terminalreporter.write_line(f"  skipped: {reason}", yellow=True, bold=True)
