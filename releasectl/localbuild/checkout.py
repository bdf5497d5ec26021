"""Run buildspec.yml on this machine the way CodeBuild would, in a clean checkout.

The build runs in a fresh clone of the commit (full history and tags, detached HEAD,
as CodePipeline's full-clone source gives CodeBuild), never in the caller's working
tree, and the clone is removed afterwards. CodeBuild's environment variables are
set, phases run with CodeBuild's transitions (releasectl.localbuild.runner), and the
output streams to the terminal as it happens.

run_build_in_checkout() is the reusable part: the sandbox's CodeBuild simulator
calls it with its own build identity and a sink that writes CloudWatch Logs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from releasectl.adapters.git import Git
from releasectl.core.clock import Clock
from releasectl.core.errors import EnvironmentProblem
from releasectl.localbuild.buildspec import parse_buildspec
from releasectl.localbuild.runner import BuildRun, LineSink, run_buildspec

LOCAL_ACCOUNT = "000000000000"
# Variables that would point git (inside the build) back at the caller's repository.
_GIT_LOCATION_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
)


@dataclass(frozen=True)
class BuildIdentity:
    """Who the build is, in CodeBuild's terms."""

    build_id: str  # "<project>:<uuid>"
    build_number: int
    region: str | None
    account_id: str
    initiator: str
    image: str = "local"

    @property
    def arn(self) -> str:
        return f"arn:aws:codebuild:{self.region or 'local'}:{self.account_id}:build/{self.build_id}"

    @property
    def log_stream(self) -> str:
        return self.build_id.split(":", 1)[-1]


def codebuild_env(
    identity: BuildIdentity,
    *,
    commit: str,
    source_version: str,
    src_dir: Path,
    source_repo_url: str,
    start_time_ms: int,
) -> dict[str, str]:
    """The variables CodeBuild sets in every build (userguide: build-env-ref-env-vars)."""
    env = {
        "CODEBUILD_CI": "true",
        "CODEBUILD_BUILD_ID": identity.build_id,
        "CODEBUILD_BUILD_ARN": identity.arn,
        "CODEBUILD_BUILD_NUMBER": str(identity.build_number),
        "CODEBUILD_BUILD_IMAGE": identity.image,
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        "CODEBUILD_INITIATOR": identity.initiator,
        "CODEBUILD_LOG_PATH": identity.log_stream,
        "CODEBUILD_RESOLVED_SOURCE_VERSION": commit,
        "CODEBUILD_SOURCE_VERSION": source_version,
        "CODEBUILD_SOURCE_REPO_URL": source_repo_url,
        "CODEBUILD_SRC_DIR": str(src_dir),
        "CODEBUILD_START_TIME": str(start_time_ms),
    }
    if identity.region:
        env["AWS_REGION"] = identity.region
        env["AWS_DEFAULT_REGION"] = identity.region
    return env


def _git(cwd: Path) -> Git:
    return Git(cwd, env={k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS})


def repository(cwd: Path) -> Git:
    """The repository around ``cwd``, at its top directory; exit 4 outside one."""
    return _git(_git(cwd).toplevel())


def _remove_tree(path: Path) -> None:
    def make_writable(_func: object, target: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(target, stat.S_IRWXU)
            os.chmod(os.path.dirname(target), stat.S_IRWXU)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=make_writable)
    else:
        shutil.rmtree(path, onerror=make_writable)
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def clean_checkout(root: Path, commit: str, *, origin: str | None = None) -> Iterator[Path]:
    """A throwaway clone of `root` at `commit`: all history and tags, detached HEAD.

    A clone rather than a worktree, so the caller's repository gains no worktree
    entry and its refs and index are never written.
    """
    base = Path(tempfile.mkdtemp(prefix="releasectl-build-"))
    try:
        clone = _git(root).clone_to(base / "src")
        clone.check_out(commit)
        if origin:
            # As in CodeBuild, origin is the real remote (release reads it for the image's source label).
            clone.set_remote_url("origin", origin)
        yield clone.cwd
    finally:
        _remove_tree(base)


def run_build_in_checkout(
    *,
    repo: Path,
    commit: str,
    source_version: str,
    identity: BuildIdentity,
    on_line: LineSink,
    clock: Clock,
    timeout_s: float | None,
    base_env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    buildspec_path: str = "buildspec.yml",
) -> BuildRun:
    """Clone `repo` at `commit`, run its buildspec with CodeBuild's variables, remove the clone.

    extra_env plays the project's and start_build's environment variables: it
    overrides the buildspec's env.variables, as in CodeBuild.
    """
    origin = _git(repo).remote_url("origin", credentials=True)
    with clean_checkout(repo, commit, origin=origin) as src:
        spec_file = src / buildspec_path
        if not spec_file.is_file():
            raise EnvironmentProblem(
                f"commit {commit[:12]} has no {buildspec_path}",
                hint="commit a buildspec.yml at the repository root, or build a later commit",
            )
        spec = parse_buildspec(spec_file.read_text(encoding="utf-8"), source=buildspec_path)
        env = codebuild_env(
            identity,
            commit=commit,
            source_version=source_version,
            src_dir=src,
            source_repo_url=origin or str(repo),
            start_time_ms=int(time.time() * 1000),
        )
        environment = dict(os.environ if base_env is None else base_env)
        for name in (*_GIT_LOCATION_VARS, "VIRTUAL_ENV"):
            environment.pop(name, None)
        # A temporary directory of the build's own, removed with its checkout, as a CodeBuild
        # container's /tmp starts empty: what the build's tools keep there (pytest's numbered
        # directories, which it prunes synchronously at start) is neither read nor left behind.
        tmp = src.parent / "tmp"
        tmp.mkdir()
        environment["TMPDIR"] = str(tmp)
        return run_buildspec(
            spec,
            workdir=src,
            base_env=environment,
            overrides={**(extra_env or {}), **env},
            on_line=on_line,
            clock=clock,
            timeout_s=timeout_s,
        )
