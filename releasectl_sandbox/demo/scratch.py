"""The demo's scratch project: a fresh git repository made from a copy of this project.

The copy holds the tracked files of the releasectl source checkout as they are on disk (so the
demo shows the code that runs it), committed once into a new repository with an identity and
git configuration of its own, plus a bare `origin` it pushes to, as a developer's clone would.
That origin is marked as the sandbox's own: the sandbox CodeBuild clones it (what was pushed,
release tags included) and the releases in its builds push their `vX.Y.Z` tags back to it, so
each build versions from the tags the one before pushed. No other remote is ever written.
The user's repository is only read (`git ls-files`), never written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from releasectl.adapters.git import Git
from releasectl.core.errors import EnvironmentProblem, OperationFailed

# What the demo builds, releases and runs: a checkout without them is not this project.
PROJECT_MARKERS = ("pyproject.toml", "Dockerfile", "buildspec.yml", "service/hello_world.py", "releasectl")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "releasectl demo",
    "GIT_AUTHOR_EMAIL": "demo@releasectl.invalid",
    "GIT_COMMITTER_NAME": "releasectl demo",
    "GIT_COMMITTER_EMAIL": "demo@releasectl.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
# Settings of the caller's shell that would change what the demo's commands do or where they go.
_DROPPED_PREFIXES = ("GIT_", "AWS_", "RELEASECTL_", "CODEBUILD_")
_DROPPED = {"CI", "VIRTUAL_ENV", "PYTHONPATH"}


def clean_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without git, AWS, releasectl and CI settings, plus the demo's git
    identity; AWS config and credential files point nowhere, so nothing real can be read."""
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if not k.startswith(_DROPPED_PREFIXES) and k not in _DROPPED}
    env.update(GIT_IDENTITY)
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env


def _is_project(path: Path) -> bool:
    return (path / ".git").exists() and all((path / name).exists() for name in PROJECT_MARKERS)


def _reading(path: Path) -> Git:
    """For reading the user's repository: their own git setup (safe.directory and all), no locks."""
    return Git(path, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})


def _toplevel(cwd: Path) -> Path | None:
    try:
        return _reading(cwd).toplevel()
    except EnvironmentProblem:
        return None


def find_project(cwd: Path) -> Path:
    """The releasectl source checkout: the one this package runs from, else the one around cwd."""
    package_parent = Path(__file__).resolve().parent.parent
    for candidate in (package_parent, _toplevel(cwd)):
        if candidate is not None and _is_project(candidate):
            return candidate
    raise EnvironmentProblem(
        "releasectl demo needs the project's source checkout (Dockerfile, buildspec.yml, service/, tests/) "
        f"and found none at {package_parent} or around {cwd}",
        hint="run it from a git clone of the releasectl repository: `make demo`",
    )


class Scratch:
    """A temporary directory with the copy (repo/), its bare origin (origin.git/) and room for
    the sandbox's state (state/); remove() deletes all of it."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="releasectl-demo-"))
        self.repo = self.root / "repo"
        self.origin = self.root / "origin.git"
        self.state = self.root / "state"
        self.env = dict(env)

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return Git(cwd or self.repo, env=self.env).run(*args).strip()

    def populate(self, project: Path) -> int:
        """Copy the project's tracked files, commit them as one commit, push to origin; the count."""
        try:
            listed = _reading(project).run("ls-files", "-z", "--cached")
        except EnvironmentProblem as exc:
            raise EnvironmentProblem(
                f"cannot list the files of {project}: {exc.message}",
                hint="run the demo from a git clone of the releasectl repository",
            ) from None
        copied = 0
        for name in dict.fromkeys(listed.split("\0")):
            source = project / name
            # Deleted but not yet committed: the copy mirrors the working tree.
            if not name or not (source.is_file() or source.is_symlink()):
                continue
            target = self.repo / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
            copied += 1
        from releasectl_sandbox.codebuild_sim import SANDBOX_REMOTE_KEY

        self.git("init", "--quiet", "--bare", "--initial-branch=main", str(self.origin), cwd=self.root)
        self.git("config", SANDBOX_REMOTE_KEY, "true", cwd=self.origin)
        self.git("init", "--quiet", "--initial-branch=main")
        self.git("remote", "add", "origin", str(self.origin))
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", "chore: start from a copy of the project")
        self.push()
        return copied

    def edit(self, path: str, old: str, new: str) -> None:
        target = self.repo / path
        text = target.read_text(encoding="utf-8")
        if old not in text:
            raise OperationFailed(
                f"{path} no longer contains {old.strip()!r}, which the demo edits",
                hint="update the demo's edits in releasectl_sandbox/demo/story.py to the new code",
            )
        target.write_text(text.replace(old, new, 1), encoding="utf-8")

    def commit(self, message: str) -> str:
        """`git commit -am MESSAGE`; what git printed."""
        return self.git("commit", "-am", message)

    def push(self) -> None:
        self.git("push", "--quiet", "origin", "main")

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
