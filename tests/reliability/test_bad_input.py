"""Every command against bad input: one line on stderr, the documented exit code, nothing changed.

Each row runs the CLI (in-process, through releasectl.cli.app.run) in a project whose configuration
names existing resources, against a world holding them, and compares a snapshot of everything
releasectl could change (ECR images and tags, task definitions, services, builds, log groups)
taken before and after.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_state import client, reset, snapshot
from tests.support.cli import CliResult, one_line_error, run_cli
from tests.support.flows import APP, CLUSTER, PROJECT, SERVICE, build_world, commit, ledger_world
from tests.support.git import git

FULL_CONFIG = (
    f'[tool.releasectl]\necr_repository = "{APP}"\necs_cluster = "{CLUSTER}"\n'
    f'ecs_service = "{SERVICE}"\ncontainer_name = "app"\ncodebuild_project = "{PROJECT}"\n'
    'builder = "docker"\n'
)
NO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_SECURITY_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_EC2_METADATA_DISABLED": "true",  # no 1 s IMDS probe per attempt
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
    "AWS_WEB_IDENTITY_TOKEN_FILE": None,
}
BAD_TEMPLATE = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Thing:\n    Type: [not, a, string\n"
BAD_BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands: {not: a list}\n"


@dataclass(frozen=True)
class Row:
    id: str
    args: tuple[str, ...]
    code: int
    says: str = ""  # a fragment the error line must contain (case-insensitive)
    env: dict[str, str | None] = field(default_factory=dict)
    project: Callable[[Path], None] | None = None  # changes the project before the run


def config(text: str) -> Callable[[Path], None]:
    def write(project: Path) -> None:
        (project / "pyproject.toml").write_text(text)
        git(project, "commit", "-q", "-am", "chore: configure")

    return write


def with_value(key: str, value: str) -> Callable[[Path], None]:
    lines = [line for line in FULL_CONFIG.splitlines() if not line.startswith(f"{key} ")]
    return config("\n".join([*lines, f"{key} = {value}"]) + "\n")


def without(key: str) -> Callable[[Path], None]:
    return config(
        "\n".join(line for line in FULL_CONFIG.splitlines() if not line.startswith(f"{key} ")) + "\n"
    )


def dirty(project: Path) -> None:
    with (project / "service" / "hello_world.py").open("a") as handle:
        handle.write("# an edit nobody committed\n")


def file(name: str, text: str, *, commit_it: bool = True) -> Callable[[Path], None]:
    def write(project: Path) -> None:
        (project / name).write_text(text)
        if commit_it:
            git(project, "add", name)
            git(project, "commit", "-q", "-m", f"chore: add {name}")

    return write


MALFORMED_VERSIONS = [
    Row("deploy-two-part-version", ("deploy", "1.2", "--no-wait"), 2, "1.2"),
    Row("deploy-build-metadata", ("deploy", "1.2.0+build.5", "--no-wait"), 2, "1.2.0+build.5"),
    Row("deploy-garbage", ("deploy", "latest!", "--no-wait"), 2, "latest!"),
    Row("rollback-malformed", ("rollback", "--to", "one.two.three", "--no-wait"), 2, "one.two.three"),
    Row("promote-malformed", ("promote", "1.2", "--tag", "latest"), 2, "1.2"),
    Row("promote-onto-version-tag", ("promote", "1.2.0", "--tag", "1.1.0"), 2, "1.1.0"),
    Row("promote-onto-commit-tag", ("promote", "1.2.0", "--tag", "git-" + "a" * 40), 2, "commit tag"),
    Row("promote-invalid-tag", ("promote", "1.2.0", "--tag", "no spaces"), 2, "no spaces"),
    Row("bump-unknown-level", ("bump", "huge", "--dry-run"), 2, "huge"),
    Row("bump-bad-pre-label", ("bump", "minor", "--pre", "r c", "--dry-run"), 2, "r c"),
    Row("bump-push-without-tag", ("bump", "--push"), 2, "--push"),
]
UNKNOWN_VERSIONS = [
    Row("deploy-unknown", ("deploy", "9.9.9", "--no-wait"), 4, "9.9.9"),
    Row("rollback-unknown", ("rollback", "--to", "9.9.9", "--no-wait"), 4, "9.9.9"),
    Row("promote-unknown", ("promote", "9.9.9", "--tag", "latest"), 4, "9.9.9"),
]
BAD_CONFIG = [
    Row(
        "release-no-repository",
        ("release", "--no-deploy"),
        2,
        "ecr_repository",
        project=without("ecr_repository"),
    ),
    Row(
        "deploy-no-service",
        ("deploy", "1.2.0", "--no-wait"),
        2,
        "ecs_service",
        project=without("ecs_service"),
    ),
    Row(
        "deploy-no-container",
        ("deploy", "1.2.0", "--no-wait"),
        2,
        "container_name",
        project=without("container_name"),
    ),
    Row("build-no-project", ("build",), 2, "codebuild_project", project=without("codebuild_project")),
    Row(
        "promote-no-repository", ("promote", "1.2.0"), 2, "ecr_repository", project=without("ecr_repository")
    ),
    Row("unknown-key", ("status",), 2, "colour", project=with_value("colour", '"blue"')),
    Row("not-toml", ("releases",), 2, "not valid toml", project=file("pyproject.toml", "[tool.releasectl\n")),
    Row(
        "timeout-not-a-number",
        ("deploy", "1.2.0"),
        2,
        "deploy_timeout",
        project=with_value("deploy_timeout", '"soon"'),
    ),
    Row(
        "timeout-infinite",
        ("deploy", "1.2.0"),
        2,
        "deploy_timeout",
        project=with_value("deploy_timeout", "inf"),
    ),
    Row("negative-attempts", ("releases",), 2, "max_attempts", project=with_value("max_attempts", "-1")),
    Row(
        "endpoint-not-http",
        ("releases",),
        2,
        "endpoint_url",
        env={"RELEASECTL_ENDPOINT_URL": "ftp://example"},
    ),
    Row(
        "builder-unknown", ("release", "--no-deploy"), 2, "builder", project=with_value("builder", '"kaniko"')
    ),
    Row("config-file-missing", ("--config", "nowhere.toml", "status"), 2, "nowhere.toml"),
    Row(
        "section-not-a-table",
        ("status",),
        2,
        "must be a table",
        project=file("pyproject.toml", "[tool]\nreleasectl = 3\n"),
    ),
    Row("region-invalid", ("releases",), 2, "region", env={"RELEASECTL_REGION": "us east 1"}),
]
MISSING_RESOURCES = [
    Row("releases-missing-repository", ("releases",), 4, "'nope'", env={"RELEASECTL_ECR_REPOSITORY": "nope"}),
    Row(
        "promote-missing-repository",
        ("promote", "1.2.0"),
        4,
        "'nope'",
        env={"RELEASECTL_ECR_REPOSITORY": "nope"},
    ),
    Row(
        "deploy-missing-repository",
        ("deploy", "1.2.0", "--no-wait"),
        4,
        "'nope'",
        env={"RELEASECTL_ECR_REPOSITORY": "nope"},
    ),
    Row(
        "release-missing-repository",
        ("release", "--no-deploy"),
        4,
        "'nope'",
        env={"RELEASECTL_ECR_REPOSITORY": "nope"},
    ),
    Row(
        "deploy-missing-service",
        ("deploy", "1.2.0", "--no-wait"),
        4,
        "'nope'",
        env={"RELEASECTL_ECS_SERVICE": "nope"},
    ),
    Row(
        "deploy-missing-cluster",
        ("deploy", "1.2.0", "--no-wait"),
        4,
        "'nope'",
        env={"RELEASECTL_ECS_CLUSTER": "nope"},
    ),
    Row(
        "rollback-missing-service",
        ("rollback", "--to", "1.1.0", "--no-wait"),
        4,
        "'nope'",
        env={"RELEASECTL_ECS_SERVICE": "nope"},
    ),
    Row("status-missing-service", ("status",), 4, "'nope'", env={"RELEASECTL_ECS_SERVICE": "nope"}),
    Row(
        "build-missing-project",
        ("build", "--no-follow"),
        4,
        "'nope'",
        env={"RELEASECTL_CODEBUILD_PROJECT": "nope"},
    ),
    Row("logs-unknown-build", ("logs", f"{PROJECT}:00000000-0000-0000-0000-000000000000"), 4, "not found"),
    Row("logs-malformed-build-id", ("logs", "no-colon-here"), 2, "no-colon-here"),
    Row("infra-outputs-missing-stack", ("infra", "outputs", "--stack-name", "nope"), 4, "nope"),
    Row("infra-destroy-unconfirmed", ("infra", "destroy", "--stack-name", "nope"), 2, "--yes"),
]
NO_CREDENTIALS_ROWS = [
    Row(f"no-credentials-{'-'.join(args[:1])}", args, 4, "credentials", env=NO_CREDENTIALS)
    for args in (
        ("releases",),
        ("status",),
        ("deploy", "1.2.0", "--no-wait"),
        ("rollback", "--to", "1.1.0", "--no-wait"),
        ("promote", "1.2.0"),
        ("build", "--no-follow"),
        ("release", "--no-deploy"),
        ("version",),
        ("infra", "outputs"),
    )
]
UNREACHABLE = [
    Row(f"unreachable-{'-'.join(args[:1])}", args, 4, "cannot reach", env={"AWS_ENDPOINT_URL": "CLOSED"})
    for args in (("releases",), ("deploy", "1.2.0", "--no-wait"), ("build", "--no-follow"), ("status",))
]
GIT_STATE = [
    Row("release-dirty-tree", ("release", "--no-deploy"), 4, "uncommitted", project=dirty),
    Row("build-unknown-ref", ("build", "--ref", "no-such-branch"), 2, "no-such-branch"),
    Row("build-local-unknown-ref", ("build", "--local", "--ref", "no-such-branch"), 2, "no-such-branch"),
    Row("build-ref-looks-like-option", ("build", "--ref=-x"), 2, "-x"),
    Row(
        "build-local-invalid-buildspec",
        ("build", "--local"),
        2,
        "buildspec",
        project=file("buildspec.yml", BAD_BUILDSPEC),
    ),
    Row(
        "infra-diff-invalid-template",
        ("infra", "diff", "--template", "bad.yaml"),
        2,
        "bad.yaml",
        project=file("bad.yaml", BAD_TEMPLATE),
    ),
    Row("infra-diff-missing-template", ("infra", "diff", "--template", "none.yaml"), 2, "none.yaml"),
    Row("infra-bad-parameter", ("infra", "diff", "-p", "NoEquals"), 2, "NoEquals"),
]
ROWS = (
    MALFORMED_VERSIONS
    + UNKNOWN_VERSIONS
    + BAD_CONFIG
    + MISSING_RESOURCES
    + NO_CREDENTIALS_ROWS
    + UNREACHABLE
    + GIT_STATE
)


_world: dict[str, Any] = {}


@pytest.fixture
def aws_world(moto_server: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Releases 1.1.0/1.2.0, a service running 1.1.0, a CodeBuild project, and a clean project
    checkout configured for all of them.

    No row may change AWS state (that is what is asserted), so the world is built once per
    worker and reused for as long as its marker log group shows the server was not reset by
    another test in between.
    """
    logs = client(moto_server, "logs")
    marker = _world.get("marker", "")
    intact = marker and logs.describe_log_groups(logGroupNamePrefix=marker)["logGroups"]
    if not intact:
        # Every other test resets the server before it starts, which removes the marker too.
        reset(moto_server)
        ledger_world(moto_server)
        build_world(moto_server)
        _world["marker"] = f"/reliability/bad-input-world/{uuid.uuid4()}"
        logs.create_log_group(logGroupName=_world["marker"])
        _world["state"] = snapshot(moto_server)
    if "template" not in _world:
        template = tmp_path_factory.mktemp("bad-input") / "project"
        template.mkdir()
        git(template, "init", "-q", "-b", "main")
        (template / "pyproject.toml").write_text(FULL_CONFIG)
        (template / "service").mkdir()
        (template / "service" / "hello_world.py").write_text("print('hello')\n")
        git(template, "add", ".")
        commit(template, "feat: first")
        _world["template"] = template
    project = tmp_path / "project"
    shutil.copytree(_world["template"], project, symlinks=True)
    return {"endpoint": moto_server, "project": project, "before": _world["state"]}


