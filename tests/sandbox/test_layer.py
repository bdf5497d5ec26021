"""COPY steps become layer entries the way `docker build` places them."""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

import pytest

from releasectl.core.errors import UsageError
from releasectl_sandbox.dockerfile import CopyStep
from releasectl_sandbox.layer import copy_entries, gzip_layer, layer_tar, unpack


@pytest.fixture
def context(tmp_path: Path) -> Path:
    root = tmp_path / "context"
    for name in ("app/main.py", "app/lib/util.py", "conf/a.ini", "conf/b.ini", "run.sh"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    (root / "run.sh").chmod(0o755)
    return root


ADMITTED = ["app/lib/util.py", "app/main.py", "conf/a.ini", "conf/b.ini", "run.sh"]


def paths(context: Path, *steps: CopyStep, workdir: str = "/") -> dict[str, int]:
    return {e.path: e.mode for e in copy_entries(context, steps, ADMITTED, workdir) if not e.is_dir}


def test_a_directory_source_copies_its_contents_into_the_destination(context: Path) -> None:
    assert paths(context, CopyStep(("app",), "/srv", 1)) == {"srv/main.py": 0o644, "srv/lib/util.py": 0o644}


def test_a_single_file_to_a_path_without_slash_is_renamed(context: Path) -> None:
    assert list(paths(context, CopyStep(("conf/a.ini",), "/etc/app.ini", 1))) == ["etc/app.ini"]


def test_a_glob_copies_each_match_into_the_destination_directory(context: Path) -> None:
    assert sorted(paths(context, CopyStep(("conf/*.ini",), "/etc/", 1))) == ["etc/a.ini", "etc/b.ini"]


def test_executables_keep_their_bit_and_chmod_overrides_modes(context: Path) -> None:
    assert paths(context, CopyStep(("run.sh",), "/bin/", 1)) == {"bin/run.sh": 0o755}
    assert paths(context, CopyStep(("run.sh",), "/bin/", 1, chmod="700")) == {"bin/run.sh": 0o700}


def test_numeric_chown_sets_owners_and_names_are_refused(context: Path) -> None:
    (entry,) = [
        e
        for e in copy_entries(context, [CopyStep(("run.sh",), "/x", 1, chown="10:20")], ADMITTED, "/")
        if not e.is_dir
    ]
    assert (entry.uid, entry.gid) == (10, 20)
    with pytest.raises(UsageError, match="numeric"):
        copy_entries(context, [CopyStep(("run.sh",), "/x", 1, chown="app:app")], ADMITTED, "/")


def test_workdir_and_parent_directories_are_in_the_layer(context: Path) -> None:
    entries = copy_entries(context, [CopyStep(("run.sh",), "/opt/tool/run.sh", 1)], ADMITTED, "/srv/dir")
    assert [e.path for e in entries if e.is_dir] == ["opt", "opt/tool", "srv", "srv/dir"]


def test_a_layer_unpacks_to_the_copied_files(context: Path, tmp_path: Path) -> None:
    entries = copy_entries(context, [CopyStep(("app",), "/srv/", 1)], ADMITTED, "/")
    unpack(gzip_layer(layer_tar(entries)), tmp_path / "root")
    assert (tmp_path / "root" / "srv" / "lib" / "util.py").read_text() == "app/lib/util.py"


# ----------------------------------------------------------------------------- unpacking what is unsafe


# The stdlib's "data" extraction filter where tarfile has one (3.11.4 and newer); the sandbox's own
# check of the same rules on the 3.11 releases before it. Both must refuse and admit alike.
@pytest.fixture(params=["tarfile's data filter", "the check for Pythons without it"])
def extraction(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "tarfile's data filter":
        if not hasattr(tarfile, "data_filter"):
            pytest.skip(f"this Python's tarfile has no extraction filters ({sys.version.split()[0]})")
    else:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return str(request.param)


def layer_of(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return gzip_layer(buffer.getvalue())


def member(name: str, kind: bytes = tarfile.REGTYPE, *, mode: int = 0o644, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, link
    return info


def test_a_regular_layer_unpacks_the_same_either_way(extraction: str, context: Path, tmp_path: Path) -> None:
    entries = copy_entries(context, [CopyStep(("run.sh", "conf"), "/srv/", 1)], ADMITTED, "/")
    unpack(gzip_layer(layer_tar(entries)), tmp_path / "root")
    assert (tmp_path / "root" / "srv" / "a.ini").read_text() == "conf/a.ini"
    assert (tmp_path / "root" / "srv" / "run.sh").stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize(
    "unsafe",
    [
        member("../outside.txt"),
        member("srv/../../outside.txt"),
        member("srv/link", tarfile.SYMTYPE, link="/etc/passwd"),
        member("srv/link", tarfile.SYMTYPE, link="../../outside.txt"),
        member("srv/hard", tarfile.LNKTYPE, link="../outside.txt"),
        member("srv/fifo", tarfile.FIFOTYPE),
        member("srv/dev", tarfile.CHRTYPE),
    ],
    ids=[
        "parent",
        "nested-parent",
        "absolute-symlink",
        "escaping-symlink",
        "escaping-hardlink",
        "fifo",
        "device",
    ],
)
def test_a_member_outside_the_root_or_not_a_file_is_refused_and_nothing_lands_outside(
    extraction: str, unsafe: tarfile.TarInfo, tmp_path: Path
) -> None:
    root = tmp_path / "images" / "root"
    with pytest.raises(tarfile.TarError):
        unpack(layer_of((unsafe, b"x")), root)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["images", "root"]


def test_a_leading_slash_is_dropped_not_followed(extraction: str, tmp_path: Path) -> None:
    unpack(layer_of((member("/srv/app.txt"), b"app")), tmp_path / "root")
    assert (tmp_path / "root" / "srv" / "app.txt").read_bytes() == b"app"


def test_setuid_and_write_for_others_are_dropped_and_the_owner_can_read_and_write(
    extraction: str, tmp_path: Path
) -> None:
    unpack(
        layer_of((member("tool", mode=0o4777), b"#!/bin/sh\n"), (member("data.txt", mode=0o444), b"d")),
        tmp_path / "root",
    )
    assert (tmp_path / "root" / "tool").stat().st_mode & 0o7777 == 0o755
    assert (tmp_path / "root" / "data.txt").stat().st_mode & 0o7777 == 0o644
