"""A thin adapter over the git command line (no GitPython), and the git-tag ledger.

The only code in the product that runs git: every call goes through Git._run (or, for a
walk read as it streams, Git._stream), so a missing git, a missing directory or a hung process
ends the same way everywhere (exit 4 or 3). Each method is one git process, and the versioning
path needs three of them: probe (repository, shallow, HEAD), the release tags with their
commits, and one walk back from HEAD that stops at the first release. Nothing here walks the
whole history unless there is no release to stop at.

`releasectl version` starts those three before it imports the rest of the CLI
(start_version_reads), so git works while Python imports; a Git call that asks for exactly one
of them takes the started process instead of starting another. Hence this module imports the
ledger and the version rules only where it needs them.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Collection, Generator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from releasectl.core.errors import Conflict, EnvironmentProblem, OperationFailed, TimedOut, UsageError

if TYPE_CHECKING:
    from releasectl.core.config import Config
    from releasectl.core.ledger import Release
    from releasectl.core.versions import TagReading

UNSHALLOW_HINT = "git fetch --unshallow --tags"
_TAGS_FORMAT = "--format=%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)"
_WALK_FORMAT = "--format=%H %P%n%B"
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


class Walk(NamedTuple):
    """HEAD's history read newest first (commit date order), up to the first of the ``stops``."""

    commits: list[LoggedCommit]  # read before the stop, newest first
    reached: str | None  # the stop met, or None: the whole history was read
    linear: bool  # one parent each, each the next one read: `commits` is exactly reached..head


class HistoryCommit(NamedTuple):
    sha: str
    parents: tuple[str, ...]
    date: str  # committer date, YYYY-MM-DD
    message: str


class UnknownCommit(Exception):
    """A commit named by a ledger is not in this clone."""


def _git_env(env: Mapping[str, str]) -> dict[str, str]:
    base = dict(env)
    # Messages in English so the few we recognise stay recognisable; never prompt for credentials.
    # GIT_FLUSH=0: a log into a pipe is otherwise flushed commit by commit, a write (and a
    # wake-up of the reader) per commit.
    base.update({"LC_ALL": "C", "LANGUAGE": "", "GIT_TERMINAL_PROMPT": "0", "GIT_FLUSH": "0"})
    return base


def _argv(args: Sequence[str]) -> list[str]:
    return ["git", "-c", "log.showSignature=false", *args]


def _probe_args(ref: str) -> tuple[str, ...]:
    return ("rev-parse", "--is-shallow-repository", "--verify", "--end-of-options", f"{ref}^{{commit}}")


def _walk_args(ref: str) -> tuple[str, ...]:
    return ("log", "-z", "--no-color", _WALK_FORMAT, ref, "--")


_TAGS_ARGS = ("for-each-ref", _TAGS_FORMAT, "refs/tags")

# Started by start_version_reads: (directory, args) → the process and the environment it got.
_started: dict[tuple[str, tuple[str, ...]], tuple[subprocess.Popen[bytes], dict[str, str]]] = {}


def start_version_reads(env: Mapping[str, str] | None = None) -> None:
    """Start the three git reads of `releasectl version` in the current directory, to be taken
    by the Git calls that ask for them; whatever no call takes is stopped at exit. A process
    that cannot start is left to the real call, which reports why."""
    import atexit

    source = os.environ if env is None else env
    where, git_env = os.getcwd(), _git_env(source)
    ref = head_ref(source)
    for args in (_probe_args(ref), _TAGS_ARGS, _walk_args(ref)):
        try:
            proc = subprocess.Popen(
                _argv(args),
                cwd=where,
                env=git_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError:
            break
        _widen(proc)
        _started[(where, args)] = (proc, git_env)
    atexit.register(stop_version_reads)


def _widen(proc: subprocess.Popen[bytes]) -> None:
    """Let git write up to 1 MiB ahead of a reader that is still importing: a pipe holds 64 KiB,
    a few hundred commits, after which git would wait instead of walking on."""
    try:
        import fcntl

        fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)  # type: ignore[union-attr]
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or a system limit below 1 MiB: git waits a little, nothing else changes


def stop_version_reads() -> None:
    """Stop what start_version_reads started and no call took."""
    for proc, _ in _started.values():
        proc.kill()
        proc.communicate()
    _started.clear()


