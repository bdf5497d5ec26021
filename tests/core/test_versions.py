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
    Version,
    commit_of_tag,
    commit_tag,
    is_release_tag,
    looks_like_version,
    parse_tag,
    parse_version,
    parse_version_argument,
    precedence,
    read_tag,
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
    from releasectl.commands.promote import floating_tag

    assert looks_like_version(tag)
    with pytest.raises(UsageError, match="looks like a"):
        load_config(env={"RELEASECTL_FLOATING_TAGS": f"latest,{tag}"}, cwd=tmp_path)
    with pytest.raises(UsageError, match="looks like a version"):
        floating_tag(tag, ("latest",))


@pytest.mark.parametrize("tag", ["latest", "prod", "v1", "release-1.2.3", "1"])
def test_names_are_not_version_like(tag: str) -> None:
    assert not looks_like_version(tag)


# ----------------------------------------------------------------------------- the SemVer parser


_build = st.lists(st.sampled_from(["build", "1", "001", "sha", "x-y"]), min_size=1, max_size=2)


@given(_any_version, _any_version, st.one_of(st.none(), _build))
def test_version_orders_and_prints_as_the_semver_package_does(
    a: str, b: str, build: list[str] | None
) -> None:
    text = a + (f"+{'.'.join(build)}" if build else "")
    ours, theirs = Version.parse(text), semver.Version.parse(text)
    assert str(ours) == str(theirs)
    expected = theirs.compare(semver.Version.parse(b))
    assert (ours > Version.parse(b)) - (ours < Version.parse(b)) == expected


@pytest.mark.parametrize(
    "text", ["1.2", "01.2.3", "1.2.3-01", "1.2.3-", "1.2.3+", "1.2.3-a..b", "v1.2.3", " 1.2.3"]
)
def test_version_parse_refuses_what_semver_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        Version.parse(text)
    with pytest.raises(ValueError):
        semver.Version.parse(text)


def test_version_bumps_like_the_rules_need() -> None:
    version = Version.parse("1.3.0-rc.2")
    assert str(version.finalize_version()) == "1.3.0"
    assert str(version.bump_prerelease()) == "1.3.0-rc.3"
    assert [str(Version.parse("1.2.3").bump_major()), str(Version.parse("1.2.3").bump_minor())] == [
        "2.0.0",
        "1.3.0",
    ]
    assert str(Version.parse("1.2.3").replace(prerelease="rc.1")) == "1.2.3-rc.1"


# ----------------------------------------------------------------------------- reading git tags


@pytest.mark.parametrize(
    ("tag", "prefixes", "labels", "version", "canonical"),
    [
        ("v1.2.3", ("v",), ("rc",), "1.2.3", True),
        ("v1.3.0-rc.1", ("v",), ("rc",), "1.3.0-rc.1", True),
        ("1.2.3", ("",), ("rc",), "1.2.3", True),
        ("8.0.1", ("v", ""), ("rc",), "8.0.1", False),
        ("v8.0.1", ("", "v"), ("rc",), "8.0.1", False),
        ("release-2.0.0", ("v", "release-"), ("rc",), "2.0.0", False),
        ("v1.3.0+build.1", ("v",), ("rc",), "1.3.0", False),
        ("v1.3.0-rc.2+b7", ("v",), ("rc",), "1.3.0-rc.2", False),
        ("v2.0.0-beta.1", ("v",), ("rc", "beta"), "2.0.0-beta.1", True),
    ],
)
def test_release_tags_read_under_prefixes_and_labels(
    tag: str, prefixes: tuple[str, ...], labels: tuple[str, ...], version: str, canonical: bool
) -> None:
    reading = read_tag(tag, prefixes, labels)
    assert reading is not None
    assert (reading.version, reading.canonical) == (version, canonical)


@pytest.mark.parametrize(
    ("tag", "prefixes", "reason", "hint"),
    [
        ("v1.2", ("v",), "1.2 has 2 numbers, not MAJOR.MINOR.PATCH", "git tag -a v1.2.0 v1.2^{commit}"),
        ("v1.2.3.4", ("v",), "has 4 numbers", "v1.2.3"),
        ("v01.2.3", ("v",), "01.2.3 has leading zeros", "v1.2.3"),
        (
            "v2.0.0-beta.1",
            ("v",),
            "label 'beta' is not in prerelease_labels (rc)",
            'add "beta" to prerelease_labels',
        ),
        ("v1.0.0-rc1", ("v",), "its pre-release -rc1 is not LABEL.N", "v1.0.0-rc.N"),
        ("v1.2.3", ("",), 'its prefix "v" is neither tag_prefix nor', 'add "v" to legacy_tag_prefixes'),
    ],
)
def test_a_version_like_tag_that_names_no_release_comes_with_its_reason_and_fix(
    tag: str, prefixes: tuple[str, ...], reason: str, hint: str
) -> None:
    reading = read_tag(tag, prefixes, ("rc",))
    assert reading is not None and reading.version is None
    assert reason in reading.reason
    assert hint in reading.hint
    assert reading.nominal is not None


def test_the_version_an_unread_tag_appears_to_name_orders_with_releases() -> None:
    two_numbers = read_tag("v1.2", ("v",))
    beta = read_tag("v2.0.0-beta.1", ("v",))
    assert two_numbers is not None and beta is not None
    assert two_numbers.nominal == version_key("1.2.0")
    assert version_key("1.9.9") < beta.nominal < version_key("2.0.0-rc.1")


@pytest.mark.parametrize("tag", ["vnext", "latest", "v", "release-candidate", "v1"])
def test_tags_that_do_not_look_like_versions_are_nobodys_business(tag: str) -> None:
    assert read_tag(tag, ("v", "")) is None


# ----------------------------------------------------------------------------- the tag settings


def test_an_empty_tag_prefix_and_legacy_prefixes_are_accepted(tmp_path: Path) -> None:
    config = load_config(
        env={"RELEASECTL_TAG_PREFIX": "", "RELEASECTL_LEGACY_TAG_PREFIXES": "v,release-"}, cwd=tmp_path
    )
    assert (config.tag_prefix, config.legacy_tag_prefixes) == ("", ("v", "release-"))
    (tmp_path / "pyproject.toml").write_text('[tool.releasectl]\nlegacy_tag_prefixes = ["", "release-"]\n')
    assert load_config(env={}, cwd=tmp_path).legacy_tag_prefixes == ("", "release-")


def test_prerelease_labels_always_read_rc(tmp_path: Path) -> None:
    config = load_config(env={"RELEASECTL_PRERELEASE_LABELS": "beta,alpha"}, cwd=tmp_path)
    assert config.prerelease_labels == ("beta", "alpha", "rc")
    assert load_config(env={}, cwd=tmp_path).prerelease_labels == ("rc",)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("tag_prefix", "v*"),
        ("tag_prefix", "-v"),
        ("tag_prefix", "has space"),
        ("legacy_tag_prefixes", "ok,bad prefix"),
        ("prerelease_labels", "Beta"),
        ("prerelease_labels", "rc,1"),
    ],
)
def test_bad_tag_settings_are_exit_2_naming_the_key(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(UsageError) as info:
        load_config(env={f"RELEASECTL_{key.upper()}": value}, cwd=tmp_path)
    assert info.value.exit_code == ExitCode.USAGE
    assert f"config {key}" in info.value.message
