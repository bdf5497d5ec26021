"""Running `releasectl demo` as a user does: in a copy of this checkout made to look like a
user's clone, in a process of its own with a user's environment."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.cli import start_to_interrupt
from tests.support.git import git
from tests.support.paths import ROOT

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Demo User",
    "GIT_AUTHOR_EMAIL": "user@example.invalid",
    "GIT_COMMITTER_NAME": "Demo User",
    "GIT_COMMITTER_EMAIL": "user@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def user_env() -> dict[str, str]:
    """A user's shell: none of the developer's AWS or releasectl settings (module fixtures run
    before the autouse isolation), git config of its own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "RELEASECTL_", "CODEBUILD_", "GIT_")) and k != "CI"
    }
    return {**env, **GIT_ENV, "GIT_CONFIG_GLOBAL": os.devnull, "COLUMNS": "80"}


def make_checkout(target: Path) -> Path:
    """This checkout's files as they are on disk (new ones not yet added too, so the copy runs
    the code under test), committed and tagged, then made dirty."""
    for name in git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0"):
        source = ROOT / name
        if name and source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "chore: the user's own history")
    git(target, "tag", "-a", "v9.9.9", "-m", "a tag of the user's")
    with (target / "README.md").open("a") as handle:
        handle.write("\nan uncommitted edit\n")
    (target / "notes.txt").write_text("an untracked file\n")
    return target


def _skipped(parts: tuple[str, ...]) -> bool:
    return ".git" in parts or "__pycache__" in parts


def _status(repo: Path) -> str:
    return git(repo, "status", "--porcelain=v1", "--untracked-files=all", "--ignored")


def snapshot(repo: Path) -> dict[str, str]:
    """Everything of a repository the demo must not change: refs, HEAD, index, config, stash,
    worktrees, status (with ignored files) and the content of every file outside .git. Python's
    bytecode caches are left out: the interpreter writes them for any import from the checkout."""
    files = hashlib.sha256()
    for path in sorted(p for p in repo.rglob("*") if not _skipped(p.relative_to(repo).parts)):
        if path.is_file():
            files.update(str(path.relative_to(repo)).encode() + b"\0" + path.read_bytes())
    return {
        "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "head": git(repo, "symbolic-ref", "HEAD") + git(repo, "rev-parse", "HEAD"),
        "index": hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest(),
        "config": (repo / ".git" / "config").read_text(),
        "stash": git(repo, "stash", "list"),
        "worktrees": git(repo, "worktree", "list", "--porcelain"),
        "status": "\n".join(line for line in _status(repo).splitlines() if "__pycache__/" not in line),
        "files": files.hexdigest(),
    }


def demo_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "releasectl", *args]


def run_demo_process(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Like subprocess.run, but a demo that overruns gets Ctrl-C (so it stops its sandbox), not SIGKILL."""
    proc = start_to_interrupt(argv, cwd=cwd, env=user_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        raise AssertionError(f"the demo ran over {timeout:g} s:\n{stderr[-4000:]}") from None
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def scratch_dir(narration: str) -> Path:
    found = re.search(r"^Scratch copy of [^\n]* ->\s+(\S+)/repo$", narration, re.MULTILINE)
    assert found, narration
    return Path(found.group(1))
