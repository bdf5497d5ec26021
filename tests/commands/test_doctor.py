"""`releasectl doctor`: one check per line, a hint for each failure, exit 4 when anything fails."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest

from releasectl.adapters.aws.clients import AwsClients
from releasectl.cli.render import write_view
from releasectl.commands.context import Context, RecordingReporter
from releasectl.commands.doctor import DoctorReport, doctor
from releasectl.core.config import Config
from releasectl.core.errors import ExitCode
from tests.support.cli import run_cli
from tests.support.git import GitRepo
from tests.support.moto_fixtures import create_codebuild_project

REGION = "us-east-1"
NAMES = {
    "ecr_repository": "hello-world",
    "codebuild_project": "hello-world-release",
    "ecs_cluster": "hello-world",
    "ecs_service": "hello-world",
}


def create_resources(*, endpoint_url: str | None = None, skip: tuple[str, ...] = ()) -> None:
    def client(name: str) -> Any:
        return boto3.client(name, region_name=REGION, endpoint_url=endpoint_url)  # type: ignore[call-overload]

    if "ecr" not in skip:
        client("ecr").create_repository(repositoryName="hello-world")
    if "cache" not in skip:
        client("ecr").create_repository(repositoryName="hello-world-cache")
    if "codebuild" not in skip:
        create_codebuild_project(client("codebuild"), NAMES["codebuild_project"])
    ecs = client("ecs")
    if "cluster" not in skip:
        ecs.create_cluster(clusterName="hello-world")
    if "service" not in skip and "cluster" not in skip:
        ecs.register_task_definition(
            family="hello-world", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 256}]
        )
        ecs.create_service(
            cluster="hello-world", serviceName="hello-world", taskDefinition="hello-world", desiredCount=1
        )


def run_doctor(cwd: Path, **config: Any) -> DoctorReport:
    settings: dict[str, Any] = {"region": REGION, **NAMES, **config}
    return doctor(Context(config=Config(**settings), cwd=cwd, reporter=RecordingReporter()))


def test_everything_present_passes_with_exit_0(aws: AwsClients, repo: GitRepo) -> None:
    create_resources()

    report = run_doctor(repo.path)

    assert [c.name for c in report.checks if not c.ok] == []
    assert report.exit_code == ExitCode.OK
    assert report.check("ecs service").detail.startswith("hello-world ACTIVE, running 0/1")


def test_credentials_show_the_arn_and_account_but_never_secrets(aws: AwsClients, repo: GitRepo) -> None:
    create_resources()

    report = run_doctor(repo.path)

    credentials = report.check("credentials")
    assert credentials.detail == "arn:aws:sts::123456789012:user/moto (account 123456789012)"
    dumped = json.dumps(report.to_json())
    for secret in (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]):
        assert secret not in dumped


def test_a_missing_ecs_service_fails_with_a_hint_and_exit_4(aws: AwsClients, repo: GitRepo) -> None:
    create_resources(skip=("service",))

    report = run_doctor(repo.path)

    service = report.check("ecs service")
    assert not service.ok
    assert service.detail == "service hello-world not found in cluster hello-world"
    assert service.hint and "ecs_service" in service.hint
    assert report.exit_code == ExitCode.ENVIRONMENT
    assert [c.name for c in report.checks if not c.ok] == ["ecs service"]


def test_a_missing_cluster_fails_both_cluster_and_service(aws: AwsClients, repo: GitRepo) -> None:
    create_resources(skip=("cluster",))

    report = run_doctor(repo.path)

    assert [c.name for c in report.checks if not c.ok] == ["ecs cluster", "ecs service"]


def test_a_missing_cache_repository_is_only_a_warning(aws: AwsClients, repo: GitRepo) -> None:
    create_resources(skip=("cache",))

    report = run_doctor(repo.path)

    cache = report.check("cache repository")
    assert cache.status == "warn"
    assert report.exit_code == ExitCode.OK


def test_unset_config_keys_are_named_as_not_configured(aws: AwsClients, repo: GitRepo) -> None:
    create_resources()

    report = run_doctor(repo.path, ecs_service=None, codebuild_project=None)

    service = report.check("ecs service")
    assert service.detail == "not configured (ecs_service)"
    assert (
        service.hint == "set ecs_service under [tool.releasectl] in pyproject.toml or RELEASECTL_ECS_SERVICE"
    )
    assert report.check("codebuild project").detail == "not configured (codebuild_project)"
    assert report.exit_code == ExitCode.ENVIRONMENT


def test_no_credentials_fails_and_skips_the_resource_checks(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    report = run_doctor(repo.path)

    credentials = report.check("credentials")
    assert not credentials.ok
    assert "no AWS credentials" in credentials.detail
    assert credentials.hint and "AWS_PROFILE" in credentials.hint
    assert report.check("ecr repository").status == "skip"
    assert report.exit_code == ExitCode.ENVIRONMENT


def test_a_shallow_clone_fails_with_the_command_that_fixes_it(
    aws: AwsClients, repo: GitRepo, tmp_path: Path
) -> None:
    create_resources()
    repo.commit("fix: second")
    shallow = GitRepo(tmp_path / "shallow")
    repo.git("clone", "-q", "--depth", "1", f"file://{repo.path}", str(shallow.path))

    report = run_doctor(shallow.path)

    history = report.check("git history")
    assert not history.ok
    assert history.hint == "git fetch --unshallow --tags"


def test_outside_a_git_repository_the_git_check_fails(aws: AwsClients, tmp_path: Path) -> None:
    create_resources()

    report = run_doctor(tmp_path)

    assert not report.check("git repository").ok
    assert report.exit_code == ExitCode.ENVIRONMENT


def test_a_dirty_worktree_and_missing_tags_do_not_fail(aws: AwsClients, git_repo: GitRepo) -> None:
    create_resources()
    git_repo.commit("feat: first")
    (git_repo.path / "scratch.txt").write_text("wip\n")

    report = run_doctor(git_repo.path)

    assert report.check("git worktree").detail == "1 uncommitted change(s)"
    assert report.check("git tags").status == "warn"
    assert report.exit_code == ExitCode.OK


def test_human_output_is_one_line_per_check_with_marks_and_hints(
    aws: AwsClients, repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # every line fits; narrower, a fix folds (test_cli_output.py)
    create_resources(skip=("service",))

    report = run_doctor(repo.path)
    write_view(report, json_output=False)

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(report.checks) + 1
    service_line = next(line for line in lines if "ecs service" in line)
    assert service_line.startswith(("✘ ecs service", "FAIL ecs service"))
    assert "fix ecs_service" in service_line
    assert lines[-1] == "1 check(s) failed"


def test_cli_doctor_json_against_a_moto_server_reports_the_missing_resources(
    moto_endpoint: str, repo: GitRepo
) -> None:
    create_resources(endpoint_url=moto_endpoint, skip=("codebuild", "service"))
    env = {"AWS_ENDPOINT_URL": moto_endpoint, **{f"RELEASECTL_{k.upper()}": v for k, v in NAMES.items()}}

    result = run_cli("--json", "doctor", cwd=repo.path, env=env)

    assert result.code == 4, result.stderr
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    failed = {check["name"] for check in payload["checks"] if not check["ok"]}
    assert failed == {"codebuild project", "ecs service"}
    endpoint = next(check for check in payload["checks"] if check["name"] == "endpoint")
    assert endpoint["detail"].startswith(moto_endpoint)
    assert all(set(check) >= {"name", "ok", "detail", "hint"} for check in payload["checks"])
