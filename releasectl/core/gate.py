"""The promotion gate: a version deploys to an environment only after it succeeded in the one before.

Pure: the caller reads what the earlier environment recorded (the newest revision of its family
tagged with the version: its outcome and the digest it ran) and hands it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from releasectl.core.errors import EnvironmentProblem, UsageError


@dataclass(frozen=True)
class Recorded:
    """What an environment recorded for one version."""

    outcome: str | None  # None: deployed, outcome not recorded (still rolling, or interrupted)
    digest: str | None
    task_definition: str


@dataclass(frozen=True)
class GatePassed:
    environment: str
    after: str
    version: str
    recorded: Recorded | None
    override_reason: str | None = None  # set when the gate was not met and a person overrode it

    @property
    def overridden(self) -> bool:
        return self.override_reason is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "after": self.after,
            "recorded_outcome": self.recorded.outcome if self.recorded else None,
            "recorded_digest": self.recorded.digest if self.recorded else None,
            "overridden": self.overridden,
            "reason": self.override_reason,
        }


def check_override_options(override: bool, reason: str | None) -> str | None:
    """The override reason, or None; exit 2 when one is given without the other."""
    if override and not (reason and reason.strip()):
        raise UsageError(
            "--override-gate needs --reason TEXT: the reason is recorded with the deployment",
            hint='e.g. --override-gate --reason "checkout outage hotfix, approved by the on-call lead"',
        )
    if reason is not None and not override:
        raise UsageError("--reason applies only with --override-gate")
    return reason.strip() if override and reason else None


def decide(
    *,
    environment: str,
    after: str,
    version: str,
    digest: str,
    recorded: Recorded | None,
    override_reason: str | None,
) -> GatePassed:
    """Pass when `after` recorded `version` as succeeded with this very digest; otherwise refuse
    (exit 4, saying what `after` recorded) unless a reason to override is given."""
    if recorded is None:
        problem = f"{after} has no recorded deployment of {version}"
    elif recorded.outcome != "succeeded":
        state = recorded.outcome or "no outcome (deployment unfinished or interrupted)"
        problem = f"{after} recorded {version} as {state} ({recorded.task_definition})"
    elif recorded.digest != digest:
        problem = (
            f"{after} ran {version} as {recorded.digest}, but the release ledger names {digest}: "
            "that is not the image that was verified"
        )
    else:
        return GatePassed(environment, after, version, recorded)
    if override_reason is not None:
        return GatePassed(environment, after, version, recorded, override_reason)
    raise EnvironmentProblem(
        f"{version} may not deploy to {environment} before it succeeds in {after}: {problem}",
        hint=f"deploy it to {after} first (`releasectl deploy {version} --env {after}`), or "
        f"`--override-gate --reason TEXT`",
    )
