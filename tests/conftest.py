"""Shared fixtures: fake AWS credentials, a throwaway git repository, a moto server, fast retries."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto's fake credentials, nothing real
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.invalid",
}


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


@dataclass
class GitRepo:
    """A real git repository in a temp dir, driven by plain git commands."""

    path: Path

    def git(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout.strip()

    def commit(self, message: str, *, filename: str | None = None) -> str:
        """Make a commit that changes a file; returns its full sha."""
        name = filename or "change.txt"
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a") as handle:
            handle.write(message.splitlines()[0] + "\n")
        self.git("add", name)
        self.git("commit", "-q", "-m", message)
        return self.head()

    def tag(self, name: str, ref: str = "HEAD", *, annotated: bool = True) -> None:
        if annotated:
            self.git("tag", "-a", name, "-m", f"release {name}", ref)
        else:
            self.git("tag", name, ref)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.path.mkdir()
    repo.git("init", "-q", "-b", "main")
    (repo.path / "pyproject.toml").write_text("[tool.releasectl]\n")
    repo.git("add", "pyproject.toml")
    return repo


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> CliResult:
    """Run `python -m releasectl` in a subprocess, the way a user would."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "releasectl", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 for this test session; yields its endpoint URL.

    Tests sharing it must use resource names of their own (or reset it with
    POST /moto-api/reset) since state persists across tests in one worker.
    """
    from moto.server import ThreadedMotoServer

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
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard retry mode waits up to 20 s between attempts (1 s base for throttling):
    make every backoff ~0 so a test can afford hundreds of injected faults. In-process only."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


@pytest.fixture
def aws_endpoint(moto_endpoint: str) -> Iterator[str]:
    """The AWS endpoint flows run against: an empty moto server today. Point this at the
    sandbox's endpoint (releasectl_sandbox.Sandbox(...).endpoint) to run the same flows there;
    tests reset it between runs through tests.support.aws_state.reset()."""
    yield moto_endpoint
