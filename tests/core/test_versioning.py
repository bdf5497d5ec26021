"""The bump rules of docs/design.md §4 as pure functions: no git, no AWS."""

from __future__ import annotations

import pytest
import semver
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from releasectl.core.conventional import parse
from releasectl.core.errors import ExitCode, UsageError
from releasectl.core.versioning import (
    BumpDecision,
    Change,
    Policy,
    decide,
    next_free,
    released,
)


def changes(*messages: str) -> list[Change]:
    """Newest first, as git log gives them."""
    return [Change(f"{i:040x}", parse(message)) for i, message in enumerate(messages, start=1)]


def test_feat_bumps_minor() -> None:
    decision = decide("1.2.3", changes("fix: a", "feat: b", "chore: c"))
    assert (decision.next, decision.bump) == ("1.3.0", "minor")
    assert [r.subject for r in decision.reasons] == ["feat: b"]


def test_fix_bumps_patch() -> None:
    assert decide("1.2.3", changes("fix: a")).next == "1.2.4"


def test_other_commits_bump_patch_by_default() -> None:
    decision = decide("1.2.3", changes("chore: a", "docs: b"))
    assert (decision.next, decision.bump) == ("1.2.4", "patch")


def test_other_commits_release_nothing_when_configured_so() -> None:
    decision = decide("1.2.3", changes("chore: a", "ci: b"), policy=Policy(other_commits="none"))
    assert (decision.next, decision.bump) == ("1.2.3", "none")
    assert not decision.released


def test_fix_still_releases_when_other_commits_release_nothing() -> None:
    decision = decide("1.2.3", changes("chore: a", "fix: b"), policy=Policy(other_commits="none"))
    assert decision.next == "1.2.4"


def test_bang_bumps_major() -> None:
    decision = decide("1.2.3", changes("feat!: drop v1 api", "feat: x"))
    assert (decision.next, decision.bump) == ("2.0.0", "major")
    assert decision.reasons[0].kind == "breaking"


def test_breaking_change_footer_bumps_major() -> None:
    assert decide("1.2.3", changes("fix: a\n\nBREAKING CHANGE: flag removed")).next == "2.0.0"


def test_breaking_hyphen_change_footer_bumps_major() -> None:
    assert decide("1.2.3", changes("fix: a\n\nBREAKING-CHANGE: flag removed")).next == "2.0.0"


def test_lowercase_breaking_change_in_body_is_not_major() -> None:
    decision = decide("1.2.3", changes("fix: a\n\nthis is a breaking change: honestly"))
    assert (decision.next, decision.bump) == ("1.2.4", "patch")


def test_capitalised_feat_bumps_minor() -> None:
    assert decide("1.2.3", changes("Feat: shouted feature")).next == "1.3.0"


def test_docs_commit_with_feat_in_its_body_is_a_patch() -> None:
    assert decide("1.2.3", changes("docs: notes\n\nfeat: not a header")).next == "1.2.4"


def test_merge_commit_counts_as_other() -> None:
    decision = decide("1.2.3", changes("Merge pull request #7 from team/topic"))
    assert (decision.next, decision.reasons[0].kind) == ("1.2.4", "other")


def test_breaking_change_on_zero_x_bumps_minor() -> None:
    decision = decide("0.4.2", changes("feat!: rework"))
    assert (decision.next, decision.bump) == ("0.5.0", "minor")
    assert "0.x" in decision.rule


def test_breaking_change_on_zero_x_bumps_major_with_major_on_zero() -> None:
    assert decide("0.4.2", changes("feat!: rework"), policy=Policy(major_on_zero=True)).next == "1.0.0"


def test_release_as_footer_forces_the_version() -> None:
    decision = decide("1.2.3", changes("fix: a", "chore: cut\n\nRelease-As: 3.0.0"))
    assert (decision.next, decision.bump) == ("3.0.0", "major")
    assert decision.reasons[0].level == "release-as"


def footer_commit(message: str) -> Change:
    return Change("c0ffee" + "0" * 34, parse(message))


def test_release_as_not_above_the_current_version_is_set_aside_with_the_commit_and_the_fix() -> None:
    decision = decide("1.2.3", [*changes("fix: a"), footer_commit("chore: cut\n\nRelease-As: 1.0.0")])
    assert (decision.next, decision.rule) == ("1.2.4", "fix → patch")
    (note,) = decision.notes
    assert "commit c0ffee000000 (chore: cut) says Release-As: 1.0.0" in note
    assert "not above the current 1.2.3" in note
    assert "name one above 1.2.3 in a new commit's footer" in note


