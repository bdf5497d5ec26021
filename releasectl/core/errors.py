"""Exit codes and the exceptions that carry them (docs/design.md §3).

Every failure the tool knows about is raised as a ReleasectlError subclass; the
CLI turns it into one line on stderr and the exit code below. Anything else is a
bug and is reported as such.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    TIMED_OUT = 3
    ENVIRONMENT = 4
    CONFLICT = 5
    INTERRUPTED = 130


class ReleasectlError(Exception):
    """A failure with a known exit code and, where one exists, a fix."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = self.message.strip().replace("\n", " ")
        if self.hint:
            text = f"{text} ({self.hint})"
        return text


class UsageError(ReleasectlError):
    """Bad option, bad version string, bad config value. Nothing was changed."""

    exit_code = ExitCode.USAGE


class OperationFailed(ReleasectlError):
    """The operation ran and failed (build failed, deployment rolled back...)."""

    exit_code = ExitCode.FAILED


class TimedOut(ReleasectlError):
    """Gave up waiting; the operation may still be in progress."""

    exit_code = ExitCode.TIMED_OUT


class EnvironmentProblem(ReleasectlError):
    """Missing credentials, resource, version or git history. Nothing was changed."""

    exit_code = ExitCode.ENVIRONMENT


class Conflict(ReleasectlError):
    """Superseded by someone else, or a version claim lost its race for good."""

    exit_code = ExitCode.CONFLICT


class Interrupted(ReleasectlError):
    exit_code = ExitCode.INTERRUPTED


@contextmanager
def interrupted_as(what: str | Callable[[], Interrupted], *, hint: str | None = None) -> Iterator[None]:
    """Ctrl-C inside the block ends the command as one Interrupted (exit 130) that says what was in
    flight and what became of it, instead of a traceback. ``what`` is the message, or a function
    that makes the error when the interrupt comes (to say how far the work got, or to stop it)."""
    try:
        yield
    except KeyboardInterrupt:
        raise (what() if callable(what) else Interrupted(what, hint=hint)) from None
