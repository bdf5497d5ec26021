"""git for tests: one way to run it, and a throwaway repository driven by it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.invalid",
}
# Set on every call, not only by the autouse isolation: module- and session-scoped fixtures
# run before it. No optional locks, so `git status` never rewrites an index a test compares.
GIT_ENV = {
    **GIT_IDENTITY,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_OPTIONAL_LOCKS": "0",
}


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None, check: bool = True) -> str:
    """`git ARGS` in cwd; its stdout without the trailing newline. A failure fails the test."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


@dataclass
class GitRepo:
    """A real git repository in a temp dir, driven by plain git commands."""

    path: Path

    def git(self, *args: str, check: bool = True) -> str:
        return git(self.path, *args, check=check)

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
