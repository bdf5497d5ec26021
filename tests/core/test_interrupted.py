"""Ctrl-C ends a command as one Interrupted saying what was in flight (core.errors.interrupted_as)."""

from __future__ import annotations

import pytest

from releasectl.core.errors import ExitCode, Interrupted, UsageError, interrupted_as


def test_an_interrupt_becomes_one_line_saying_what_was_in_flight() -> None:
    with (
        pytest.raises(Interrupted) as caught,
        interrupted_as("interrupted while deploying 1.2.0", hint="run it again"),
    ):
        raise KeyboardInterrupt
    assert caught.value.exit_code is ExitCode.INTERRUPTED
    assert caught.value.one_line() == "interrupted while deploying 1.2.0 (run it again)"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_the_message_can_be_made_when_the_interrupt_comes() -> None:
    progress: list[str] = []

    def error() -> Interrupted:
        return Interrupted(f"interrupted after {len(progress)} step(s)")

    with pytest.raises(Interrupted, match="after 2 step"), interrupted_as(error):
        progress += ["one", "two"]
        raise KeyboardInterrupt


def test_other_errors_and_a_quiet_block_pass_through() -> None:
    with pytest.raises(UsageError), interrupted_as("never said"):
        raise UsageError("bad input")
    with interrupted_as("never said"):
        done = True
    assert done
