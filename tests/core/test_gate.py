"""The promotion gate's decision: succeeded in `after`, with this digest, or overridden with a reason."""

from __future__ import annotations

import pytest

from releasectl.core.errors import EnvironmentProblem, UsageError
from releasectl.core.gate import Recorded, check_override_options, decide

DIGEST = "sha256:" + "a" * 64


def gate(recorded: Recorded | None, reason: str | None = None, digest: str = DIGEST) -> object:
    return decide(
        environment="prod",
        after="staging",
        version="1.4.0",
        digest=digest,
        recorded=recorded,
        override_reason=reason,
    )


def test_a_success_with_the_same_digest_passes() -> None:
    assert not gate(Recorded("succeeded", DIGEST, "td:3")).overridden  # type: ignore[attr-defined]


def test_a_success_with_another_digest_is_refused() -> None:
    with pytest.raises(
        EnvironmentProblem, match=r"staging ran 1\.4\.0 as sha256:b+, but the release ledger names"
    ):
        gate(Recorded("succeeded", "sha256:" + "b" * 64, "td:3"))


@pytest.mark.parametrize("outcome", ["failed", "rolled_back", "timed_out", "superseded"])
def test_any_other_recorded_outcome_is_refused_naming_it(outcome: str) -> None:
    with pytest.raises(EnvironmentProblem, match=f"staging recorded 1.4.0 as {outcome}"):
        gate(Recorded(outcome, DIGEST, "td:3"))


def test_a_reason_overrides_an_unmet_gate() -> None:
    passed = gate(None, reason="hotfix")
    assert passed.overridden and passed.override_reason == "hotfix"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("override", "reason"), [(True, None), (True, "  "), (False, "why")])
def test_override_and_reason_come_together(override: bool, reason: str | None) -> None:
    with pytest.raises(UsageError):
        check_override_options(override, reason)
