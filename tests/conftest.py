"""Fixtures every folder shares, defined here once: an isolated environment, git repositories,
AWS in this process (moto's mock) or behind an endpoint (a moto server), an ECR repository, the
worlds `release` and `deploy` run against, a user's clone for the demo. Helpers are in
tests/support."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from releasectl.adapters.aws.clients import AwsClients
from releasectl_sandbox.botocore_sharing import share_botocore_work
from tests.support.git import GIT_IDENTITY, GitRepo
from tests.support.release_world import World, make_world
from tests.support.service_world import ServiceWorld, make_service_world

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto's fake credentials, nothing real
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
REGION = "us-east-1"


def pytest_configure(config: pytest.Config) -> None:
    share_botocore_work()


# After the end-to-end runs, the folders whose files wait longest on what they start (fault
# injection, simulators, CLI processes) before those that only compute, so that the suite ends
# on many short files that keep both cores busy instead of one long file running alone.
_FOLDER_ORDER = (
    "reliability",
    "sandbox",
    "commands",
    "cli",
    "adapters",
    "project",
    "image",
    "localbuild",
    "core",
)


def _folder_rank(item: pytest.Item) -> int:
    folder = item.path.relative_to(item.config.rootpath).parts[1]
    return _FOLDER_ORDER.index(folder) if folder in _FOLDER_ORDER else len(_FOLDER_ORDER)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The end-to-end runs first: each is long, so starting them last would leave one worker
    finishing alone. The order within a folder stays the collection order."""

    def order(item: pytest.Item) -> tuple[bool, int]:
        e2e = item.get_closest_marker("e2e") is not None
        return (not e2e, 0 if e2e else _folder_rank(item))

    items.sort(key=order)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What is alive after collection (modules, botocore models, moto's backends) lives until
    the end; a full collection kept walking those objects for about a seventh of a worker's CPU.
    Frozen, they are out of the collector's sight, and a higher first threshold spares the many
    short-lived dicts each AWS call parses."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test ever sees real AWS credentials, a real profile or the user's git config."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "RELEASECTL_", "CODEBUILD_")) or name == "CI":
            # CI=true makes an untagged clone fail closed; tests set it when they mean it.
            monkeypatch.delenv(name, raising=False)
    for name, value in {**FAKE_AWS_ENV, **GIT_IDENTITY}.items():
        monkeypatch.setenv(name, value)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # No sample hooks copied into each of the thousands of repositories and clones the suite
    # makes (4 ms of a 7 ms `git init`); git needs none of the template's files.
    monkeypatch.setenv("GIT_TEMPLATE_DIR", str(_empty_git_template(tmp_path_factory)))
    # moto would build its catalogue of default AMIs for every account and region whose EC2
    # backend a test touches (the stacks' VPCs); nothing here runs EC2 instances.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


def _empty_git_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    template = tmp_path_factory.getbasetemp() / "git-template"
    template.mkdir(exist_ok=True)
    return template


# ----------------------------------------------------------------------------- git


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    """An empty repository on main with an empty [tool.releasectl] staged, nothing committed."""
    repo = GitRepo(tmp_path / "repo")
    repo.path.mkdir()
    repo.git("init", "-q", "-b", "main")
    (repo.path / "pyproject.toml").write_text("[tool.releasectl]\n")
    repo.git("add", "pyproject.toml")
    return repo


@pytest.fixture
def repo(git_repo: GitRepo) -> GitRepo:
    """A repository whose one commit, a feature, is released as v0.1.0."""
    git_repo.commit("feat: first")
    git_repo.tag("v0.1.0")
    return git_repo


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of this checkout made to look like a user's clone, for the demo to run in."""
    from tests.support.demo import make_checkout

    return make_checkout(tmp_path / "checkout")


# ----------------------------------------------------------------------------- AWS in this process


@pytest.fixture
def aws() -> Iterator[AwsClients]:
    """moto in this process for the test: every boto3 client without an endpoint URL talks to it."""
    from moto import mock_aws

    with mock_aws():
        yield AwsClients(region=REGION, profile=None, endpoint_url=None)


@pytest.fixture
def ecr(aws: AwsClients) -> Any:
    """An ECR client and the release repository `app` as production has it: release tags
    immutable, the default floating tags mutable."""
    from releasectl.core.config import DEFAULT_FLOATING_TAGS
    from tests.support.ecr_fixtures import create_repository

    client = aws.client("ecr")
    create_repository(
        client, "app", mutability="IMMUTABLE_WITH_EXCLUSION", mutable_tags=list(DEFAULT_FLOATING_TAGS)
    )
    return client


# ----------------------------------------------------------------------------- AWS behind an endpoint


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 for this test session; yields its endpoint URL.

    Tests sharing it must use resource names of their own (or reset it with
    POST /moto-api/reset) since state persists across tests in one worker.
    """
    from moto.server import ThreadedMotoServer

    from releasectl_sandbox.moto_internals import prepare_server

    prepare_server()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_endpoint(moto_server: str) -> Iterator[str]:
    """The session moto server, reset before the test so state never leaks between tests."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"))
    yield moto_server


@pytest.fixture
def aws_endpoint(moto_endpoint: str) -> Iterator[str]:
    """The AWS endpoint flows run against: an empty moto server today. Point this at the
    sandbox's endpoint (releasectl_sandbox.Sandbox(...).endpoint) to run the same flows there;
    tests reset it between runs through tests.support.aws_state.reset()."""
    yield moto_endpoint


@pytest.fixture
def world(moto_endpoint: str, git_repo: GitRepo, tmp_path: Path) -> World:
    """A repository `release` can ship (a fake `docker` on PATH), its ECR release repository and
    the service it deploys to, on the moto server."""
    return make_world(moto_endpoint, git_repo, tmp_path)


@pytest.fixture
def service_world(request: pytest.FixtureRequest, moto_endpoint: str, tmp_path: Path) -> ServiceWorld:
    """A service running a release by digest, its ECR releases, and a project configured for
    it, on the moto server. The `releases` mark picks other releases than the default ones."""
    marker = request.node.get_closest_marker("releases")
    if marker is None:
        return make_service_world(moto_endpoint, tmp_path)
    return make_service_world(moto_endpoint, tmp_path, *marker.args, **marker.kwargs)


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard retry mode waits up to 20 s between attempts (1 s base for throttling):
    make every backoff ~0 so a test can afford hundreds of injected faults. In-process only."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
