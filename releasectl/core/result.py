"""The outcome record every mutating command returns (docs/design.md §3 JSON contract)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

from releasectl.core.errors import ExitCode


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    TIMED_OUT = "timed_out"
    SUPERSEDED = "superseded"
    NOOP = "noop"
    ERROR = "error"


OUTCOME_EXIT: dict[Outcome, ExitCode] = {
    Outcome.SUCCEEDED: ExitCode.OK,
    Outcome.NOOP: ExitCode.OK,
    Outcome.FAILED: ExitCode.FAILED,
    Outcome.ROLLED_BACK: ExitCode.FAILED,
    Outcome.TIMED_OUT: ExitCode.TIMED_OUT,
    Outcome.SUPERSEDED: ExitCode.CONFLICT,
    Outcome.ERROR: ExitCode.FAILED,
}


class ImageInfo(NamedTuple):
    """The image a command released, deployed or found: its repository, digest and URI."""

    repository: str
    digest: str | None
    uri: str | None

    def to_json(self) -> dict[str, Any]:
        return {"repository": self.repository, "digest": self.digest, "uri": self.uri}


class CommandResult:
    """What a command ended with: the outcome, a one-line message and what it touched.

    A plain class, not a dataclass: see releasectl.commands.context.Context.
    """

    def __init__(
        self,
        command: str,
        outcome: Outcome,
        message: str,
        version: str | None = None,
        image: ImageInfo | None = None,
        duration_s: float = 0.0,
        extra: dict[str, Any] | None = None,
        error_exit: ExitCode | None = None,
    ) -> None:
        self.command = command
        self.outcome = outcome
        self.message = message
        self.version = version
        self.image = image
        self.duration_s = duration_s
        # Command-specific fields (deploys add service, task_definition, deployment_id).
        self.extra: dict[str, Any] = {} if extra is None else extra
        # An error result may carry its own exit code (usage, environment...).
        self.error_exit = error_exit

    def __repr__(self) -> str:
        shown = f"{self.command!r}, {self.outcome!r}, {self.message!r}, version={self.version!r}"
        return f"CommandResult({shown})"

    @property
    def exit_code(self) -> ExitCode:
        if self.outcome is Outcome.ERROR and self.error_exit is not None:
            return self.error_exit
        return OUTCOME_EXIT[self.outcome]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "command": self.command,
            "outcome": self.outcome.value,
            "version": self.version,
            "image": self.image.to_json() if self.image else None,
            "message": self.message,
            "duration_s": round(self.duration_s, 3),
        }
        data.update(self.extra)
        return data
