"""`releasectl version` and `releasectl bump` through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.git import GitRepo


@pytest.fixture(autouse=True)
def not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    # A CI runner's own CI=true would otherwise change the no-tags answer these tests pin down.
    monkeypatch.delenv("CI", raising=False)


def version_json(repo: GitRepo, *extra: str) -> dict:
    result = run_cli("--json", "version", "--offline", *extra, cwd=repo.path)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def bump_json(repo: GitRepo, *args: str) -> tuple[int, dict]:
    result = run_cli("--json", "bump", "--offline", *args, cwd=repo.path)
    return result.code, json.loads(result.stdout)


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_version_json_has_the_documented_shape(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v2.3.4")
    git_repo.commit("fix: a")
    breaking = git_repo.commit("feat!: b")
    payload = version_json(git_repo)
    assert list(payload)[:5] == ["current", "next", "bump", "commits", "reasons"]
    assert payload["current"] == "2.3.4"
    assert payload["next"] == "3.0.0"
    assert payload["bump"] == "major"
    assert payload["commits"] == 2
    assert payload["reasons"] == [
        {"commit": breaking, "subject": "feat!: b", "level": "major", "kind": "breaking"}
    ]


def test_version_json_current_is_null_before_the_first_release(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    payload = version_json(git_repo)
    assert (payload["current"], payload["next"], payload["bump"]) == (None, "0.1.0", "initial")


def test_version_prints_a_short_explanation_for_people(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    git_repo.commit("feat: add health endpoint")
    result = run_cli("version", "--offline", cwd=git_repo.path)
    assert result.code == 0
    assert "current  1.0.0" in result.stdout
    assert "next     1.1.0 (minor)" in result.stdout
    assert "feat → minor" in result.stdout
    assert "feat: add health endpoint" in result.stdout


def test_version_on_a_released_head_is_that_version_and_exit_0(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    payload = version_json(git_repo)
    assert (payload["current"], payload["next"], payload["bump"], payload["released"]) == (
        "1.0.0",
        "1.0.0",
        "none",
        True,
    )


def test_version_in_a_shallow_clone_is_exit_4_with_the_fix(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    git_repo.commit("fix: a")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{git_repo.path}", str(clone)], check=True)
    result = run_cli("version", "--offline", cwd=clone)
    assert result.code == 4
    assert "git fetch --unshallow --tags" in one_line_error(result.stderr)


def test_version_outside_a_git_repository_is_exit_4(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.releasectl]\n")
    result = run_cli("version", "--offline", cwd=tmp_path)
    assert result.code == 4
    assert "not inside a git repository" in one_line_error(result.stderr)


def test_version_offline_in_codebuild_without_tags_is_exit_4(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    result = run_cli("version", "--offline", cwd=git_repo.path, env={"CODEBUILD_BUILD_ID": "proj:1"})
    assert result.code == 4
    assert "git fetch --tags" in one_line_error(result.stderr)


@pytest.mark.parametrize("bad", ["1.2", "v1.2.3.4", "01.2.3", "1.2.3-", "", "0.9.0"])
def test_a_release_as_footer_that_cannot_apply_is_a_warning_and_the_commits_decide(
    git_repo: GitRepo, bad: str
) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    cut = git_repo.commit(f"chore: cut\n\nRelease-As: {bad}")
    result = run_cli("--json", "version", "--offline", cwd=git_repo.path)
    assert result.code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["next"] == "1.0.1"
    (warning,) = payload["warnings"]
    assert f"commit {cut[:12]} (chore: cut) says Release-As:" in warning
    assert f"warning: {warning}" in result.stderr


def test_release_as_forces_the_version_through_the_cli(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    git_repo.commit("fix: small\n\nRelease-As: 2.0.0")
    payload = version_json(git_repo)
    assert (payload["next"], payload["reasons"][0]["level"]) == ("2.0.0", "release-as")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(["huge"], "auto, major, minor or patch", id="unknown-level"),
        pytest.param(["--pre", "rc.1"], None, id="invalid-pre-label"),
        pytest.param(["--push"], "--git-tag", id="push-without-git-tag"),
    ],
)
def test_bump_with_a_bad_argument_is_exit_2_with_one_error_line(
    git_repo: GitRepo, args: list[str], says: str | None
) -> None:
    git_repo.commit("chore: initial")
    result = run_cli("bump", *args, "--offline", cwd=git_repo.path)
    assert result.code == 2
    line = one_line_error(result.stderr)
    if says is not None:
        assert says in line


def test_bump_git_tag_creates_an_annotated_tag_on_head(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    head = git_repo.commit("feat: a")
    code, payload = bump_json(git_repo, "--git-tag")
    assert code == 0
    assert (payload["command"], payload["outcome"], payload["version"], payload["tag"]) == (
        "bump",
        "succeeded",
        "1.1.0",
        "v1.1.0",
    )
    assert git_repo.git("cat-file", "-t", "v1.1.0") == "tag"
    assert git_repo.git("rev-parse", "v1.1.0^{commit}") == head


def test_bump_dry_run_changes_nothing(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    code, payload = bump_json(git_repo, "--git-tag", "--dry-run")
    assert code == 0
    assert payload["version"] == "0.1.0"
    assert payload["dry_run"] is True
    assert "would tag v0.1.0" in payload["message"]
    assert git_repo.git("tag") == ""


def test_bump_on_a_released_head_is_a_noop_with_exit_0(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    code, payload = bump_json(git_repo, "--git-tag")
    assert code == 0
    assert (payload["outcome"], payload["version"], payload["bump"]) == ("noop", "1.0.0", "none")


def test_bump_with_nothing_to_release_is_a_noop(git_repo: GitRepo) -> None:
    (git_repo.path / "pyproject.toml").write_text('[tool.releasectl]\nother_commits = "none"\n')
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    git_repo.commit("docs: words")
    code, payload = bump_json(git_repo, "--git-tag")
    assert code == 0
    assert (payload["outcome"], payload["bump"]) == ("noop", "none")
    assert git_repo.git("tag") == "v1.0.0"


def test_bump_explicit_level_wins(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    git_repo.commit("fix: a")
    _, payload = bump_json(git_repo, "major")
    assert (payload["version"], payload["bump"]) == ("2.0.0", "major")


def test_bump_git_tag_push_sends_the_tag_to_origin(git_repo: GitRepo, tmp_path: Path) -> None:
    remote = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git_repo.git("remote", "add", "origin", str(remote))
    git_repo.commit("chore: initial")
    code, payload = bump_json(git_repo, "--git-tag", "--push")
    assert code == 0
    assert payload["pushed"] is True
    remote_tags = subprocess.run(
        ["git", "-C", str(remote), "tag"], capture_output=True, text=True, check=True
    )
    assert remote_tags.stdout.split() == ["v0.1.0"]


def test_pre_release_sequence_through_the_cli(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    git_repo.commit("feat: a")
    assert bump_json(git_repo, "--pre", "rc", "--git-tag")[1]["version"] == "1.1.0-rc.1"
    git_repo.commit("fix: b")
    assert bump_json(git_repo, "--pre", "rc", "--git-tag")[1]["version"] == "1.1.0-rc.2"
    git_repo.commit("fix: c")
    code, payload = bump_json(git_repo, "--git-tag")
    assert (code, payload["version"], payload["bump"]) == (0, "1.1.0", "minor")
    assert sorted(git_repo.git("tag").split()) == [
        "v1.0.0",
        "v1.1.0",
        "v1.1.0-rc.1",
        "v1.1.0-rc.2",
    ]


def test_version_offline_imports_neither_boto3_nor_rich(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "releasectl", "version", "--offline"],
        cwd=git_repo.path,
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "releasectl.commands.version" in imported
    assert not {name for name in imported if name.split(".")[0] in {"boto3", "botocore", "rich"}}


# ----------------------------------------------------------------------------- with the ECR ledger


def _ecr_client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client("ecr", endpoint_url=endpoint, region_name="us-east-1")


def _needs_ecr_ledger() -> None:
    try:
        from releasectl.adapters.aws.ecr import EcrLedger  # noqa: F401
    except ImportError:
        pytest.skip("releasectl.adapters.aws.ecr.EcrLedger is not available yet")


def test_version_online_without_an_ecr_repository_is_exit_2_pointing_at_offline(git_repo: GitRepo) -> None:
    git_repo.commit("chore: initial")
    result = run_cli("version", cwd=git_repo.path)
    assert result.code == 2
    assert "--offline" in one_line_error(result.stderr)


def test_version_online_merges_an_empty_ecr_ledger_with_git_tags(
    git_repo: GitRepo, moto_endpoint: str
) -> None:
    _needs_ecr_ledger()
    _ecr_client(moto_endpoint).create_repository(repositoryName="hello-world")
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    git_repo.commit("feat: a")
    result = run_cli(
        "--json",
        "version",
        cwd=git_repo.path,
        env={"AWS_ENDPOINT_URL": moto_endpoint, "RELEASECTL_ECR_REPOSITORY": "hello-world"},
    )
    assert result.code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert (payload["current"], payload["next"], payload["ledgers"]) == ("1.0.0", "1.1.0", ["git", "ecr"])


def test_version_online_takes_the_higher_base_from_ecr(git_repo: GitRepo, moto_endpoint: str) -> None:
    _needs_ecr_ledger()
    from tests.support.ecr_fixtures import image_manifest, put_manifest

    client = _ecr_client(moto_endpoint)
    client.create_repository(repositoryName="hello-world")
    git_repo.commit("chore: initial")
    git_repo.tag("v1.0.0")
    released_by_ci = git_repo.commit("fix: a")  # released to ECR, never mirrored as a git tag
    put_manifest(client, "hello-world", image_manifest(), tags=["1.0.1", f"git-{released_by_ci}"])
    git_repo.commit("feat: b")
    env = {"AWS_ENDPOINT_URL": moto_endpoint, "RELEASECTL_ECR_REPOSITORY": "hello-world"}
    payload = json.loads(run_cli("--json", "version", cwd=git_repo.path, env=env).stdout)
    assert (payload["current"], payload["next"], payload["commits"]) == ("1.0.1", "1.1.0", 1)
    assert payload["base"]["sources"] == ["ecr"]


def test_version_online_head_listed_by_ecr_is_already_released(git_repo: GitRepo, moto_endpoint: str) -> None:
    _needs_ecr_ledger()
    from tests.support.ecr_fixtures import image_manifest, put_manifest

    client = _ecr_client(moto_endpoint)
    client.create_repository(repositoryName="hello-world")
    head = git_repo.commit("chore: initial")
    put_manifest(client, "hello-world", image_manifest(), tags=["0.1.0", f"git-{head}"])
    env = {"AWS_ENDPOINT_URL": moto_endpoint, "RELEASECTL_ECR_REPOSITORY": "hello-world"}
    result = run_cli("--json", "version", cwd=git_repo.path, env=env)
    payload = json.loads(result.stdout)
    assert (payload["next"], payload["bump"], payload["released"]) == ("0.1.0", "none", True)
    assert "ECR lists 1 release" in result.stderr
