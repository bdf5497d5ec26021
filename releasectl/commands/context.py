"""What every command handler receives: config, output mode, clock and the AWS boundary."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from releasectl.core.clock import Clock, SystemClock
from releasectl.core.config import Config

if TYPE_CHECKING:
    from releasectl.adapters.aws.clients import AwsClients


class Reporter(Protocol):
    """Progress for humans. Always stderr, so stdout stays one JSON object under --json."""

    def info(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def detail(self, message: str) -> None: ...
    def log_line(self, line: str) -> None: ...


class StreamReporter:
    """Plain-text reporter; detail lines only with -v."""

    def __init__(self, stream: TextIO | None = None, *, verbose: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.verbose = verbose

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def info(self, message: str) -> None:
        self._write(message)

    def warn(self, message: str) -> None:
        self._write(f"warning: {message}")

    def detail(self, message: str) -> None:
        if self.verbose:
            self._write(message)

    def log_line(self, line: str) -> None:
        self._write(line)


@dataclass
class RecordingReporter:
    """Keeps every message; for tests."""

    lines: list[tuple[str, str]] = field(default_factory=list)

    def info(self, message: str) -> None:
        self.lines.append(("info", message))

    def warn(self, message: str) -> None:
        self.lines.append(("warn", message))

    def detail(self, message: str) -> None:
        self.lines.append(("detail", message))

    def log_line(self, line: str) -> None:
        self.lines.append(("log", line))

    def texts(self, kind: str | None = None) -> list[str]:
        return [text for k, text in self.lines if kind is None or k == kind]


@dataclass
class Context:
    config: Config
    cwd: Path = field(default_factory=Path.cwd)
    json_output: bool = False
    verbose: bool = False
    reporter: Reporter = field(default_factory=StreamReporter)
    clock: Clock = field(default_factory=SystemClock)
    _aws: AwsClients | None = None

    @property
    def aws(self) -> AwsClients:
        """The one AWS boundary, created on first use so offline commands never import boto3."""
        if self._aws is None:
            from releasectl.adapters.aws.clients import AwsClients

            self._aws = AwsClients.from_config(self.config)
        return self._aws
