"""`releasectl releases` and `releasectl promote` through the CLI, against moto in this process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from releasectl.adapters.aws.clients import AwsClients
from tests.support.cli import CliResult, run_cli
from tests.support.ecr_fixtures import OCI_INDEX, push_image, snapshot, tags_of

SHA_1 = "1" * 40
SHA_2 = "2" * 40


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.releasectl]\n")
    return tmp_path


@pytest.fixture
def released(ecr: Any) -> dict[str, str]:
    """Two releases, `latest` on the older one."""
    return {
        "1.1.0": push_image(ecr, "app", tags=["1.1.0", f"git-{SHA_1}", "latest"]),
        "1.2.0": push_image(ecr, "app", tags=["1.2.0", f"git-{SHA_2}"], media_type=OCI_INDEX),
    }


def cli(workdir: Path, *args: str, repository: str = "app", cluster: str | None = None) -> CliResult:
    """The CLI on moto; with `cluster`, deployments are read from its service `app`."""
    env = {"RELEASECTL_ECR_REPOSITORY": repository}
    if cluster is not None:
        env |= {"RELEASECTL_ECS_CLUSTER": cluster, "RELEASECTL_ECS_SERVICE": "app"}
    return run_cli(*args, cwd=workdir, env=env)


def test_releases_json_lists_the_ledger_newest_first(
    aws: AwsClients, workdir: Path, released: dict[str, str]
) -> None:
    result = cli(workdir, "--json", "releases")

    assert result.code == 0, result.stderr
    rows = json.loads(result.stdout)["releases"]
    assert [r["version"] for r in rows] == ["1.2.0", "1.1.0"]
    newest = rows[0]
    assert newest["digest"] == released["1.2.0"]
    assert newest["commit"] == SHA_2
    assert newest["pushed_at"]
    assert "1.2.0" in newest["tags"]
    assert "outcome" in newest
    assert "latest" in rows[1]["tags"]


def test_releases_prints_a_table_for_people(aws: AwsClients, workdir: Path, released: dict[str, str]) -> None:
    result = cli(workdir, "releases")

    assert result.code == 0, result.stderr
    assert "1.2.0" in result.stdout and "1.1.0" in result.stdout
    assert released["1.1.0"][7:19] in result.stdout
    assert "latest" in result.stdout
    assert SHA_2[:8] in result.stdout


def test_releases_of_a_missing_repository_is_exit_4_with_one_line(aws: AwsClients, workdir: Path) -> None:
    result = cli(workdir, "releases", repository="nope")

    assert result.code == 4
    assert "'nope' does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_promote_json_moves_latest_and_reports_the_image(
    aws: AwsClients, workdir: Path, ecr: Any, released: dict[str, str]
) -> None:
    result = cli(workdir, "--json", "promote", "1.2.0", "--tag", "latest")

    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["command"] == "promote"
    assert data["outcome"] == "succeeded"
    assert data["version"] == "1.2.0"
    assert data["image"]["digest"] == released["1.2.0"]
    assert data["image"]["uri"].endswith(f"/app@{released['1.2.0']}")
    assert "latest" in tags_of(ecr, "app", released["1.2.0"])
    [detail] = ecr.describe_images(repositoryName="app", imageIds=[{"imageTag": "latest"}])["imageDetails"]
    assert detail["imageManifestMediaType"] == OCI_INDEX


def test_promote_twice_is_a_noop_with_exit_0(
    aws: AwsClients, workdir: Path, released: dict[str, str]
) -> None:
    cli(workdir, "promote", "1.2.0", "--tag", "latest")

    again = cli(workdir, "--json", "promote", "1.2.0", "--tag", "latest")

    assert again.code == 0, again.stderr
    assert json.loads(again.stdout)["outcome"] == "noop"


def test_promote_of_an_unknown_version_is_exit_4_and_changes_nothing(
    aws: AwsClients, workdir: Path, ecr: Any, released: dict[str, str]
) -> None:
    before = snapshot(ecr, "app")

    result = cli(workdir, "--json", "promote", "9.9.9", "--tag", "latest")

    assert result.code == 4
    assert json.loads(result.stdout)["outcome"] == "error"
    assert "9.9.9 is not released" in result.stderr
    assert snapshot(ecr, "app") == before


@pytest.mark.parametrize(
    ("version", "tag", "says"),
    [
        pytest.param("1.2", "latest", "not a release version", id="malformed-version"),
        pytest.param("1.2.0", "1.1.0", None, id="onto-a-version-tag"),
    ],
)
def test_promote_with_a_bad_argument_is_exit_2_and_changes_nothing(
    aws: AwsClients,
    workdir: Path,
    ecr: Any,
    released: dict[str, str],
    version: str,
    tag: str,
    says: str | None,
) -> None:
    before = snapshot(ecr, "app")

    result = cli(workdir, "promote", version, "--tag", tag)

    assert result.code == 2
    if says is not None:
        assert says in result.stderr
    assert snapshot(ecr, "app") == before


def test_promote_in_a_missing_repository_is_exit_4(aws: AwsClients, workdir: Path, ecr: Any) -> None:
    result = cli(workdir, "promote", "1.2.0", "--tag", "latest", repository="nope")

    assert result.code == 4
    assert "does not exist" in result.stderr
    assert ecr.describe_repositories()["repositories"][0]["repositoryName"] == "app"


def _service_with_history(history: list[tuple[str, str]]) -> None:
    """An ECS service whose task-definition revisions carry the tags deploys record."""
    ecs = boto3.client("ecs", region_name="us-east-1")
    ecs.create_cluster(clusterName="web")
    arn = ""
    for version, outcome in history:
        arn = ecs.register_task_definition(
            family="app",
            containerDefinitions=[{"name": "app", "image": f"app:{version}", "memory": 128}],
            tags=[
                {"key": "releasectl:version", "value": version},
                {"key": "releasectl:outcome", "value": outcome},
            ],
        )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="web", serviceName="app", taskDefinition=arn, desiredCount=0)


def test_releases_show_the_outcome_recorded_by_the_latest_deployment_of_each_version(
    aws: AwsClients, workdir: Path, released: dict[str, str]
) -> None:
    _service_with_history([("1.1.0", "succeeded"), ("1.2.0", "rolled_back")])

    result = cli(workdir, "--json", "releases", cluster="web")

    assert result.code == 0, result.stderr
    outcomes = {r["version"]: r["outcome"] for r in json.loads(result.stdout)["releases"]}
    assert outcomes == {"1.2.0": "rolled_back", "1.1.0": "succeeded"}


def test_releases_are_still_listed_when_the_ecs_service_is_missing(
    aws: AwsClients, workdir: Path, released: dict[str, str]
) -> None:
    result = cli(workdir, "--json", "releases", cluster="nowhere")

    assert result.code == 0, result.stderr
    assert [r["outcome"] for r in json.loads(result.stdout)["releases"]] == [None, None]
    assert "deployment outcomes not shown" in result.stderr


def test_releases_merge_git_tags_with_the_ecr_ledger(aws: AwsClients, ecr: Any, git_repo: Any) -> None:
    first = git_repo.commit("feat: first")
    git_repo.tag("v1.0.0")
    second = git_repo.commit("fix: second")
    git_repo.tag("v1.1.0")
    push_image(ecr, "app", tags=["1.1.0", f"git-{second}"])

    result = cli(git_repo.path, "--json", "releases")

    assert result.code == 0, result.stderr
    rows = {r["version"]: r for r in json.loads(result.stdout)["releases"]}
    assert rows["1.1.0"]["sources"] == ["ecr", "git"]
    assert rows["1.0.0"]["sources"] == ["git"]
    assert rows["1.0.0"]["commit"] == first
    assert rows["1.0.0"]["digest"] is None
