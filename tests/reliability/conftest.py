"""Fixtures of the reliability suite: an AWS endpoint to break things against, and fast retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard retry mode waits up to 20 s between attempts (1 s base for throttling):
    make every backoff ~0 so a test can afford hundreds of injected faults. In-process only."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


@pytest.fixture
def aws_endpoint(moto_endpoint: str) -> Iterator[str]:
    """The AWS endpoint flows run against: an empty moto server today. Point this at the
    sandbox's endpoint (releasectl_sandbox.Sandbox(...).endpoint) to run the same flows there;
    tests reset it between runs through tests.reliability.support.reset()."""
    yield moto_endpoint
