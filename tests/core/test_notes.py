"""Release notes and the changelog, pure: which commits a release holds, how they are grouped and
rendered, and how a changelog file keeps its hand-written header."""

from __future__ import annotations

from typing import NamedTuple

from releasectl.core.ledger import Release
from releasectl.core.notes import MARKER, changelog, entry, header, listed, notes, sections, stops


class C(NamedTuple):
    sha: str
    parents: tuple[str, ...]
    date: str
    message: str


def sha(n: int) -> str:
    """A full sha whose short form shows n: sha(1) is 0000001 and 33 zeros."""
    return f"{n:07x}".ljust(40, "0")


def linear(*messages: str) -> list[C]:
    """A linear history, oldest message first; returned newest first, as git log gives it."""
    found = [C(sha(i + 1), (sha(i),) if i else (), f"2026-01-{i + 1:02d}", m) for i, m in enumerate(messages)]
    return list(reversed(found))


def tag(version: str) -> str:
    return f"v{version}"


# ----------------------------------------------------------------------------- grouping


def test_each_commit_lands_in_exactly_one_group_breaking_before_feature() -> None:
    history = linear("feat(api)!: drop v1", "feat: dark mode", "fix(ui): overflow", "docs: readme", "WIP")

    found = notes("1.0.0", tag="v1.0.0", commit=sha(5), history=history, lower=[])

    groups = {name: [e.sha for e in items] for name, items in found.grouped().items()}
    assert groups == {
        "breaking": [sha(1)],
        "features": [sha(2)],
        "fixes": [sha(3)],
        "other": [sha(5), sha(4)],
    }


def test_a_breaking_change_carries_the_text_of_its_footer() -> None:
    item = entry(sha(1), "refactor(db): new schema\n\nBody.\n\nBREAKING CHANGE: run the migration\nfirst")

    assert (item.group, item.scope, item.breaking_text) == ("breaking", "db", "run the migration\nfirst")
    assert item.markdown() == "- **db:** new schema (0000001)\n\n  run the migration\n  first"


def test_a_bang_without_a_footer_says_the_description_once() -> None:
    item = entry(sha(1), "feat!: remove the old API")

    assert (item.group, item.breaking_text) == ("breaking", None)
    assert item.markdown() == "- remove the old API (0000001)"


def test_other_commits_show_their_subject_as_written() -> None:
    assert entry(sha(0xABCDEF1), "Merge branch 'x'").markdown() == "- Merge branch 'x' (abcdef1)"
    assert entry(sha(2), "chore(deps): bump").markdown() == "- chore(deps): bump (0000002)"


def test_the_markdown_lists_the_groups_in_a_fixed_order_under_the_version_and_date() -> None:
    history = linear("fix: b", "feat(x): a")

    text = notes("1.1.0", tag="v1.1.0", commit=sha(2), history=history, lower=[]).markdown()

    assert text == (
        "## 1.1.0 (2026-01-02)\n\n### Features\n\n- **x:** a (0000002)\n\n### Fixes\n\n- b (0000001)\n"
    )


def test_notes_with_no_commits_say_so() -> None:
    lower = [Release("1.0.0", commit=sha(1))]

    found = notes("1.0.1", tag="v1.0.1", commit=sha(1), history=[], lower=lower)

    assert found.previous == "1.0.0"
    assert found.body() == "No changes since 1.0.0.\n"


def test_the_tag_message_starts_with_a_subject_line() -> None:
    found = notes("1.0.0", tag="v1.0.0", commit=sha(1), history=linear("feat: a"), lower=[])

    assert found.tag_message().splitlines()[:3] == ["release 1.0.0", "", "### Features"]


# ----------------------------------------------------------------------------- which commits


def test_a_final_release_folds_in_its_own_pre_releases_but_stops_at_the_previous_final() -> None:
    releases = [
        Release("1.0.0", commit=sha(1)),
        Release("1.1.0-rc.1", commit=sha(2)),
        Release("1.1.0-rc.2", commit=sha(3)),
        Release("2.0.0-rc.1", commit=sha(9)),
    ]

    assert [r.version for r in stops(releases, "1.1.0")] == ["1.0.0"]