def closed_port() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the probe is closed


def run_row(row: Row, aws_world: dict[str, Any]) -> CliResult:
    project: Path = aws_world["project"]
    if row.project is not None:
        row.project(project)
    env: dict[str, str | None] = {"AWS_ENDPOINT_URL": aws_world["endpoint"], **row.env}
    if env.get("AWS_ENDPOINT_URL") == "CLOSED":
        env["AWS_ENDPOINT_URL"] = closed_port()
    if any(name in row.env for name in NO_CREDENTIALS):
        empty = project.parent / "empty"
        empty.write_text("")
        env.update({"AWS_SHARED_CREDENTIALS_FILE": str(empty), "AWS_CONFIG_FILE": str(empty)})
    return run_cli(*row.args, cwd=project, env=env)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_is_one_line_the_documented_exit_code_and_no_change(
    row: Row, aws_world: dict[str, Any]
) -> None:
    before = aws_world["before"]
    started = time.monotonic()

    ran = run_row(row, aws_world)

    elapsed = time.monotonic() - started
    after = snapshot(aws_world["endpoint"])
    if after != before:
        _world.pop("marker", None)  # the next row builds a fresh world
    assert ran.code == row.code, ran.stderr
    assert one_line_error(ran), ran.stderr
    assert row.says.lower() in ran.error_lines[0].lower()
    assert after == before
    assert elapsed < 10, f"took {elapsed:.1f}s"


