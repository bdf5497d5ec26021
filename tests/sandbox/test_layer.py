"""COPY steps become layer entries the way `docker build` places them."""

from __future__ import annotations

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