class Git:
    def __init__(self, cwd: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        self._env = _git_env(os.environ if env is None else env)
        self.calls: list[tuple[str, ...]] = []

    def _take_started(self, args: tuple[str, ...]) -> subprocess.Popen[bytes] | None:
        """The process start_version_reads started for exactly this call, if there is one."""
        if not _started:
            return None
        found = _started.get((str(self.cwd), args))
        if found is None or found[1] != self._env:
            return None
        del _started[(str(self.cwd), args)]
        return found[0]

    def _run(
        self, *args: str, timeout: float | None = _LOCAL_TIMEOUT, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """The one place git runs to completion."""
        self.calls.append(args)
        started = self._take_started(args) if stdin is None else None
        if started is not None:
            try:
                out, err = started.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                started.kill()
                started.communicate()
                raise TimedOut(f"git {args[0]} did not finish within {timeout or 0:.0f}s") from None
            return subprocess.CompletedProcess(_argv(args), started.returncode, out, err)
        try:
            return subprocess.run(
                _argv(args),
                cwd=self.cwd,
                env=self._env,
                capture_output=True,
                timeout=timeout,
                check=False,
                input=stdin,
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
        proc = self._run(*_probe_args(ref))
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

    def tags(self, *prefixes: str) -> list[Tag]:
        """Every tag whose name starts with one of ``prefixes``, with the commit it points at.

        All tags are listed and filtered here, so the call is the same whatever the prefixes
        (start_version_reads starts it before the config is read). An annotated tag of an
        annotated tag (promoting v1.2.0-rc.1 by tagging it v1.2.0) names its commit two objects
        down, which for-each-ref's `*` does not reach before git 2.46: those few are peeled to
        their commit in one more call.
        """
        proc = self._run(*_TAGS_ARGS)
        if proc.returncode != 0:
            raise OperationFailed(f"git for-each-ref failed: {self._err(proc)}")
        wanted = tuple(prefixes)
        found: list[Tag] = []
        nested: list[int] = []
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            parts = line.split("\0")
            if len(parts) != 5 or not parts[0].startswith(wanted):
                continue
            name, kind, sha, peeled_kind, peeled = parts
            commit = sha if kind == "commit" else peeled if peeled_kind == "commit" else None
            if peeled_kind == "tag":
                nested.append(len(found))
            found.append(Tag(name, commit))
        if nested:
            peeled_commits = self._peel([found[i].name for i in nested])
            for index in nested:
                found[index] = Tag(found[index].name, peeled_commits.get(found[index].name))
        return found

    def _peel(self, names: Sequence[str]) -> dict[str, str]:
        """Tag name → the commit it finally names, for tags whose target is another tag."""
        query = "".join(f"refs/tags/{name}^{{commit}}\n" for name in names).encode()
        proc = self._run("cat-file", "--batch-check=%(objectname) %(objecttype)", stdin=query)
        if proc.returncode != 0:
            raise OperationFailed(f"git cat-file failed: {self._err(proc)}")
        peeled = {}
        for name, line in zip(names, proc.stdout.decode("utf-8", "replace").splitlines(), strict=False):
            sha, _, kind = line.partition(" ")
            if kind == "commit":
                peeled[name] = sha
        return peeled

    def walk(self, head: str, stops: Collection[str], *, ref: str | None = None) -> Walk:
        """HEAD's history newest first, read until the first commit in ``stops`` (a release).

        One git process, read as it streams and stopped once a release is met, so its cost is
        the distance to the nearest release, however many releases sit on other branches and
        however long the history behind it. When every commit on the way has one parent, the
        commits read are exactly ``reached..head``; otherwise the caller reads that range
        exactly (Git.log), since commit-date order may interleave a merged branch's commits.
        ``ref`` names head as the caller was asked for it (HEAD): should it have moved since head
        was resolved, the walk starts again from head itself.
        """
        wanted = {stop.encode() for stop in stops}
        records: list[bytes] = []
        expected: bytes | None = head.encode()
        linear = True
        reached: str | None = None
        stream = self._stream(*_walk_args(ref or head))
        try:
            for record in stream:
                # Bytes until the stop is found: most of a record is its message, decoded once below.
                ids = record.partition(b"\n")[0].split()
                if not ids:
                    continue
                if not records and reached is None and ids[0] != expected:
                    stream.close()
                    return self.walk(head, stops)  # ref has moved on since head was resolved
                if ids[0] in wanted:
                    reached = ids[0].decode()
                    linear = linear and ids[0] == expected
                    break
                linear = linear and ids[0] == expected and len(ids) == 2
                expected = ids[1] if len(ids) == 2 else None
                records.append(record)
        finally:
            stream.close()  # stops git once the release is found
        commits = []
        for record in records:
            text = record.decode("utf-8", "replace")
            first, _, message = text.partition("\n")
            commits.append(LoggedCommit(first.split(" ", 1)[0], message))
        return Walk(commits, reached, linear)

    def _stream(self, *args: str, timeout: float = _LOCAL_TIMEOUT) -> Generator[bytes, None, None]:
        """A git command's NUL-separated records as it prints them; stopping the iteration stops git.

        The other place git runs (see _run): a walk back through history is stopped as soon as
        it has found what it looks for, rather than left to read the whole history.
        """
        import selectors

        self.calls.append(args)
        proc = self._take_started(args)
        try:
            proc = proc or subprocess.Popen(
                _argv(args),
                cwd=self.cwd,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except FileNotFoundError:
            raise EnvironmentProblem("git is not installed", hint="install git and run again") from None
        except NotADirectoryError:
            raise EnvironmentProblem(f"{self.cwd} is not a directory") from None
        assert proc.stdout is not None and proc.stderr is not None
        deadline = time.monotonic() + timeout
        errors: list[bytes] = []
        pending = b""
        finished = False
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(proc.stdout, selectors.EVENT_READ)
                selector.register(proc.stderr, selectors.EVENT_READ)
                open_streams = 2
                while open_streams:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimedOut(f"git {args[0]} did not finish within {timeout:.0f}s")
                    for key, _ in selector.select(left):
                        chunk = os.read(key.fd, 1 << 16)
                        if not chunk:
                            selector.unregister(key.fileobj)
                            open_streams -= 1
                        elif key.fileobj is proc.stderr:
                            errors.append(chunk)
                        else:
                            records = (pending + chunk).split(b"\0")
                            pending = records.pop()
                            yield from records
            if pending.strip():
                yield pending
            finished = True
        finally:
            if not finished:
                proc.kill()  # stopped early (or timed out): git need not walk on
            proc.stdout.close()
            proc.stderr.close()
            code = proc.wait()
        if code != 0:
            fake = subprocess.CompletedProcess(args, code, b"", b"".join(errors))
            raise OperationFailed(f"git {args[0]} failed: {self._err(fake)}")

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


class UnreadTag(NamedTuple):
    """A tag that looks like a version but names no release releasectl reads."""

    tag: str
    commit: str | None
    reason: str
    hint: str
    nominal: tuple[Any, ...] | None  # precedence of the version it appears to name

    def to_json(self) -> dict[str, str | None]:
        return {"tag": self.tag, "commit": self.commit, "reason": self.reason, "hint": self.hint}


class GitTagLedger:
    """The git mirror of the release ledger: tags ``<prefix>X.Y.Z`` on commits.

    Read under ``prefix`` (what releasectl writes) and ``legacy_prefixes`` (what the project
    wrote before: "" for `8.0.1`, "release-"), with the pre-release labels configured. Where
    several tags name one version, releasectl's own spelling wins, then the prefixes in order.
    """

    def __init__(
        self,
        git: Git,
        prefix: str = "v",
        *,
        legacy_prefixes: Sequence[str] = (),
        prerelease_labels: Collection[str] = ("rc",),
    ) -> None:
        self.git = git
        self.prefix = prefix
        self.prefixes = tuple(dict.fromkeys((prefix, *legacy_prefixes)))
        self.labels = tuple(prerelease_labels)
        self._tags: list[Tag] | None = None
        self._read: tuple[list[Release], list[UnreadTag]] | None = None

    @classmethod
    def for_config(cls, git: Git, config: Config) -> GitTagLedger:
        """The ledger a Config describes (tag_prefix, legacy_tag_prefixes, prerelease_labels)."""
        return cls(
            git,
            config.tag_prefix,
            legacy_prefixes=config.legacy_tag_prefixes,
            prerelease_labels=config.prerelease_labels,
        )

    def all_tags(self) -> list[Tag]:
        if self._tags is None:
            self._tags = self.git.tags(*self.prefixes)
        return self._tags

    def releases(self) -> list[Release]:
        return list(self._readings()[0])

    def unread(self) -> list[UnreadTag]:
        """Tags that look like versions but name none of the releases, each with the reason."""
        return list(self._readings()[1])

    def _readings(self) -> tuple[list[Release], list[UnreadTag]]:
        from releasectl.core.ledger import Release
        from releasectl.core.versions import read_tag, version_key

        if self._read is not None:
            return self._read
        named: dict[str, list[tuple[tuple[int, int], Tag, TagReading]]] = {}
        unread: list[UnreadTag] = []
        for tag in self.all_tags():
            reading = read_tag(tag.name, self.prefixes, self.labels)
            if reading is None:
                continue
            if reading.version is None:
                unread.append(UnreadTag(tag.name, tag.commit, reading.reason, reading.hint, reading.nominal))
            elif tag.commit is None:
                reason = "it points at no commit"
                unread.append(UnreadTag(tag.name, None, reason, f"git show {tag.name}", reading.nominal))
            else:
                rank = (0 if reading.canonical else 1, self.prefixes.index(reading.prefix))
                named.setdefault(reading.version, []).append((rank, tag, reading))
        releases = []
        for version, candidates in named.items():
            candidates.sort(key=lambda found: found[0])
            _, tag, _ = candidates[0]
            releases.append(Release(version=version, commit=tag.commit, sources=frozenset({"git"})))
            for _, other, reading in candidates[1:]:
                if other.commit != tag.commit:
                    where = f"commit {str(tag.commit)[:12]}"
                    unread.append(
                        UnreadTag(
                            other.name,
                            other.commit,
                            f"it names {version} too, which {tag.name} names on {where}",
                            f"delete the one that is wrong (git tag -d {other.name})",
                            reading.nominal or version_key(version),
                        )
                    )
        self._read = (releases, unread)
        return self._read

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
