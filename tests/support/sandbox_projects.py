"""Helpers for the sandbox tests: scratch projects the sandbox can build, run and deploy."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from releasectl.core.config import Config, load_config
from tests.support.git import git
from tests.support.paths import ROOT

CONFIG = """\
[tool.releasectl]
ecr_repository = "hello-world"
codebuild_project = "hello-world-release"
ecs_cluster = "hello-world"
ecs_service = "hello-world"
container_name = "app"
"""


def init_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository with one commit holding `files` (path -> text)."""
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "feat: first")
    return path


def service_files(*, healthz_status: int = 200) -> dict[str, str]:
    """The repository's Dockerfile, .dockerignore and service; optionally a /healthz that fails."""
    service = (ROOT / "service" / "hello_world.py").read_text()
    if healthz_status != 200:
        original = 'if path == "/healthz":\n        return 200'
        assert original in service, "service/hello_world.py changed: update this fixture"
        service = service.replace(original, f'if path == "/healthz":\n        return {healthz_status}')
    return {
        "Dockerfile": (ROOT / "Dockerfile").read_text(),
        ".dockerignore": (ROOT / ".dockerignore").read_text(),
        "service/hello_world.py": service,
    }


def copy_context(target: Path, *, healthz_status: int = 200) -> Path:
    target.mkdir(parents=True)
    for name, text in service_files(healthz_status=healthz_status).items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text)
    return target


def project_config(project: Path) -> Config:
    return load_config(env={}, cwd=project)


def get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# A project with staging and prod, prod in a second account reached through its role.
PROD_ACCOUNT = "210987654321"
ENVIRONMENTS_CONFIG = f"""\
[tool.releasectl]
ecr_repository = "hello-world"
codebuild_project = "hello-world-release"
container_name = "app"

[tool.releasectl.environments.staging]
cluster = "hello-world-staging"
service = "hello-world"
stack = "hello-world-staging"

[tool.releasectl.environments.prod]
cluster = "hello-world-prod"
service = "hello-world"
stack = "hello-world-prod"
after = "staging"
role_arn = "arn:aws:iam::{PROD_ACCOUNT}:role/releasectl-deploy"
"""