def test_release_as_equal_to_the_current_version_is_set_aside_too() -> None:
    decision = decide("1.2.3", changes("chore: cut\n\nRelease-As: 1.2.3"))
    assert (decision.next, decision.bump) == ("1.2.4", "patch")
    assert "not above the current 1.2.3" in decision.notes[0]


def test_release_as_written_with_a_v_is_read_as_the_bare_version_with_a_note() -> None:
    decision = decide("1.2.3", [footer_commit("chore: cut\n\nRelease-As: v2.0.0")])
    assert (decision.next, decision.rule) == ("2.0.0", "Release-As: 2.0.0")
    (note,) = decision.notes
    assert "commit c0ffee000000 (chore: cut) says Release-As: v2.0.0; read as 2.0.0" in note


def test_release_as_that_is_no_version_is_set_aside_and_the_commits_decide() -> None:
    decision = decide("1.2.3", changes("feat: a", "chore: cut\n\nRelease-As: 2.0"))
    assert (decision.next, decision.rule) == ("1.3.0", "feat → minor")
    assert "says Release-As: 2.0, which is set aside ('2.0' is not a valid version)" in decision.notes[0]
    assert "name X.Y.Z (or X.Y.Z-rc.N) in a new commit's footer" in decision.notes[0]


def test_a_newer_footer_that_cannot_apply_does_not_bring_back_the_older_one_it_overrode() -> None:
    decision = decide("1.2.3", changes("chore: undo\n\nRelease-As: 1.0.0", "chore: cut\n\nRelease-As: 3.0.0"))
    assert decision.next == "1.2.4"
    assert "Release-As: 1.0.0" in decision.notes[0]


def test_release_as_set_aside_on_request_lets_the_commits_decide_without_a_note() -> None:
    decision = decide("1.2.3", changes("fix: a", "chore: cut\n\nRelease-As: 3.0.0"), release_as=False)
    assert (decision.next, decision.notes) == ("1.2.4", ())


def test_explicit_level_overrides_the_commits() -> None:
    assert decide("1.2.3", changes("feat!: big"), level="patch").next == "1.2.4"
    assert decide("1.2.3", changes("chore: small"), level="major").next == "2.0.0"


def test_unknown_level_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        decide("1.2.3", changes("fix: a"), level="huge")
    assert info.value.exit_code == ExitCode.USAGE


def test_pre_release_sequence_rc1_rc2_then_final() -> None:
    first = decide("1.2.3", changes("feat: a"), pre="rc")
    assert (first.next, first.bump) == ("1.3.0-rc.1", "prerelease")
    second = decide(first.next, changes("fix: b"), pre="rc")
    assert second.next == "1.3.0-rc.2"
    final = decide(second.next, changes("fix: c"))
    assert (final.next, final.bump) == ("1.3.0", "minor")


def test_pre_release_moves_its_core_when_a_higher_level_arrives() -> None:
    assert decide("1.3.0-rc.2", changes("feat!: break"), pre="rc").next == "2.0.0-rc.1"


def test_final_from_a_pre_release_with_no_new_commits() -> None:
    decision = decide("1.3.0-rc.2", [])
    assert (decision.next, decision.bump) == ("1.3.0", "minor")


def test_only_rc_pre_releases_are_supported() -> None:
    for label in ("beta", "rc.1", "RC", ""):
        with pytest.raises(UsageError, match="pre-release label") as info:
            decide("1.2.3", changes("fix: a"), pre=label)
        assert info.value.exit_code == ExitCode.USAGE


def test_release_as_with_a_non_rc_pre_release_is_set_aside_with_the_reason() -> None:
    decision = decide("1.2.3", changes("chore: cut\n\nRelease-As: 2.0.0-beta.1"))
    assert decision.next == "1.2.4"
    assert "the only pre-releases are -rc.N" in decision.notes[0]


def test_a_beta_base_read_from_a_tag_is_finalised_or_followed_by_a_release_candidate() -> None:
    assert decide("2.0.0-beta.1", changes("fix: a")).next == "2.0.0"
    assert decide("2.0.0-beta.1", changes("fix: a"), pre="rc").next == "2.0.0-rc.1"


def test_release_as_may_name_a_release_candidate() -> None:
    assert decide("1.2.3", changes("chore: cut\n\nRelease-As: 2.0.0-rc.1")).next == "2.0.0-rc.1"


