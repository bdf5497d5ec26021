"""Image references, digests and tags: Docker's grammar and ECR registries."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from releasectl.core.errors import UsageError
from releasectl.core.imageref import (
    ImageRef,
    ecr_registry,
    format_ref,
    is_registry_host,
    parse,
    parse_ecr_registry,
    validate_digest,
    validate_tag,
    with_digest,
)

DIGEST = "sha256:" + "ab" * 32
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("app", ImageRef("app")),
        ("app:1.2.0", ImageRef("app", tag="1.2.0")),
        ("team/app:latest", ImageRef("team/app", tag="latest")),
        ("localhost/app", ImageRef("app", registry="localhost")),
        ("localhost:5000/team/app:rc", ImageRef("team/app", registry="localhost:5000", tag="rc")),
        ("127.0.0.1:5000/app", ImageRef("app", registry="127.0.0.1:5000")),
        ("[::1]:5000/app:1.0.0", ImageRef("app", registry="[::1]:5000", tag="1.0.0")),
        (f"app@{DIGEST}", ImageRef("app", digest=DIGEST)),
        (
            f"{ECR}/hello-world:1.2.0@{DIGEST}",
            ImageRef("hello-world", registry=ECR, tag="1.2.0", digest=DIGEST),
        ),
        (
            "docker.io/library/python:3.11-slim",
            ImageRef("library/python", registry="docker.io", tag="3.11-slim"),
        ),
        ("a__b/c-d/e.f_g:x", ImageRef("a__b/c-d/e.f_g", tag="x")),
    ],
)
def test_parse_splits_registry_path_tag_and_digest(text: str, expected: ImageRef) -> None:
    assert parse(text) == expected
    assert format_ref(parse(text)) == text


def test_a_first_component_without_dot_colon_or_localhost_is_part_of_the_path() -> None:
    ref = parse("team/app")
    assert ref.registry is None
    assert ref.repository == "team/app"


def test_a_bare_host_port_is_a_repository_with_a_tag_as_docker_reads_it() -> None:
    assert parse("localhost:5000") == ImageRef("localhost", tag="5000")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "App",  # upper case in a repository path
        "team/App:1",
        "app:",
        "app@",
        "app:.hidden",
        "app:-dash",
        "app:" + "x" * 129,
        "app@sha256:abc",
        "app@sha256:" + "AB" * 32,  # digests are lower-case hex
        "app@sha512:" + "ab" * 64,
        f"app@{DIGEST}@{DIGEST}",
        " app",
        "app:1.0\n",
        "app//x",
        "host.example/",
        "-bad.example/app",
        "app/",
        "a" * 256,
    ],
)
def test_parse_rejects_malformed_references_with_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse(text)


def test_with_digest_pins_the_image_and_drops_the_tag() -> None:
    assert with_digest(f"{ECR}/hello-world:latest", DIGEST) == f"{ECR}/hello-world@{DIGEST}"


def test_with_digest_keeps_a_registry_port() -> None:
    assert with_digest("localhost:5000/team/app:1.0.0", DIGEST) == f"localhost:5000/team/app@{DIGEST}"


def test_with_digest_replaces_an_existing_digest() -> None:
    other = "sha256:" + "cd" * 32
    assert with_digest(f"app@{DIGEST}", other) == f"app@{other}"


def test_with_digest_rejects_a_malformed_digest() -> None:
    with pytest.raises(UsageError, match="sha256"):
        with_digest("app:1", "sha256:1234")


def test_ecr_registry_is_recognised_with_account_and_region() -> None:
    assert parse(f"{ECR}/app").ecr == ("123456789012", "eu-west-1")
    assert parse_ecr_registry(ecr_registry("210987654321", "us-east-1")) == ("210987654321", "us-east-1")


@pytest.mark.parametrize(
    "host",
    [
        "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
        "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
    ],
)
def test_ecr_fips_and_china_registries_are_recognised(host: str) -> None:
    assert parse_ecr_registry(host) is not None


@pytest.mark.parametrize(
    "host", ["docker.io", "localhost:5000", "12345.dkr.ecr.us-east-1.amazonaws.com", f"{ECR}.evil.example"]
)
def test_other_registries_are_not_ecr(host: str) -> None:
    assert parse_ecr_registry(host) is None


@pytest.mark.parametrize(
    ("component", "is_host"),
    [("ghcr.io", True), ("host:80", True), ("localhost", True), ("Team", True), ("team", False)],
)
def test_registry_host_detection_follows_docker(component: str, is_host: bool) -> None:
    assert is_registry_host(component) is is_host


def test_tag_length_limit_is_128() -> None:
    assert validate_tag("t" * 128) == "t" * 128
    with pytest.raises(UsageError):
        validate_tag("t" * 129)


def test_digest_must_be_sha256_with_64_hex_digits() -> None:
    assert validate_digest(DIGEST) == DIGEST
    with pytest.raises(UsageError):
        validate_digest(DIGEST + "\n")


# ----------------------------------------------------------------------------- properties

_alnum = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_separator = st.sampled_from([".", "_", "__", "-", "--"])
_path_component = st.builds(
    lambda first, rest: first + "".join(s + a for s, a in rest),
    _alnum,
    st.lists(st.tuples(_separator, _alnum), max_size=2),
)
_path = st.lists(_path_component, min_size=1, max_size=3).map("/".join)
_host_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)
_registry = st.one_of(
    st.just("localhost"),
    st.builds(lambda labels: ".".join(labels), st.lists(_host_label, min_size=2, max_size=3)),
    st.builds(
        lambda h, p: f"{h}:{p}", st.sampled_from(["localhost", "registry.local", ECR]), st.integers(1, 65535)
    ),
)
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_digest = st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True)


@given(
    st.builds(
        ImageRef,
        repository=_path,
        registry=st.none() | _registry,
        tag=st.none() | _tag,
        digest=st.none() | _digest,
    )
)
def test_format_then_parse_gives_back_the_same_reference(ref: ImageRef) -> None:
    # Without a registry, a first path component that looks like a host would be read as one
    # (Docker's rule); such a reference has no text form, so it is not generated.
    assume(
        ref.registry is not None
        or "/" not in ref.repository
        or not is_registry_host(ref.repository.split("/")[0])
    )
    assert parse(format_ref(ref)) == ref


@given(st.text(max_size=80))
def test_parse_never_raises_anything_but_usage_error_and_round_trips_what_it_accepts(text: str) -> None:
    try:
        ref = parse(text)
    except UsageError:
        return
    assert format_ref(ref) == text


@given(st.text(alphabet="abc:/@.-_0123456789sha", max_size=40))
def test_parse_on_reference_like_noise_only_raises_usage_error(text: str) -> None:
    try:
        ref = parse(text)
    except UsageError:
        return
    assert format_ref(ref) == text
