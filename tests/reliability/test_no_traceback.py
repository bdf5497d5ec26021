"""Property tests: whatever text reaches the CLI (commit messages, version strings, image tags and
repository names, configuration values), no traceback and no "internal error" escapes it.

The CLI runs in-process (releasectl.cli.app.run with captured stdio): one interpreter start per test
instead of one per example.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.cli import CliResult, run_cli
from tests.support.flows import commit, ledger_config, ledger_world
from tests.support.git import git

DOCUMENTED = {0, 1, 2, 3, 4, 5}
SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# Examples that reach the moto server cost ~0.1 s each (a fresh boto3 session per CLI run);
# names moto answers with a 500 are retried, hence fast_retries in those tests.
AWS_SETTINGS = settings(SETTINGS, max_examples=20)
# Text as people and tools produce it: any printable character, a few control characters,
# leading dashes (option-like), and the characters versions, tags and TOML care about.
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=0, max_size=40
)
VERSIONISH = st.one_of(
    TEXT,
    st.from_regex(
        r"v?[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,3})?(-rc\.[0-9]{1,2}|\+[a-z0-9.]{1,8}|-[a-z]{1,5})?",
        fullmatch=True,
    ),
    st.sampled_from(
        ["", "-", "--", "-h", "1.2.0", "v1.1.0", "0.0.0", "99999999999999999999.0.0", "1.2.3-rc.01"]
    ),
)


def no_traceback(ran: CliResult) -> None:
    assert "Traceback" not in ran.stderr, ran.stderr
    assert "error: internal error" not in ran.stderr, ran.stderr  # releasectl's own "this is a bug"
    assert ran.code in DOCUMENTED, (ran.code, ran.stderr)
    if ran.code:
        assert len(ran.error_lines) == 1, ran.stderr


@pytest.fixture
def ledger(aws_endpoint: str, tmp_path: Path) -> dict[str, Any]:
    ledger_world(aws_endpoint)
    return {"cwd": ledger_config(tmp_path / "w"), "env": {"AWS_ENDPOINT_URL": aws_endpoint}}


@SETTINGS
@given(message=TEXT.filter(lambda m: m.strip() != ""))
def test_any_commit_message_versions_without_a_traceback(message: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    if not repo.exists():
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        (repo / "pyproject.toml").write_text("[tool.releasectl]\n")
        git(repo, "add", ".")
        commit(repo, "chore: start")
    (repo / ".message").write_text(message)
    git(repo, "commit", "-q", "--allow-empty", "--cleanup=verbatim", "-F", ".message")

    for args in (("version", "--offline"), ("--json", "bump", "--dry-run", "--offline")):
        no_traceback(run_cli(*args, cwd=repo))


@AWS_SETTINGS
@given(version=VERSIONISH)
def test_any_version_string_is_refused_or_resolved_without_a_traceback(
    version: str, ledger: dict[str, Any]
) -> None:
    for args in (
        ("deploy", version, "--no-wait"),
        ("rollback", "--to", version, "--no-wait"),
        ("promote", version, "--tag", "stable"),
        ("bump", version, "--dry-run", "--offline"),
    ):
        no_traceback(run_cli(*args, cwd=ledger["cwd"], env=ledger["env"]))


@AWS_SETTINGS
@given(tag=st.one_of(TEXT, st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,130}", fullmatch=True)))
def test_any_image_tag_is_refused_or_written_without_a_traceback(
    tag: str, ledger: dict[str, Any], fast_retries: None
) -> None:
    no_traceback(run_cli("promote", "1.2.0", "--tag", tag, cwd=ledger["cwd"], env=ledger["env"]))


@AWS_SETTINGS
@given(name=st.one_of(TEXT, st.from_regex(r"[a-z0-9][a-z0-9._/-]{0,60}", fullmatch=True)))
def test_any_repository_name_is_refused_or_looked_up_without_a_traceback(
    name: str, ledger: dict[str, Any]
) -> None:
    env = {**ledger["env"], "RELEASECTL_ECR_REPOSITORY": name}
    for args in (("releases",), ("promote", "1.2.0")):
        no_traceback(run_cli(*args, cwd=ledger["cwd"], env=env))


# Every key but the endpoint (any value there would send requests to whatever host it names).
FUZZED_KEYS = [
    "region",
    "profile",
    "ecr_repository",
    "cache_repository",
    "codebuild_project",
    "ecs_cluster",
    "ecs_service",
    "container_name",
    "deploy_timeout",
    "build_timeout",
    "major_on_zero",
    "other_commits",
    "tag_prefix",
    "claim_attempts",
    "max_attempts",
    "builder",
]


@AWS_SETTINGS
@given(
    key=st.sampled_from(FUZZED_KEYS),
    value=st.one_of(TEXT, st.integers().map(str), st.sampled_from(["0", "-1", "true", "1e9"])),
)
def test_any_config_value_from_the_environment_is_refused_or_used_without_a_traceback(
    key: str, value: str, ledger: dict[str, Any], fast_retries: None
) -> None:
    env = {**ledger["env"], f"RELEASECTL_{key.upper()}": value}
    for args in (("status",), ("deploy", "9.9.9", "--no-wait")):
        no_traceback(run_cli(*args, cwd=ledger["cwd"], env=env))


@SETTINGS
@given(
    key=st.sampled_from([*FUZZED_KEYS, "unknown_key"]),
    value=st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70),
        st.booleans(),
        st.floats(allow_nan=True),
        st.lists(st.integers(), max_size=3),
        TEXT,
    ),
)
def test_any_config_file_value_is_refused_or_used_without_a_traceback(
    key: str, value: Any, ledger: dict[str, Any]
) -> None:
    import json

    if isinstance(value, float) and value != value:
        literal = "nan"
    elif isinstance(value, float) and value in (float("inf"), float("-inf")):
        literal = "inf" if value > 0 else "-inf"
    else:
        literal = json.dumps(value).replace("true", "true").replace("false", "false")
    config = ledger["cwd"] / "fuzzed.toml"
    config.write_text(f"[tool.releasectl]\n{key} = {literal}\n")
    no_traceback(run_cli("--config", str(config), "status", cwd=ledger["cwd"], env=ledger["env"]))