def test_no_release_yet_gives_the_initial_version() -> None:
    decision = decide(None, changes("feat!: everything", "chore: init"))
    assert (decision.current, decision.next, decision.bump) == (None, "0.1.0", "initial")


def test_initial_version_honours_release_as_and_pre() -> None:
    assert decide(None, changes("chore: go\n\nRelease-As: 1.0.0")).next == "1.0.0"
    assert decide(None, changes("chore: go"), pre="rc").next == "0.1.0-rc.1"
    assert decide(None, changes("chore: go"), level="major").next == "1.0.0"


def test_released_head_is_that_version_with_nothing_to_do() -> None:
    decision = released("1.2.3")
    assert (decision.current, decision.next, decision.bump, decision.released) == (
        "1.2.3",
        "1.2.3",
        "none",
        True,
    )


_versions = st.builds(
    lambda major, minor, patch, pre: semver.Version(major, minor, patch, prerelease=pre),
    st.integers(0, 30),
    st.integers(0, 30),
    st.integers(0, 30),
    st.one_of(
        st.none(), st.integers(1, 9).map(lambda n: f"rc.{n}"), st.integers(1, 9).map(lambda n: f"beta.{n}")
    ),
)
_messages = st.sampled_from(
    [
        "feat: a",
        "fix: b",
        "chore: c",
        "feat!: d",
        "docs: e\n\nBREAKING CHANGE: f",
        "Merge branch 'x'",
        "docs: g\n\nfeat: h",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    current=_versions,
    messages=st.lists(_messages, max_size=6),
    level=st.sampled_from(["auto", "major", "minor", "patch"]),
    pre=st.sampled_from([None, "rc"]),
    major_on_zero=st.booleans(),
    other=st.sampled_from(["patch", "none"]),
)
def test_next_version_is_always_greater_than_current(
    current: semver.Version, messages: list[str], level: str, pre: str | None, major_on_zero: bool, other: str
) -> None:
    assume(level != "auto" or messages or current.prerelease)
    decision = decide(
        str(current),
        changes(*messages),
        level=level,
        pre=pre,
        policy=Policy(major_on_zero=major_on_zero, other_commits=other),
    )
    if decision.bump == "none":
        assert decision.next == str(current)
    else:
        assert semver.Version.parse(decision.next) > current


# ----------------------------------------------------------------------------- after a lost claim


def _decided(current: str, nxt: str, bump: str) -> BumpDecision:
    return BumpDecision(current=current, next=nxt, bump=bump, commits=1, rule="test")


def test_next_free_keeps_a_version_nobody_holds() -> None:
    decision = _decided("1.2.0", "1.3.0", "minor")
    assert next_free(decision, ["1.2.0", "1.2.1"]) == decision


def test_next_free_steps_past_taken_versions_at_the_decided_level() -> None:
    assert next_free(_decided("1.2.0", "1.3.0", "minor"), ["1.3.0", "1.4.0"]).next == "1.5.0"
    assert next_free(_decided("1.2.0", "1.2.1", "patch"), ["1.2.1"]).next == "1.2.2"
    assert next_free(_decided("1.2.0", "2.0.0", "major"), ["2.0.0"]).next == "3.0.0"


def test_next_free_steps_a_taken_release_candidate_to_the_next_candidate() -> None:
    assert next_free(_decided("1.2.0", "1.3.0-rc.1", "prerelease"), ["1.3.0-rc.1"]).next == "1.3.0-rc.2"


def test_next_free_never_moves_a_head_that_is_already_released() -> None:
    decision = BumpDecision(
        current="1.2.0", next="1.2.0", bump="none", commits=0, rule="released", released=True
    )
    assert next_free(decision, ["1.2.0"]) == decision


# ----------------------------------------------------------------------------- ledger order


@given(
    st.lists(
        st.tuples(
            st.integers(0, 30),
            st.integers(0, 30),
            st.integers(0, 30),
            st.one_of(st.none(), st.integers(1, 12)),
        ),
        max_size=25,
    )
)
def test_ledger_order_is_semver_precedence(parts: list[tuple[int, int, int, int | None]]) -> None:
    import semver

    from releasectl.core.ledger import Release, merge

    versions = {f"{a}.{b}.{c}" + (f"-rc.{rc}" if rc else "") for a, b, c, rc in parts}
    ordered = [r.version for r in merge([Release(v) for v in versions])]
    assert ordered == sorted(versions, key=semver.Version.parse, reverse=True)
