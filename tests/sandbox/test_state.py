"""The sandbox state directory, env file and process bookkeeping."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from releasectl.core.errors import EnvironmentProblem, OperationFailed
from releasectl_sandbox.state import (
    ID_ENV,
    BlobStore,
    StateDir,
    pid_alive,
    processes_with_marker,
    read_env_file,
    write_env_file,
)


def test_the_env_file_round_trips_values_with_spaces_and_quotes(tmp_path: Path) -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1234", "ODD": 'it\'s a "value" with spaces'}
    write_env_file(tmp_path / "sandbox.env", env)
    assert read_env_file(tmp_path / "sandbox.env") == env
    sourced = subprocess.run(
        ["bash", "-c", f'source {tmp_path / "sandbox.env"}; printf %s "$ODD"'], capture_output=True, text=True
    )
    assert sourced.stdout == env["ODD"]


def test_blobs_are_stored_by_digest_and_checked_on_read(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    digest = store.put(b"layer")
    assert store.get(digest) == b"layer"
    store.path(digest).write_bytes(b"tampered")
    with pytest.raises(OperationFailed, match="corrupt"):
        store.get(digest)


def test_reset_empties_only_the_sandbox_subdirectories(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    state = StateDir(tmp_path)
    state.reset()
    (state.rootfs / "old").mkdir()
    state.reset()
    assert (tmp_path / "keep.txt").read_text() == "mine"
    assert list(state.rootfs.iterdir()) == []


def test_reset_refuses_while_another_sandbox_uses_the_directory(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.reset()
    state.write_info({"pid": os.getppid()})
    with pytest.raises(EnvironmentProblem, match="already running"):
        state.reset()


def test_processes_carrying_the_marker_are_found_until_they_end() -> None:
    proc = subprocess.Popen(["sleep", "30"], env={**os.environ, ID_ENV: "test-marker-123"})
    try:
        assert processes_with_marker("test-marker-123") == [proc.pid]
        assert pid_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert processes_with_marker("test-marker-123") == []
    assert not pid_alive(proc.pid)
