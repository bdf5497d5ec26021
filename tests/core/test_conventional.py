"""The Conventional Commits 1.0 parser, read to the letter of the specification."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from releasectl.core.conventional import parse


def test_feat_header_is_a_feature() -> None:
    commit = parse("feat: add the /version endpoint")
    assert (commit.type, commit.kind, commit.description) == ("feat", "feat", "add the /version endpoint")


def test_fix_header_is_a_fix() -> None:
    assert parse("fix: stop leaking sockets").kind == "fix"


def test_other_types_count_as_other() -> None:
    for message in ("chore: bump deps", "docs: explain rollback", "refactor(api): split module"):
        assert parse(message).kind == "other", message


def test_types_are_case_insensitive() -> None:
    commit = parse("Feat: capitalised type")
    assert commit.type == "feat"
    assert commit.kind == "feat"
    assert parse("FIX(API): shouting").kind == "fix"


def test_scope_is_read() -> None:
    commit = parse("feat(parser): accept footers")
    assert commit.scope == "parser"


def test_bang_before_colon_is_breaking() -> None:
    assert parse("feat!: drop python 3.10").breaking
    assert parse("refactor(api)!: rename endpoints").kind == "breaking"


def test_breaking_change_footer_is_breaking() -> None:
    commit = parse("feat: new config\n\nBody text.\n\nBREAKING CHANGE: the old keys are gone")
    assert commit.breaking
    assert commit.breaking_description == "the old keys are gone"


def test_breaking_hyphen_change_footer_is_a_synonym() -> None:
    assert parse("fix: x\n\nBREAKING-CHANGE: renamed flag").breaking


def test_lowercase_breaking_change_in_a_body_is_prose_not_a_footer() -> None:
    commit = parse("fix: tidy\n\nThis is not a breaking change: callers are unaffected.")
    assert not commit.breaking
    assert parse("fix: tidy\n\nbreaking change: lower case is not the token").kind == "fix"


def test_breaking_footer_must_follow_a_blank_line() -> None:
    assert not parse("feat: x\nBREAKING CHANGE: on the line after the header").breaking


def test_feat_inside_a_docs_body_does_not_make_it_a_feature() -> None:
    commit = parse("docs: describe releases\n\nfeat: this line is just text in the body")
    assert commit.type == "docs"
    assert commit.kind == "other"


def test_merge_commit_is_other() -> None:
    commit = parse("Merge pull request #1 from someone/feature\n\nfeat: add thing")
    assert not commit.conventional
    assert commit.kind == "other"
    assert parse("Merge branch 'main' into topic").kind == "other"


def test_footers_follow_the_blank_line_and_values_span_lines() -> None:
    commit = parse(
        "fix: handle retries\n\nLong body\nover two lines.\n\n"
        "Reviewed-by: Alice\nRefs #123\nBREAKING CHANGE: retries now\n  default to three\n"
    )
    assert commit.body == "Long body\nover two lines."
    assert [(f.token, f.value) for f in commit.footers] == [
        ("Reviewed-by", "Alice"),
        ("Refs", "123"),
        ("BREAKING CHANGE", "retries now\n  default to three"),
    ]


def test_token_with_its_value_on_the_next_lines_is_a_footer() -> None:
    # git strips the trailing space of "BREAKING CHANGE: ", leaving the bare token.
    commit = parse("feat: x\n\nBREAKING CHANGE:\n  the config format changed")
    assert commit.breaking
    assert commit.breaking_description == "the config format changed"
    assert parse("chore: cut\n\nRelease-As:").release_as == ""


def test_release_as_footer_is_read_case_insensitively() -> None:
    assert parse("chore: cut 2.0\n\nRelease-As: 2.0.0").release_as == "2.0.0"
    assert parse("chore: cut 2.0\n\nrelease-as: 2.0.0").release_as == "2.0.0"
    assert parse("chore: no footer").release_as is None


def test_missing_space_after_colon_is_not_conventional() -> None:
    assert not parse("feat:no space").conventional


def test_empty_description_or_scope_is_not_conventional() -> None:
    assert not parse("feat: ").conventional
    assert not parse("fix(): empty scope").conventional


def test_crlf_messages_parse_like_lf() -> None:
    commit = parse("feat: windows\r\n\r\nBREAKING CHANGE: line endings\r\n")
    assert commit.breaking
    assert commit.header == "feat: windows"


def test_empty_message_is_other() -> None:
    assert parse("").kind == "other"
    assert parse("\n\n  \n").header == ""


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_parser_never_raises_on_arbitrary_text(message: str) -> None:
    commit = parse(message)
    assert commit.kind in {"breaking", "feat", "fix", "other"}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                ["feat", "fix", "BREAKING CHANGE", "BREAKING-CHANGE", "Refs", "Release-As", ":", "#"]
            ),
            st.text(alphabet=" \n\r\t:#!()-abc", max_size=8),
        ),
        max_size=30,
    )
)
def test_parser_never_raises_on_commit_shaped_text(parts: list[str]) -> None:
    parse("".join(parts))
