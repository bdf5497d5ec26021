"""One image layer from a Dockerfile's COPY steps: which context files land where, as a
byte-for-byte reproducible gzip'd tar.

Only files the context admits (.dockerignore, via releasectl_sandbox.dockerignore) can be copied, as
with `docker build`. Reproducible: entries sorted by path, mtime 0, owner 0:0 unless --chown
says otherwise, mode 0644 (0755 for executables and directories) unless --chmod says
otherwise, no user or group names, gzip without a timestamp or file name.
"""

from __future__ import annotations

import copy
import gzip
import io
import os
import posixpath
import re
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from releasectl.core.errors import UsageError
from releasectl_sandbox.dockerfile import CopyStep
from releasectl_sandbox.dockerignore import go_clean

_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Entry:
    path: str  # inside the image, no leading "/"; directories without a trailing "/"
    source: Path | None  # None: a directory the layer creates
    mode: int
    uid: int = 0
    gid: int = 0
    link: str | None = None  # symlink target

    @property
    def is_dir(self) -> bool:
        return self.source is None and self.link is None


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Go's filepath.Match, which Docker uses for COPY sources: `*` and `?` stop at `/`."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                raise UsageError(f"COPY source {pattern!r}: unterminated [")
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def _owner(step: CopyStep) -> tuple[int, int]:
    if step.chown is None:
        return 0, 0
    user, _, group = step.chown.partition(":")
    if not user.isdigit() or (group and not group.isdigit()):
        raise UsageError(
            f"Dockerfile line {step.line}: COPY --chown={step.chown}: the sandbox builder needs numeric ids",
            hint="write --chown=UID:GID with numbers (the base image's /etc/passwd is not available)",
        )
    return int(user), int(group or user)


def _mode(step: CopyStep, source: Path) -> int:
    if step.chmod is not None:
        if not re.fullmatch(r"[0-7]{3,4}", step.chmod):
            raise UsageError(f"Dockerfile line {step.line}: COPY --chmod={step.chmod} is not an octal mode")
        return int(step.chmod, 8)
    return 0o755 if os.access(source, os.X_OK) and not source.is_symlink() else 0o644


def _sources(source: str, admitted: Sequence[str]) -> list[tuple[str, str, bool]]:
    """(context path, path under the destination, whether the source named the file itself)."""
    clean = go_clean(source).lstrip("/")
    clean = "" if clean == "." else clean
    if not clean:
        return [(p, p, False) for p in admitted]
    if _GLOB.search(clean):
        pattern = _glob_regex(clean)
        found: list[tuple[str, str, bool]] = []
        for path in admitted:
            parts = path.split("/")
            for depth in range(1, len(parts) + 1):
                prefix = "/".join(parts[:depth])
                if pattern.fullmatch(prefix):
                    rest = "/".join(parts[depth:])
                    # A matched file keeps its name; a matched directory's contents are copied.
                    found.append((path, rest or posixpath.basename(prefix), not rest))
                    break
        return found
    if clean in admitted:
        return [(clean, posixpath.basename(clean), True)]
    return [(p, p[len(clean) + 1 :], False) for p in admitted if p.startswith(clean + "/")]


def copy_entries(
    context: Path, steps: Iterable[CopyStep], admitted: Sequence[str], workdir: str
) -> list[Entry]:
    """The layer's entries: every COPY applied in order (later ones overwrite), plus parents."""
    files: dict[str, Entry] = {}
    for step in steps:
        uid, gid = _owner(step)
        matches = []
        for source in step.sources:
            found = _sources(source, admitted)
            if not found:
                raise UsageError(
                    f"Dockerfile line {step.line}: COPY {source}: not in the build context "
                    "or excluded by .dockerignore",
                    hint="admit it in .dockerignore (a `!path` line) or fix the path",
                )
            matches.extend(found)
        # Docker's rule: one file copied to a destination without a trailing slash is renamed to it;
        # anything else lands inside the destination directory.
        to_file = len(matches) == 1 and matches[0][2] and not step.dest.endswith("/")
        for context_path, relative, _ in matches:
            target = step.dest if to_file else posixpath.join(step.dest, relative)
            target = go_clean(target).lstrip("/")
            path = context / context_path
            link = os.readlink(path) if path.is_symlink() else None
            files[target] = Entry(target, path, _mode(step, path), uid, gid, link)
    dirs: set[str] = set()
    for target in files:
        parent = posixpath.dirname(target)
        while parent:
            dirs.add(parent)
            parent = posixpath.dirname(parent)
    work = go_clean(workdir).strip("/")
    while work:
        dirs.add(work)
        work = posixpath.dirname(work)
    entries = [Entry(d, None, 0o755) for d in dirs if d not in files]
    entries += files.values()
    return sorted(entries, key=lambda e: e.path)


def layer_tar(entries: Sequence[Entry]) -> bytes:
    """The uncompressed layer: its sha256 is the image config's diff_id."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path + ("/" if entry.is_dir else ""))
            info.mtime = 0
            info.uid, info.gid = entry.uid, entry.gid
            info.uname = info.gname = ""
            info.mode = entry.mode
            if entry.is_dir:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.link is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = entry.link
                tar.addfile(info)
            else:
                assert entry.source is not None
                data = entry.source.read_bytes()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def gzip_layer(tar_bytes: bytes) -> bytes:
    return gzip.compress(tar_bytes, compresslevel=6, mtime=0)


class UnsafeLayer(tarfile.TarError):
    """A layer member that would land outside the target or is not a file, directory or link."""


def unpack(layer_gz: bytes, target: Path) -> None:
    """Extract a layer into `target` (no absolute paths, no escapes, no device files)."""
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(layer_gz), mode="r:gz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, filter="data")
        else:
            # Python 3.11.0-3.11.3 (Debian 12 ships 3.11.2) predate tarfile's extraction filters.
            members = _data_members(tar.getmembers(), target)
            tar.extractall(target, members=members)  # noqa: S202  # nosec B202  # checked just above


def _data_members(members: Iterable[tarfile.TarInfo], target: Path) -> list[tarfile.TarInfo]:
    """What tarfile's "data" filter admits, refusing what it refuses: leading slashes dropped,
    every path and link target inside `target`, only files, directories and links, no setuid,
    setgid or write for others, owned by whoever extracts."""
    root = os.path.realpath(target)

    def inside(path: str) -> bool:
        return os.path.commonpath([root, os.path.realpath(path)]) == root

    admitted = []
    for original in members:
        member = copy.copy(original)
        member.name = member.name.lstrip("/")
        where = os.path.join(root, member.name)
        if not inside(where):
            raise UnsafeLayer(f"{original.name!r} would be extracted outside the image root")
        if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            raise UnsafeLayer(f"{original.name!r} is a special file")
        if member.issym() or member.islnk():
            base = os.path.dirname(where) if member.issym() else root
            if os.path.isabs(member.linkname) or not inside(os.path.join(base, member.linkname)):
                raise UnsafeLayer(f"{original.name!r} links outside the image root")
        member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
        member.mode &= 0o755
        if member.isfile() or member.islnk():
            member.mode = (member.mode if member.mode & 0o100 else member.mode & ~0o111) | 0o600
        admitted.append(member)
    return admitted
