"""`releasectl build` / `logs` through the CLI, against a moto server."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.support.cli import run_cli
from tests.support.git import GitRepo
from tests.support.moto_fixtures import create_codebuild_project, put_log_lines

PROJECT = "hello-world-release"


def codebuild(endpoint: str) -> Any:
    return boto3.client("codebuild", region_name="us-east-1", endpoint_url=endpoint)


def create_project(endpoint: str) -> None:
    create_codebuild_project(codebuild(endpoint), PROJECT)


def env_for(endpoint: str, project: str = PROJECT) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": endpoint, "RELEASECTL_CODEBUILD_PROJECT": project}


def test_build_head_starts_the_project_on_the_full_sha_and_succeeds(
    moto_endpoint: str, repo: GitRepo
) -> None:
    create_project(moto_endpoint)

    result = run_cli("--json", "build", "--ref", "HEAD", cwd=repo.path, env=env_for(moto_endpoint))

    assert result.code == 0, result.stderr
    payload = json.loads(result.stdout)  # the whole of stdout is one object
    assert payload["command"] == "build"
    assert payload["outcome"] == "succeeded"
    assert payload["build_id"].startswith(f"{PROJECT}:")
    assert payload["status"] == "SUCCEEDED"
    stored = codebuild(moto_endpoint).batch_get_builds(ids=[payload["build_id"]])["builds"][0]
    assert stored["sourceVersion"] == repo.head()
    assert f"started build {payload['build_id']}" in result.stderr
    assert "no logs" in result.stderr


def test_build_of_an_unknown_ref_is_exit_2_and_starts_nothing(moto_endpoint: str, repo: GitRepo) -> None:
    create_project(moto_endpoint)

    result = run_cli("build", "--ref", "no-such-branch", cwd=repo.path, env=env_for(moto_endpoint))

    assert result.code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "no-such-branch" in result.stderr
    assert codebuild(moto_endpoint).list_builds()["ids"] == []


def test_build_of_a_missing_project_is_exit_4_and_starts_nothing(moto_endpoint: str, repo: GitRepo) -> None:
    create_project(moto_endpoint)

    result = run_cli("--json", "build", cwd=repo.path, env=env_for(moto_endpoint, "not-there"))

    assert result.code == 4
    assert "CodeBuild project 'not-there' does not exist" in result.stderr
    assert json.loads(result.stdout)["outcome"] == "error"
    assert codebuild(moto_endpoint).list_builds()["ids"] == []


def test_build_without_a_configured_project_is_exit_2_naming_the_key(
    moto_endpoint: str, repo: GitRepo
) -> None:
    result = run_cli("build", cwd=repo.path, env={"AWS_ENDPOINT_URL": moto_endpoint})

    assert result.code == 2
    assert "codebuild_project" in result.stderr


def test_logs_of_an_unknown_build_is_exit_4(moto_endpoint: str, repo: GitRepo) -> None:
    create_project(moto_endpoint)

    result = run_cli(
        "logs", f"{PROJECT}:00000000-0000-0000-0000-000000000000", cwd=repo.path, env=env_for(moto_endpoint)
    )

    assert result.code == 4
    assert "not found" in result.stderr


def test_logs_prints_the_lines_of_a_build_on_stdout(moto_endpoint: str, repo: GitRepo) -> None:
    create_project(moto_endpoint)
    build_id = codebuild(moto_endpoint).start_build(projectName=PROJECT)["build"]["id"]
    logs = boto3.client("logs", region_name="us-east-1", endpoint_url=moto_endpoint)
    put_log_lines(
        logs, f"/aws/codebuild/{PROJECT}", build_id.split(":", 1)[1], [f"step {i}" for i in range(3)]
    )

    result = run_cli("logs", build_id, cwd=repo.path, env=env_for(moto_endpoint))

    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == ["step 0", "step 1", "step 2"]
