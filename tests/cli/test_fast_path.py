"""`releasectl version` with --offline, --json and -v (the last two before or after `version`) skips typer;
it must answer exactly as the full CLI does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.git import GitRepo

FULL = ("-c", "import sys; from releasectl.cli.app import run; sys.exit(run(sys.argv[1:]))")
# As the script runs: the fast path then ends the process without the interpreter's teardown.
FAST = ("-m", "releasectl")


def both(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    def go(route: tuple[str, str]) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, *route, *args]
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)

    return go(FAST), go(FULL)


@pytest.fixture
def released(git_repo: GitRepo) -> GitRepo:
    git_repo.commit("feat: first")
    git_repo.tag("v0.1.0")
    git_repo.commit("fix: second")
    git_repo.commit("feat!: third\n\nBREAKING CHANGE: gone")
    return git_repo


@pytest.mark.parametrize(
    "args",
    [
        ("version", "--offline"),
        ("--json", "version", "--offline"),
        ("-v", "--json", "version", "--offline"),
        ("--verbose", "version", "--offline"),
        ("version", "--offline", "--json"),
        ("version", "--json", "--offline"),
        ("version", "--offline", "-v"),
        ("--json", "version", "--offline", "--verbose"),
        ("version", "--verbose", "--offline", "--json", "--json"),
    ],
)
def test_fast_path_prints_what_the_full_cli_prints(released: GitRepo, args: tuple[str, ...]) -> None:
    fast, full = both(released.path, *args)
    assert fast.returncode == full.returncode == 0
    assert fast.stdout == full.stdout


@pytest.mark.parametrize("args", [("--json", "version", "--offline"), ("version", "--offline", "--json")])
def test_fast_path_fails_as_the_full_cli_fails(tmp_path: Path, args: tuple[str, ...]) -> None:
    fast, full = both(tmp_path, *args)
    assert fast.returncode == full.returncode == 4
    assert fast.stdout == full.stdout
    assert fast.stderr == full.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["version", "--offline", "--json"],
        ["version", "-v", "--offline"],
        ["-v", "version", "--offline", "--json"],
    ],
)
def test_global_flags_after_version_are_answered_on_the_fast_path(released: GitRepo, args: list[str]) -> None:
    probe = (
        f"import sys; from releasectl.__main__ import version_fast_path; code = version_fast_path({args!r});"
        "print('ANSWERED', code, 'typer' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=released.path, capture_output=True, text=True, check=False
    )
    assert out.stdout.splitlines()[-1] == "ANSWERED 0 False"


def loaded_by_version(repo: GitRepo, *modules: str) -> list[str]:
    """Which of these modules `releasectl version --offline` has imported once it has answered."""
    probe = (
        "import sys; from releasectl.__main__ import main; main(['version', '--offline']);"
        f"print('LOADED', *(m for m in {modules!r} if m in sys.modules))"
    )
    argv = [sys.executable, "-c", probe]
    out = subprocess.run(argv, cwd=repo.path, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[-1].split()[1:]


def test_fast_path_does_not_import_typer_boto3_or_rich(released: GitRepo) -> None:
    assert loaded_by_version(released, "typer", "click", "boto3", "rich") == []


def test_a_human_answer_on_the_fast_path_loads_neither_json_nor_dataclasses(released: GitRepo) -> None:
    """json serves --json only; dataclasses (with the inspect module it loads) cost ~7 ms a run."""
    assert loaded_by_version(released, "json", "dataclasses", "inspect") == []


@pytest.mark.parametrize(
    "args",
    [
        ["--region", "eu-west-1", "version", "--offline"],
        ["version", "--offline", "--region", "eu-west-1"],
        ["version", "--offline", "--json=1"],
        ["version", "--help"],
        ["version", "--offline", "extra"],
    ],
)
def test_other_spellings_are_left_to_the_full_cli(args: list[str]) -> None:
    from releasectl.__main__ import version_fast_path

    assert version_fast_path(args) is None
