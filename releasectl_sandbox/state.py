"""The sandbox's files: a content-addressed blob store, unpacked image roots, the env file,
and the record of every process the sandbox started.

Layout of the state directory (default `.releasectl/sandbox/` in the project):

    blobs/sha256/<hex>     image layers, configs and manifests, named by their digest
    rootfs/<hex>/          an image's layer unpacked, shared read-only by its tasks
    run/sandbox.json       endpoint, ALB URL, env and this sandbox's id, written once it is ready
    run/pids               one line per process started: "<pid> <what>"

The image builder (a separate process when `releasectl release` runs inside a simulated
build) finds the store through RELEASECTL_SANDBOX_STATE.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releasectl.core.errors import EnvironmentProblem, OperationFailed

STATE_ENV = "RELEASECTL_SANDBOX_STATE"
ID_ENV = "RELEASECTL_SANDBOX_ID"
DEFAULT_STATE = Path(".releasectl") / "sandbox"
DEFAULT_ENV_FILE = Path(".releasectl") / "sandbox.env"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _hex(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    if algorithm != "sha256" or len(value) != 64 or not all(c in "0123456789abcdef" for c in value):
        raise OperationFailed(f"{digest!r} is not a sha256 digest")
    return value


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True)
class BlobStore:
    """Content-addressed files; writing the same bytes twice is a no-op."""

    root: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BlobStore:
        value = (os.environ if env is None else env).get(STATE_ENV)
        if not value:
            raise EnvironmentProblem(
                f"the sandbox image builder needs {STATE_ENV} (the sandbox's state directory)",
                hint="run inside `releasectl sandbox up`'s environment (source .releasectl/sandbox.env), "
                "or use --builder docker",
            )
        return cls(Path(value) / "blobs")

    def path(self, digest: str) -> Path:
        return self.root / "sha256" / _hex(digest)

    def put(self, data: bytes) -> str:
        digest = sha256_digest(data)
        target = self.path(digest)
        if not target.is_file():
            write_atomically(target, data)
        return digest

    def get(self, digest: str) -> bytes:
        try:
            data = self.path(digest).read_bytes()
        except FileNotFoundError:
            raise OperationFailed(f"blob {digest} is not in the sandbox blob store {self.root}") from None
        if sha256_digest(data) != digest:
            raise OperationFailed(f"blob {digest} in {self.root} is corrupt (its content has another digest)")
        return data

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()


class StateDir:
    """The sandbox's state directory; emptied when a sandbox starts (moto keeps nothing either)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._pid_lock = threading.Lock()

    @property
    def blobs(self) -> BlobStore:
        return BlobStore(self.root / "blobs")

    @property
    def rootfs(self) -> Path:
        return self.root / "rootfs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def info_file(self) -> Path:
        return self.run / "sandbox.json"

    @property
    def pid_file(self) -> Path:
        return self.run / "pids"

    def running_sandbox(self) -> dict[str, Any] | None:
        """The record of another sandbox that uses this directory and is still running, if any."""
        info = self.read_info()
        if (
            info
            and isinstance(info.get("pid"), int)
            and info["pid"] != os.getpid()
            and pid_alive(info["pid"])
        ):
            return info
        return None

    def reset(self) -> None:
        """Empty what a previous sandbox left (only the sandbox's own subdirectories: the root may
        be any directory a user named). A sandbox still running here is not disturbed."""
        if (info := self.running_sandbox()) is not None:
            raise already_running(info, f"state directory {self.root}")
        for directory in (self.root / "blobs", self.rootfs, self.run):
            if directory.exists():
                shutil.rmtree(directory)
        for directory in (self.root / "blobs" / "sha256", self.rootfs, self.run):
            directory.mkdir(parents=True, exist_ok=True)

    def record_pid(self, pid: int, what: str) -> None:
        with self._pid_lock, self.pid_file.open("a", encoding="utf-8") as handle:
            handle.write(f"{pid} {what}\n")

    def recorded_pids(self) -> list[int]:
        if not self.pid_file.is_file():
            return []
        return [int(line.split()[0]) for line in self.pid_file.read_text().splitlines() if line.strip()]

    def write_info(self, info: Mapping[str, Any]) -> None:
        write_atomically(self.info_file, (json.dumps(dict(info), indent=2) + "\n").encode())

    def read_info(self) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self.info_file.read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError):
            return None


def already_running(info: Mapping[str, Any], what: str) -> EnvironmentProblem:
    """The refusal of a second sandbox where one runs. Its hint names no option: `releasectl
    sandbox up` has none that would let two sandboxes share a project's env file and state."""
    pid = info["pid"]
    use = f"use it (`source {info['env_file']}`), or " if info.get("env_file") else ""
    return EnvironmentProblem(
        f"a sandbox (pid {pid}) is already running here ({what})",
        hint=f"{use}stop it first: Ctrl-C in its terminal, or `kill {pid}`",
    )


def env_file_text(env: Mapping[str, str]) -> str:
    """`export NAME=value` lines: `source` it in a shell, or read it as a dotenv file."""
    lines = ["# releasectl sandbox: fake credentials for the local endpoint only; nothing here is secret"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    return "\n".join(lines) + "\n"


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    write_atomically(path, env_file_text(env).encode())


def read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        name, _, value = line.partition("=")
        parts = shlex.split(value) if value else [""]
        env[name] = parts[0] if parts else ""
    return env


def processes_with_marker(marker: str) -> list[int]:
    """PIDs of live processes whose environment carries RELEASECTL_SANDBOX_ID=<marker>.

    Every process the sandbox starts (task, build command, and what they start in turn) inherits
    the marker, so this finds leftovers without a process table library. Linux (/proc) only;
    elsewhere it finds nothing.
    """
    needle = f"{ID_ENV}={marker}".encode()
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            status = (entry / "stat").read_text()
        except OSError:
            continue
        # A zombie has been ended already; only its parent has not reaped it yet.
        if status.rsplit(")", 1)[-1].split()[:1] == ["Z"]:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def pid_alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    return status.rsplit(")", 1)[-1].split()[:1] != ["Z"]