def test_a_shallow_clone_fails_closed_for_every_command_that_computes_a_version(
    aws_world: dict[str, Any], tmp_path: Path
) -> None:
    shallow = tmp_path / "shallow"
    commit(aws_world["project"], "fix: second")
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{aws_world['project']}", str(shallow))
    before = snapshot(aws_world["endpoint"])

    for args in (("version",), ("bump", "--dry-run"), ("release", "--no-deploy")):
        ran = run_cli(*args, cwd=shallow, env={"AWS_ENDPOINT_URL": aws_world["endpoint"]})
        assert ran.code == 4, (args, ran.stderr)
        assert one_line_error(ran), ran.stderr
        assert "git fetch --unshallow --tags" in ran.stderr

    assert snapshot(aws_world["endpoint"]) == before


def test_outside_a_git_repository_the_versioning_commands_are_exit_4(
    aws_world: dict[str, Any], tmp_path: Path
) -> None:
    bare = tmp_path / "not-a-repo"
    bare.mkdir()
    (bare / "pyproject.toml").write_text(FULL_CONFIG)
    for args in (("version",), ("bump", "--dry-run"), ("release", "--no-deploy"), ("build",)):
        ran = run_cli(*args, cwd=bare, env={"AWS_ENDPOINT_URL": aws_world["endpoint"]})
        assert ran.code == 4, (args, ran.stderr)
        assert one_line_error(ran), ran.stderr


def test_an_unreachable_endpoint_fails_within_seconds(aws_world: dict[str, Any]) -> None:
    """Connection refused is retried like any connection error; the retries must stay short."""
    started = time.monotonic()
    ran = run_cli("releases", cwd=aws_world["project"], env={"AWS_ENDPOINT_URL": closed_port()})
    elapsed = time.monotonic() - started

    assert ran.code == 4
    assert elapsed < 5, f"took {elapsed:.1f}s"


def test_doctor_without_credentials_reports_the_failure_with_exit_4(aws_world: dict[str, Any]) -> None:
    empty = aws_world["project"].parent / "empty"
    empty.write_text("")
    env = {
        **NO_CREDENTIALS,
        "AWS_ENDPOINT_URL": aws_world["endpoint"],
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_CONFIG_FILE": str(empty),
    }
    ran = run_cli("doctor", cwd=aws_world["project"], env=env)
    assert ran.code == 4
    assert "Traceback" not in ran.stderr
    assert "credentials" in ran.stdout.lower()
