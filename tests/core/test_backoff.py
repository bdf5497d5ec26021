"""The one wait shape (releasectl.core.backoff): grow while nothing changes, reset on a change,
jitter, about one call a second at most, never past the deadline."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from releasectl.core.backoff import Backoff

POLICY = Backoff(first=2.0, maximum=15.0, factor=1.6, jitter=0.2)


def test_the_interval_grows_to_the_maximum_while_nothing_changes_and_resets_on_a_change() -> None:
    intervals = [POLICY.first]
    for _ in range(8):
        intervals.append(POLICY.step(intervals[-1]))
    assert intervals[:4] == pytest.approx([2.0, 3.2, 5.12, 8.192])
    assert intervals[-1] == 15.0
    assert POLICY.step(15.0, changed=True) == 2.0


def test_growing_from_nothing_starts_at_first() -> None:
    throttle = Backoff(first=2.0, maximum=30.0)
    waits = [throttle.step(0.0)]
    for _ in range(5):
        waits.append(throttle.step(waits[-1]))
    assert waits == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


@given(st.floats(0.1, 60.0), st.integers(0, 2**32 - 1))
def test_a_pause_is_the_interval_within_its_jitter(interval: float, seed: int) -> None:
    pause = POLICY.pause(interval, rng=random.Random(seed))
    assert interval * 0.8 <= pause <= interval * 1.2


def test_without_jitter_or_a_random_source_the_pause_is_the_interval() -> None:
    assert Backoff(first=1.0, maximum=5.0).pause(3.0, rng=random.Random(1)) == 3.0
    assert POLICY.pause(3.0) == 3.0


@given(st.integers(0, 400), st.floats(0.0, 15.0))
def test_each_call_just_made_buys_at_least_a_second_of_pause(calls: int, interval: float) -> None:
    assert POLICY.pause(interval, rng=random.Random(0), calls=calls) >= calls * POLICY.per_call


@given(st.floats(0.0, 15.0), st.integers(0, 10), st.floats(-5.0, 30.0))
def test_a_pause_never_runs_past_the_deadline(interval: float, calls: int, remaining: float) -> None:
    pause = POLICY.pause(interval, rng=random.Random(0), calls=calls, remaining=remaining)
    assert 0.0 <= pause <= max(0.0, remaining)
