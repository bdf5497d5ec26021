"""A thin adapter over the git command line (no GitPython), and the git-tag ledger.

The only code in the product that runs git: every call goes through Git._run, so a missing
git, a missing directory or a hung process ends the same way everywhere (exit 4 or 3).
Each method is one git process, and the versioning path needs three of them: probe
(repository, shallow, HEAD), the release tags with their commits, and one ranged log.
Nothing here walks the whole history unless there is no release to stop at.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from releasectl.core.errors import Conflict, EnvironmentProblem, OperationFailed, TimedOut, UsageError
from releasectl.core.ledger import Release
from releasectl.core.versions import parse_tag

UNSHALLOW_HINT = "git fetch --unshallow --tags"
# Read-only calls are local and quick; a push talks to a remote and may wait on the network.
_LOCAL_TIMEOUT = 60.0
_PUSH_TIMEOUT = 120.0


class Probe(NamedTuple):
    head: str  # full sha of the commit being released
    shallow: bool


class Tag(NamedTuple):
    name: str
    commit: str | None  # None when the tag does not point at a commit


class LoggedCommit(NamedTuple):
    sha: str
    message: str


class RangeLog(NamedTuple):
    commits: list[LoggedCommit]  # newest first
    boundary: frozenset[str]  # excluded parents of the range: contains `since` iff it is an ancestor


class HistoryCommit(NamedTuple):
    sha: str
    parents: tuple[str, ...]
    date: str  # committer date, YYYY-MM-DD
    message: str


class UnknownCommit(Exception):
    """A commit named by a ledger is not in this clone."""


class Git:
    def __init__(self, cwd: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        base = dict(os.environ if env is None else env)
        # Messages in English so the few we recognise stay recognisable; never prompt for credentials.
        base.update({"LC_ALL": "C", "LANGUAGE": "", "GIT_TERMINAL_PROMPT": "0"})
        self._env = base
        self.calls: list[tuple[str, ...]] = []

    def _run(self, *args: str, timeout: float | None = _LOCAL_TIMEOUT) -> subprocess.CompletedProcess[bytes]:
        """The one place git runs."""
        self.calls.append(args)
        try:
            return subprocess.run(
                ["git", "-c", "log.showSignature=false", *args],
                cwd=self.cwd,
                env=self._env,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            raise EnvironmentProblem("git is not installed", hint="install git and run again") from None
        except NotADirectoryError:
            raise EnvironmentProblem(f"{self.cwd} is not a directory") from None
        except subprocess.TimeoutExpired:
            raise TimedOut(f"git {args[0]} did not finish within {timeout or 0:.0f}s") from None

    def _out(self, *args: str) -> str | None:
        """What a read-only call printed, stripped; None when git said no."""
        proc = self._run(*args)
        return proc.stdout.decode("utf-8", "replace").strip() if proc.returncode == 0 else None

    def run(self, *args: str) -> str:
        """A git command that must work, for steps the typed methods below are made of and for
        tools built on this adapter (the demo sets up its scratch repository with it): what it
        printed, or exit 4 naming the command. No time limit: a clone takes as long as the
        repository is big."""
        proc = self._run(*args, timeout=None)
        if proc.returncode != 0:
            raise EnvironmentProblem(f"git {args[0]} failed: {self._err(proc)}")
        return proc.stdout.decode("utf-8", "replace")

    @staticmethod
    def _err(proc: subprocess.CompletedProcess[bytes]) -> str:
        lines = [ln.strip() for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        first = next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[0] if lines else "")
        return first or f"exit status {proc.returncode}"

    def toplevel(self) -> Path:
        """The work tree's top directory; exit 4 outside a repository."""
        top = self._out("rev-parse", "--show-toplevel")
        if not top:
            raise EnvironmentProblem(
                f"{self.cwd} is not inside a git repository",
                hint="run releasectl from a clone of the project",
            )
        return Path(top)

    def find_commit(self, ref: str) -> str | None:
        """The full sha of the commit ``ref`` names, or None when it names none here."""
        return self._out("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}") or None

    def resolve(self, ref: str) -> str:
        """``ref``'s full sha. Not a repository is exit 4; a ref that names no commit is exit 2."""
        if ref.startswith("-"):
            raise UsageError(f"{ref!r} is not a git ref", hint="give a commit, branch or tag name")
        sha = self.find_commit(ref)
        if sha is None:
            self.toplevel()
            raise UsageError(
                f"git ref {ref!r} does not name a commit here",
                hint="give a commit, branch or tag that exists locally (`git fetch --tags` first?)",
            )
        return sha

    def is_shallow(self) -> bool:
        return self._out("rev-parse", "--is-shallow-repository") == "true"

    def branch(self) -> str | None:
        """The checked-out branch; None on a detached HEAD."""
        return self._out("symbolic-ref", "--short", "-q", "HEAD") or None

    def changed_files(self, *, untracked: bool = True) -> list[str]:
        """Paths `git status` reports as changed (none when it cannot tell)."""
        args = ("status", "--porcelain") + (() if untracked else ("--untracked-files=no",))
        proc = self._run(*args)
        if proc.returncode != 0:
            return []
        return [line[3:] for line in proc.stdout.decode("utf-8", "replace").splitlines() if line.strip()]

    def probe(self, ref: str = "HEAD") -> Probe:
        """Is this a repository, is it shallow, which commit is ``ref`` — in one call."""
        proc = self._run(
            "rev-parse", "--is-shallow-repository", "--verify", "--end-of-options", f"{ref}^{{commit}}"
        )
        out = proc.stdout.decode("utf-8", "replace").split()
        if proc.returncode != 0:
            message = self._err(proc)
            if "not a git repository" in message:
                raise EnvironmentProblem(
                    f"{self.cwd} is not inside a git repository",
                    hint="run releasectl from a clone of the project",
                )
            if ref == "HEAD":
                raise EnvironmentProblem(
                    "the repository has no commits yet", hint="commit something, then ask for a version"
                )
            raise EnvironmentProblem(f"commit {ref} is not in this clone ({message})", hint=UNSHALLOW_HINT)
        if len(out) != 2:
            raise OperationFailed(f"unexpected answer from git rev-parse: {' '.join(out)!r}")
        return Probe(head=out[1], shallow=out[0] == "true")

    def tags(self, prefix: str) -> list[Tag]:
        """Every tag whose name starts with ``prefix``, with the commit it points at."""
        proc = self._run(
            "for-each-ref",
            "--format=%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)",
            f"refs/tags/{prefix}*",
        )
        if proc.returncode != 0:
            raise OperationFailed(f"git for-each-ref failed: {self._err(proc)}")
        found = []
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            parts = line.split("\0")
            if len(parts) != 5:
                continue
            name, kind, sha, peeled_kind, peeled = parts
            commit = sha if kind == "commit" else peeled if peeled_kind == "commit" else None
            found.append(Tag(name, commit))
        return found

    def log(self, since: str | None, head: str) -> RangeLog:
        """The commits in ``since..head`` (all of head's history when since is None), newest first."""
        spec = f"{since}..{head}" if since else head
        proc = self._run("log", "-z", "--boundary", "--no-color", "--format=%m%H%n%B", spec, "--")
        if proc.returncode != 0:
            message = self._err(proc)
            if since and any(
                text in message.lower()
                for text in ("bad revision", "unknown revision", "invalid revision range", "bad object")
            ):
                raise UnknownCommit(since)
            raise OperationFailed(f"git log {spec} failed: {message}")
        commits: list[LoggedCommit] = []
        boundary: set[str] = set()
        for record in proc.stdout.decode("utf-8", "replace").split("\0"):
            if len(record) < 2:
                continue
            first, _, message = record.partition("\n")
            mark, sha = first[0], first[1:]
            if mark == "-":
                boundary.add(sha)
            else:
                commits.append(LoggedCommit(sha, message))
        return RangeLog(commits, frozenset(boundary))

    def history(self, tips: Sequence[str], exclude: Sequence[str] = ()) -> list[HistoryCommit]:
        """The commits ``tips`` reach and ``exclude`` do not, newest first, in one git process
        (release notes, the changelog). Commits this clone lacks are passed over."""
        if not tips:
            return []
        proc = self._run(
            "log", "-z", "--no-color", "--ignore-missing", "--format=%H %P%n%cs%n%B",
            *tips, "--not", *exclude, "--",
        )  # fmt: skip
        if proc.returncode != 0:
            raise OperationFailed(f"git log failed: {self._err(proc)}")
        found = []
        for record in proc.stdout.decode("utf-8", "replace").split("\0"):
            shas, _, rest = record.partition("\n")
            date, _, message = rest.partition("\n")
            if shas.strip():
                sha, *parents = shas.split()
                found.append(HistoryCommit(sha, tuple(parents), date, message))
        return found

    def is_ancestor(self, commit: str, head: str) -> bool:
        proc = self._run("merge-base", "--is-ancestor", commit, head)
        if proc.returncode in (0, 1):
            return proc.returncode == 0
        # 128: the commit is not in this clone (a release made from history we do not have).
        return False

    def fetch_disabled_for_tags(self) -> list[str]:
        """Remotes configured never to fetch tags (remote.<name>.tagOpt = --no-tags)."""
        proc = self._run("config", "--get-regexp", r"^remote\..*\.tagopt$")
        remotes = []
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(" ")
            if value.strip() == "--no-tags":
                remotes.append(key[len("remote.") : -len(".tagopt")])
        return remotes

    def create_tag(self, name: str, commit: str, message: str) -> None:
        # whitespace, not the default strip: the notes' markdown headings start with #.
        proc = self._run("tag", "-a", "--cleanup=whitespace", name, "-m", message, commit)
        if proc.returncode == 0:
            return
        error = self._err(proc)
        if "already exists" in error:
            raise Conflict(f"tag {name} already exists", hint=f"inspect it with `git show {name}`")
        if "tell me who you are" in proc.stderr.decode("utf-8", "replace").lower() or "identity" in error:
            raise EnvironmentProblem(
                f"git cannot create annotated tag {name}: no committer identity",
                hint="set git config user.name and user.email (or GIT_COMMITTER_NAME/EMAIL)",
            )
        raise OperationFailed(f"git tag {name} failed: {error}")

    def push_tag(self, name: str, remote: str = "origin") -> None:
        ref = f"refs/tags/{name}"
        proc = self._run("push", "--porcelain", remote, f"{ref}:{ref}", timeout=_PUSH_TIMEOUT)
        if proc.returncode != 0:
            raise OperationFailed(
                f"git push {remote} {name} failed: {self._err(proc)}",
                hint=f"the tag exists locally; push it later with `git push {remote} {name}`",
            )

    def commit_info(self, commit: str) -> tuple[int, Path]:
        """The commit's time (seconds since the epoch) and the work tree's top directory."""
        proc = self._run("show", "-s", "--format=%ct", commit, "--")
        if proc.returncode != 0:
            raise EnvironmentProblem(f"cannot read commit {commit}: {self._err(proc)}")
        top = self._run("rev-parse", "--show-toplevel")
        if top.returncode != 0:
            raise EnvironmentProblem(f"cannot find the work tree of {self.cwd}: {self._err(top)}")
        return int(proc.stdout.split()[0]), Path(top.stdout.decode().strip())

    def remotes(self) -> list[str]:
        """The names of the clone's remotes (`git remote`)."""
        proc = self._run("remote")
        if proc.returncode != 0:
            raise OperationFailed(f"git remote failed: {self._err(proc)}")
        return proc.stdout.decode("utf-8", "replace").split()

    def on_remote_branch(self, commit: str) -> bool:
        """Is ``commit`` reachable from a remote-tracking branch (as of the last fetch or push)?"""
        proc = self._run(
            "for-each-ref", "--count=1", "--format=%(refname)", "--contains", commit, "refs/remotes/"
        )
        if proc.returncode != 0:
            raise OperationFailed(f"git for-each-ref --contains {commit[:12]} failed: {self._err(proc)}")
        return bool(proc.stdout.strip())

    def remote_url(self, remote: str = "origin", *, credentials: bool = False) -> str | None:
        """The remote's URL, or None without that remote. Any user or token in it is stripped
        unless ``credentials`` (a clone that must push where this one does keeps them)."""
        url = self._out("remote", "get-url", remote)
        if not url:
            return None
        return url if credentials else without_credentials(url)

    # ------------------------------------------------------------------------- clean checkout

    def clone_to(self, dest: Path) -> Git:
        """A clone of this repository at ``dest``: all history and tags, nothing checked out.
        A clone rather than a worktree, so this repository's refs and index are never written."""
        self.run("clone", "--quiet", "--no-local", "--no-checkout", str(self.cwd), str(dest))
        return Git(dest, env=self._env)

    def check_out(self, commit: str) -> None:
        """A detached HEAD at ``commit``, fetched by id first if no branch or tag reaches it."""
        if self._run("cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
            self.run("fetch", "--quiet", "origin", commit)
        self.run("checkout", "--quiet", "--detach", commit)

    def set_remote_url(self, remote: str, url: str) -> None:
        self.run("remote", "set-url", remote, url)


def without_credentials(url: str) -> str:
    """https://user:token@host/x → https://host/x: remote URLs may embed tokens, labels must not."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    host = authority.rpartition("@")[2]
    return f"{scheme}://{host}{slash}{path}"


class GitTagLedger:
    """The git mirror of the release ledger: tags ``<prefix>X.Y.Z`` on commits."""

    def __init__(self, git: Git, prefix: str = "v") -> None:
        self.git = git
        self.prefix = prefix
        self._tags: list[Tag] | None = None

    def all_tags(self) -> list[Tag]:
        if self._tags is None:
            self._tags = self.git.tags(self.prefix)
        return self._tags

    def releases(self) -> list[Release]:
        found = []
        for tag in self.all_tags():
            version = parse_tag(tag.name, self.prefix)
            if version is not None and tag.commit:
                found.append(Release(version=str(version), commit=tag.commit, sources=frozenset({"git"})))
        return found

    def tag_name(self, version: str) -> str:
        return f"{self.prefix}{version}"

    def commit_of(self, name: str) -> str | None:
        for tag in self.all_tags():
            if tag.name == name:
                return tag.commit
        return None

    def has_tag(self, name: str) -> bool:
        return any(tag.name == name for tag in self.all_tags())


def head_ref(env: Mapping[str, str]) -> str:
    """The commit to version: CodeBuild checks out a detached HEAD and names the commit here."""
    resolved = env.get("CODEBUILD_RESOLVED_SOURCE_VERSION", "").strip()
    if resolved and all(c in "0123456789abcdefABCDEF" for c in resolved) and 7 <= len(resolved) <= 64:
        return resolved
    return "HEAD"