def test_a_pre_release_stops_at_every_lower_release() -> None:
    releases = [Release("1.0.0", commit=sha(1)), Release("1.1.0-rc.1", commit=sha(2))]

    assert [r.version for r in stops(releases, "1.1.0-rc.2")] == ["1.1.0-rc.1", "1.0.0"]


def test_the_changelog_lists_finals_and_only_the_pre_releases_not_yet_final() -> None:
    releases = [
        Release("1.0.0-rc.1", commit=sha(1)),
        Release("1.0.0", commit=sha(2)),
        Release("1.1.0-rc.1", commit=sha(3)),
    ]

    assert [r.version for r in listed(releases)] == ["1.1.0-rc.1", "1.0.0"]


def test_sections_give_every_commit_to_the_first_release_that_holds_it() -> None:
    history = linear("feat: a", "fix: b", "feat: c", "fix: d", "chore: e")
    releases = [
        Release("0.1.0", commit=sha(2)),
        Release("0.2.0", commit=sha(4)),
        Release("0.2.0-rc.1", commit=sha(3)),
    ]

    found = sections(history, releases, tag_of=tag)

    assert [(n.version, [e.sha for e in n.entries], n.previous) for n in found] == [
        ("0.2.0", [sha(4), sha(3)], "0.1.0"),
        ("0.1.0", [sha(2), sha(1)], None),
    ]
    assert [n.tag for n in found] == ["v0.2.0", "v0.1.0"]


def test_a_maintenance_release_off_the_main_line_holds_only_its_own_commits() -> None:
    # main: 1 (1.0.0) - 2 - 3 (1.1.0); maintenance: 1 - 4 (1.0.1)
    history = [
        C(sha(3), (sha(2),), "2026-01-03", "feat: on main"),
        C(sha(4), (sha(1),), "2026-01-04", "fix: backport"),
        C(sha(2), (sha(1),), "2026-01-02", "fix: on main"),
        C(sha(1), (), "2026-01-01", "feat: first"),
    ]
    releases = [
        Release("1.0.0", commit=sha(1)),
        Release("1.1.0", commit=sha(3)),
        Release("1.0.1", commit=sha(4)),
    ]

    found = {
        n.version: ([e.sha for e in n.entries], n.previous) for n in sections(history, releases, tag_of=tag)
    }

    assert found == {
        "1.1.0": ([sha(3), sha(2)], "1.0.0"),
        "1.0.1": ([sha(4)], "1.0.0"),
        "1.0.0": ([sha(1)], None),
    }


# ----------------------------------------------------------------------------- the changelog file


def test_a_new_changelog_gets_a_short_header_and_the_marker() -> None:
    text = changelog(None, [notes("0.1.0", tag="v0.1.0", commit=sha(1), history=linear("feat: a"), lower=[])])

    assert text.startswith("# Changelog\n")
    assert f"\n{MARKER}\n\n## 0.1.0 (2026-01-01)\n" in text


def test_the_hand_written_header_above_the_marker_is_kept_byte_for_byte() -> None:
    existing = f"# Shop\r\n\r\nRead me *first*.\r\n{MARKER}\r\n\n## 0.0.1\n\nold\n"
    fresh = [notes("0.1.0", tag="v0.1.0", commit=sha(1), history=linear("feat: a"), lower=[])]

    text = changelog(existing, fresh)

    assert text.startswith(f"# Shop\r\n\r\nRead me *first*.\r\n{MARKER}\r\n")
    assert "old" not in text
    assert changelog(text, fresh) == text


def test_a_changelog_without_the_marker_keeps_what_precedes_its_first_release_heading() -> None:
    existing = "# History\n\nWritten by hand.\n\n## 0.0.1 - 2020-01-01\n\n- something\n"

    assert header(existing) == f"# History\n\nWritten by hand.\n\n{MARKER}\n"


def test_a_file_with_no_release_heading_is_all_header() -> None:
    assert header("Just words.\n") == f"Just words.\n\n{MARKER}\n"
