"""What every command handler receives: config, output mode, clock and the AWS boundary."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from releasectl.core.clock import Clock, SystemClock
from releasectl.core.config import Config, Environment

if TYPE_CHECKING:
    from releasectl.adapters.aws.clients import AwsClients

# IAM's RoleSessionName: 2 to 64 of these characters.
_SESSION_NAME = re.compile(r"[^\w+=,.@-]")


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


class RecordingReporter:
    """Keeps every message; for tests."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

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


class Context:
    """What a command runs with: its config, working directory, output, clock and AWS clients.

    A plain class, as are the other records `releasectl version` loads: importing dataclasses
    (and the inspect module it loads) would cost that command about 7 ms of its start-up.
    """

    def __init__(
        self,
        config: Config,
        cwd: Path | None = None,
        json_output: bool = False,
        verbose: bool = False,
        reporter: Reporter | None = None,
        clock: Clock | None = None,
        _aws: AwsClients | None = None,
    ) -> None:
        self.config = config
        self.cwd = Path.cwd() if cwd is None else cwd
        self.json_output = json_output
        self.verbose = verbose
        self.reporter: Reporter = StreamReporter() if reporter is None else reporter
        self.clock: Clock = SystemClock() if clock is None else clock
        self._aws = _aws
        # What an assumed role's session is called, so CloudTrail names the release: set once the
        # version is known (releasectl-1.4.0-prod).
        self.session_name = "releasectl"
        self._assumed: dict[str, AwsClients] = {}

    @property
    def aws(self) -> AwsClients:
        """The one AWS boundary, created on first use so offline commands never import boto3.
        Its credentials are the caller's: the release repository and CodeBuild are read with them."""
        if self._aws is None:
            from releasectl.adapters.aws.clients import AwsClients

            self._aws = AwsClients.from_config(self.config)
        return self._aws

    def name_session(self, version: str, environment: str | None = None) -> None:
        name = "-".join(part for part in ("releasectl", version, environment) if part)
        self.session_name = _SESSION_NAME.sub("-", name)[:64]

    def env_aws(self, environment: Environment | None = None) -> AwsClients:
        """Clients for an environment's ECS and CloudFormation (default: the selected one): the
        caller's own, unless the environment names a role to assume."""
        environment = environment or self.config.environment
        if environment is None or (
            environment.role_arn is None and environment.region in (None, self.config.region)
        ):
            return self.aws
        key = environment.name
        if key not in self._assumed:
            from releasectl.adapters.aws.clients import AwsClients

            region = environment.region or self.config.region
            if environment.role_arn is None:
                self._assumed[key] = AwsClients(
                    region=region,
                    profile=self.config.profile,
                    endpoint_url=self.config.endpoint_url,
                    max_attempts=self.config.max_attempts,
                    call_hooks=self.aws.call_hooks,
                )
            else:
                self._assumed[key] = self.aws.assume(
                    environment.role_arn, region=region, session_name=self.session_name
                )
        return self._assumed[key]
