"""scripts/test-tmpdir.sh: where `make unit` puts the suite's temporary files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import ROOT

SCRIPT = ROOT / "scripts" / "test-tmpdir.sh"


def chosen(*args: str, tmpdir: str | None = None) -> str:
    env = {key: value for key, value in os.environ.items() if key != "TMPDIR"}
    if tmpdir is not None:
        env["TMPDIR"] = tmpdir
    return subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def is_tmpfs(path: str) -> bool:
    found = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True, check=False)
    return found.stdout.strip() == "tmpfs"


def test_a_directory_that_is_not_a_tmpfs_leaves_tmpdir_as_it_was() -> None:
    if is_tmpfs(str(ROOT)):
        pytest.skip("the checkout itself is on a tmpfs here")
    assert chosen(str(ROOT), tmpdir="/somewhere/else") == "/somewhere/else"
    assert chosen(str(ROOT)) == "/tmp"


def test_a_roomy_tmpfs_gets_a_private_directory_whose_scripts_run() -> None:
    if not is_tmpfs("/dev/shm"):
        pytest.skip("/dev/shm is not a tmpfs on this machine")
    found = chosen("/dev/shm", tmpdir="/somewhere/else")
    if found == "/somewhere/else":
        pytest.skip("/dev/shm here is small or noexec; the fallback is what the script should choose")
    directory = Path(found)
    assert directory.parent == Path("/dev/shm") and directory.name == f"releasectl-tests-{os.getuid()}"
    assert directory.stat().st_mode & 0o777 == 0o700
    probe = directory / ".exec-probe"
    assert subprocess.run([str(probe)], check=False).returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
@pytest.mark.parametrize("options", ["size=16m", "size=2g,noexec"], ids=["too-small", "noexec"])
def test_a_tmpfs_too_small_or_mounted_noexec_leaves_tmpdir_as_it_was(tmp_path: Path, options: str) -> None:
    mount = tmp_path / "shm"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)], check=False)
    if mounted.returncode != 0:
        pytest.skip("this machine does not let the tests mount a tmpfs")
    try:
        assert chosen(str(mount), tmpdir="/somewhere/else") == "/somewhere/else"
    finally:
        subprocess.run(["umount", str(mount)], check=True)
