"""CodeBuild and CloudWatch Logs adapters against moto in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from releasectl.adapters.aws import codebuild
from releasectl.adapters.aws.clients import AwsClients
from releasectl.adapters.aws.logs import CloudWatchLogReader
from releasectl.commands import build as build_cmd
from releasectl.commands.context import Context, RecordingReporter
from releasectl.core.clock import FakeClock
from releasectl.core.config import Config
from releasectl.core.errors import EnvironmentProblem
from releasectl.core.log_follow import LogLocation, LogStreamMissing
from releasectl.core.result import Outcome
from tests.support.git import GitRepo
from tests.support.moto_fixtures import create_codebuild_project, put_log_lines

PROJECT = "hello-world-release"
REGION = "us-east-1"


def create_project(name: str = PROJECT) -> None:
    create_codebuild_project(boto3.client("codebuild", region_name=REGION), name)


def context(cwd: Path, **config: Any) -> tuple[Context, RecordingReporter]:
    reporter = RecordingReporter()
    settings: dict[str, Any] = {"region": REGION, "codebuild_project": PROJECT, **config}
    ctx = Context(config=Config(**settings), cwd=cwd, reporter=reporter, clock=FakeClock())
    return ctx, reporter


def test_start_build_passes_the_full_sha_as_source_version(aws: AwsClients) -> None:
    create_project()
    client = AwsClients(region=REGION, profile=None, endpoint_url=None).client("codebuild")
    sha = "0123456789abcdef0123456789abcdef01234567"

    started = codebuild.start_build(client, project=PROJECT, source_version=sha)

    stored = boto3.client("codebuild", region_name=REGION).batch_get_builds(ids=[started.id])["builds"][0]
    assert stored["sourceVersion"] == sha
    assert started.id.startswith(f"{PROJECT}:")


def test_start_build_of_a_missing_project_is_an_environment_problem(aws: AwsClients) -> None:
    client = AwsClients(region=REGION, profile=None, endpoint_url=None).client("codebuild")

    with pytest.raises(EnvironmentProblem, match="does not exist"):
        codebuild.start_build(client, project="nope", source_version="0" * 40)


def test_project_exists_tells_present_from_missing(aws: AwsClients) -> None:
    create_project()
    client = AwsClients(region=REGION, profile=None, endpoint_url=None).client("codebuild")

    assert codebuild.project_exists(client, PROJECT)
    assert not codebuild.project_exists(client, "other")


def test_build_against_moto_succeeds_and_reports_no_logs_instead_of_hanging(
    aws: AwsClients, git_repo: GitRepo
) -> None:
    create_project()
    sha = git_repo.commit("feat: first")
    ctx, reporter = context(git_repo.path)

    result = build_cmd.build(ctx, ref=None, follow=True, stop_on_interrupt=False)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.extra["commit"] == sha
    assert any(text.startswith("no logs") for text in reporter.texts("info"))
    assert ctx.clock.now() < 10


def test_log_reader_pages_with_the_forward_token_and_sees_it_repeat_at_the_end(aws: AwsClients) -> None:
    put_log_lines(
        boto3.client("logs", region_name=REGION), "/aws/codebuild/p", "s", [f"line {i}" for i in range(5)]
    )
    reader = CloudWatchLogReader(AwsClients(region=REGION, profile=None, endpoint_url=None).client("logs"))
    location = LogLocation("/aws/codebuild/p", "s")

    first = reader.read(location, None)
    again = reader.read(location, first.next_token)

    assert list(first.lines) == [f"line {i}" for i in range(5)]
    assert list(again.lines) == []
    assert again.next_token == first.next_token


def test_log_reader_reports_a_missing_stream(aws: AwsClients) -> None:
    reader = CloudWatchLogReader(AwsClients(region=REGION, profile=None, endpoint_url=None).client("logs"))

    with pytest.raises(LogStreamMissing):
        reader.read(LogLocation("/aws/codebuild/none", "s"), None)


def test_logs_command_reads_the_default_stream_of_a_moto_build(
    aws: AwsClients, git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    create_project()
    started = boto3.client("codebuild", region_name=REGION).start_build(projectName=PROJECT)["build"]
    group, stream = f"/aws/codebuild/{PROJECT}", started["id"].split(":", 1)[1]
    put_log_lines(
        boto3.client("logs", region_name=REGION), group, stream, ["[Container] Running command make"]
    )
    ctx, _ = context(git_repo.path)

    code = build_cmd.logs(ctx, build_id=started["id"], follow=True)

    assert code == 0
    assert capsys.readouterr().out == "[Container] Running command make\n"
