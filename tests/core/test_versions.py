"""What a release version is: its forms, its order and the tags that name it (releasectl.core.versions)."""

from __future__ import annotations

from pathlib import Path

import pytest
import semver
from hypothesis import given
from hypothesis import strategies as st

from releasectl.core.config import load_config
from releasectl.core.errors import ExitCode, UsageError
from releasectl.core.versions import (
    commit_of_tag,
    commit_tag,
    is_release_tag,
    looks_like_version,
    parse_tag,
    parse_version,
    parse_version_argument,
    precedence,
    version_key,
)

# ----------------------------------------------------------------------------- release and commit tags


@pytest.mark.parametrize("tag", ["0.1.0", "1.2.3", "10.20.30-rc.0", "1.0.0-rc.12"])
def test_release_tags_are_semver_core_or_rc(tag: str) -> None:
    assert is_release_tag(tag)


@pytest.mark.parametrize(
    "tag", ["v1.2.3", "01.2.3", "1.2", "1.2.3-beta.1", "1.2.3+build", "1.2.3-rc.01", "latest", "1.2.3\n"]
)
def test_anything_else_is_not_a_release_tag(tag: str) -> None:
    assert not is_release_tag(tag)


def test_commit_tag_names_a_full_sha_and_reads_back() -> None:
    sha = "0123456789abcdef" * 2 + "01234567"
    assert commit_of_tag(commit_tag(sha)) == sha
    assert commit_of_tag("git-1234567") is None


def test_commit_tag_rejects_a_short_sha() -> None:
    with pytest.raises(UsageError):
        commit_tag("abc1234")


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("text", ["1.2", "v1.2.3.4", "01.2.3", "1.2.3-", "", "  ", "v1.2.3", "1.2.3+build.5"])
def test_invalid_versions_are_one_line_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_version(text)
    assert info.value.exit_code == ExitCode.USAGE
    assert "\n" not in info.value.one_line()


def test_a_v_prefix_is_accepted_only_where_a_tag_is_read() -> None:
    assert str(parse_version("v1.2.3", allow_prefix="v")) == "1.2.3"
    assert str(parse_tag("v1.3.0-rc.1", "v")) == "1.3.0-rc.1"
    assert parse_tag("v1.2", "v") is None
    assert parse_tag("v1.2.3+b", "v") is None
    assert parse_tag("v1.3.0-beta.1", "v") is None
    assert parse_tag("release-1", "v") is None


@given(st.from_regex(r"v?[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(-rc\.[0-9]{1,2})?", fullmatch=True))
def test_a_version_argument_is_what_a_git_tag_of_it_names(text: str) -> None:
    """The command line and the git ledger read a version the same way, prefix and all."""
    tagged = parse_tag(text if text.startswith("v") else f"v{text}", "v")
    try:
        argument: str | None = parse_version_argument(text)
    except UsageError:
        argument = None
    assert argument == (str(tagged) if tagged is not None else None)


# ----------------------------------------------------------------------------- order

_identifier = st.one_of(st.integers(0, 20).map(str), st.sampled_from(["rc", "alpha", "beta", "zeta", "a1"]))
_any_version = st.builds(
    lambda core, pre: f"{core[0]}.{core[1]}.{core[2]}" + (f"-{'.'.join(pre)}" if pre else ""),
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    st.lists(_identifier, max_size=3),
)


@given(_any_version, _any_version)
def test_version_key_orders_as_semver_precedence(a: str, b: str) -> None:
    expected = semver.Version.parse(a).compare(semver.Version.parse(b))
    assert (version_key(a) > version_key(b)) - (version_key(a) < version_key(b)) == expected


@pytest.mark.parametrize("text", [None, "", "latest", "v1.2.3", "1.2"])
def test_text_that_is_no_version_has_no_precedence(text: str | None) -> None:
    assert precedence(text) is None


# ----------------------------------------------------------------------------- floating tags


@pytest.mark.parametrize("tag", ["1.2.3", "v1.2.0", "2.0.0-rc.1", "1.2", "V3.0", "1.2.3-beta", "01.2.3"])
def test_a_tag_that_looks_like_a_version_is_refused_by_config_and_by_promote_alike(
    tmp_path: Path, tag: str
) -> None:
    from releasectl.commands.releases import floating_tag

    assert looks_like_version(tag)
    with pytest.raises(UsageError, match="looks like a"):
        load_config(env={"RELEASECTL_FLOATING_TAGS": f"latest,{tag}"}, cwd=tmp_path)
    with pytest.raises(UsageError, match="looks like a version"):
        floating_tag(tag, ("latest",))


@pytest.mark.parametrize("tag", ["latest", "prod", "v1", "release-1.2.3", "1"])
def test_names_are_not_version_like(tag: str) -> None:
    assert not looks_like_version(tag)
