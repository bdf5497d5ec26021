"""Against the sandbox, no release tag reaches a remote the sandbox did not create.

A shell that sourced the sandbox's env file pushes no tag (git_tag_remote = none). A sandbox
CodeBuild build of a clone whose origin is the user's own pushes none either; a build of the
demo's scratch copy clones the scratch's own bare origin (what was pushed, tags included) and
pushes its release tags back there, so the next build versions from them. Each test runs a
sandbox of its own, whose builds run `releasectl release` for real.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from releasectl_sandbox.demo.scratch import Scratch, clean_environment
from releasectl_sandbox.sandbox import Sandbox
from releasectl_sandbox.state import read_env_file
from tests.sandbox.test_codebuild_sim import finished, log_lines
from tests.support.ecr_fixtures import create_repository
from tests.support.git import git
from tests.support.release_world import remote_tags
from tests.support.sandbox_projects import CONFIG, init_repo, project_config, service_files, wait_for

pytestmark = pytest.mark.e2e

PROJECT = "hello-world-release"
BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - echo "checkout tags:$(git tag -l | tr '\\n' ' ')"
      - python -m releasectl release --no-deploy
"""
NO_TAGS_WARNING = "git has no release tags"


def project_files() -> dict[str, str]:
    return {"pyproject.toml": CONFIG, "buildspec.yml": BUILDSPEC, **service_files()}


@pytest.fixture
def user_clone(tmp_path: Path) -> Path:
    """A user's clone whose origin is their own remote (a bare repository the sandbox did not make)."""
    repo = init_repo(tmp_path / "clone", project_files())
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "origin.git")], check=True)
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(repo, "push", "-q", "origin", "main")
    return repo


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Scratch]:
    """The demo's scratch copy of a project, with the bare origin the demo makes for it."""
    made = Scratch(clean_environment())
    try:
        made.populate(init_repo(tmp_path / "template", project_files()))
        yield made
    finally:
        made.remove()


def running(project: Path, root: Path) -> Sandbox:
    return Sandbox(
        project,
        config=project_config(project),
        state_dir=root / "state",
        env_file=root / "sandbox.env",
        bootstrap=False,
        wait_steady_s=0,
    )


def released_by_a_build(sandbox: Sandbox, commit: str) -> list[str]:
    """Start a build of `commit` releasing into a release repository of its own; its log lines."""
    repository = f"tags-{uuid.uuid4().hex[:8]}"
    clients = sandbox.clients()
    create_repository(
        clients.client("ecr"), repository, mutability="IMMUTABLE_WITH_EXCLUSION", mutable_tags=["latest"]
    )
    return build_log(sandbox, commit, repository)


def build_log(sandbox: Sandbox, commit: str, repository: str) -> list[str]:
    codebuild: Any = sandbox.clients().client("codebuild")
    started = codebuild.start_build(
        projectName=PROJECT,
        sourceVersion=commit,
        environmentVariablesOverride=[
            {"name": "RELEASECTL_ECR_REPOSITORY", "value": repository, "type": "PLAINTEXT"}
        ],
    )["build"]
    build = finished(codebuild, started["id"], timeout=120)
    wait_for(lambda: any("FINALIZING" in line for line in log_lines(sandbox, build)), 10, "the whole log")
    lines = log_lines(sandbox, build)
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lines)
    return lines


def test_the_env_file_tells_releasectl_to_push_no_tag(user_clone: Path, tmp_path: Path) -> None:
    with running(user_clone, tmp_path) as sandbox:
        assert read_env_file(sandbox.env_file)["RELEASECTL_GIT_TAG_REMOTE"] == "none"


def test_a_build_of_a_clone_whose_origin_the_sandbox_did_not_create_pushes_no_tag_there(
    user_clone: Path, tmp_path: Path
) -> None:
    with running(user_clone, tmp_path) as sandbox:
        lines = released_by_a_build(sandbox, git(user_clone, "rev-parse", "HEAD"))

    assert remote_tags(tmp_path / "origin.git") == []
    assert any('did not push v0.1.0: git_tag_remote is "none"' in line for line in lines), "\n".join(lines)


def test_a_build_of_the_demo_scratch_pushes_its_tag_to_the_scratch_origin_and_the_next_build_sees_it(
    scratch: Scratch, tmp_path: Path
) -> None:
    with running(scratch.repo, tmp_path) as sandbox:
        repository = f"tags-{uuid.uuid4().hex[:8]}"
        create_repository(
            sandbox.clients().client("ecr"),
            repository,
            mutability="IMMUTABLE_WITH_EXCLUSION",
            mutable_tags=["latest"],
        )
        first = build_log(sandbox, scratch.git("rev-parse", "HEAD"), repository)
        (scratch.repo / "feature.txt").write_text("a feature\n")
        scratch.git("add", "feature.txt")
        scratch.git("commit", "-q", "-m", "feat: a feature")
        scratch.push()
        second = build_log(sandbox, scratch.git("rev-parse", "HEAD"), repository)

    assert remote_tags(scratch.origin) == ["v0.1.0", "v0.2.0"]
    assert any(f"pushed v0.1.0 to origin ({scratch.origin})" in line for line in first), "\n".join(first)
    assert any("checkout tags:v0.1.0" in line for line in second), "\n".join(second)
    assert not any(NO_TAGS_WARNING in line for line in second), "\n".join(second)
