"""Only the git adapter runs git: every git process of the product starts in releasectl/adapters/git.py,
so a missing git, a missing directory or a hung process ends the same way everywhere; and the
typed calls the commands and the local build use instead of their own runners."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from releasectl.adapters.git import Git
from releasectl.core.errors import EnvironmentProblem, ExitCode, UsageError
from tests.support.git import GitRepo

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ROOT / "releasectl"
ADAPTER = PRODUCT / "adapters" / "git.py"


def _is_git(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and Path(node.value).name == "git"


# What takes a whole command line as one string.
_STARTERS = frozenset({"system", "popen", "run", "Popen", "call", "check_call", "check_output", "getoutput"})


def _name(func: ast.expr) -> str | None:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _is_argv(node: ast.expr) -> bool:
    return isinstance(node, ast.List | ast.Tuple) and bool(node.elts) and _is_git(node.elts[0])


def git_runs(source: str) -> list[int]:
    """Lines that start git: an argv list whose first word is git, a call given such a sequence,
    or a call given a command line that begins with it."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.List) and _is_argv(node):
            found.add(node.lineno)
        elif isinstance(node, ast.Call) and node.args:
            first = node.args[0]
            command = first.value if isinstance(first, ast.Constant) else None
            shell = isinstance(command, str) and command.startswith("git ") and _name(node.func) in _STARTERS
            if _is_argv(first) or shell:
                found.add(node.lineno)
    return sorted(found)


def test_the_scan_sees_how_the_adapter_runs_git() -> None:
    assert git_runs(ADAPTER.read_text(encoding="utf-8"))
    assert git_runs('subprocess.run(["git", "status"])') == [1]
    assert git_runs('os.system("git status --porcelain")') == [1]
    assert git_runs('subprocess.check_output("git log -1", shell=True)') == [1]
    assert git_runs('subprocess.run(("/usr/bin/git", "log"))') == [1]
    # Words, not programs: a tuple of ledger names, git as an argument of another program.
    assert git_runs('ledgers = ("git", "ecr")\nrun(["docker", "git"])\nCheck("git tags", OK)') == []


def test_no_product_module_but_the_git_adapter_runs_git() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted(PRODUCT.rglob("*.py"))
        if path != ADAPTER
        for line in git_runs(path.read_text(encoding="utf-8"))
    }
    assert not offenders, sorted(offenders)


# ----------------------------------------------------------------------------- the typed calls


def test_a_ref_resolves_to_its_commit_and_a_missing_one_is_exit_2(git_repo: GitRepo) -> None:
    head = git_repo.commit("feat: first")
    git = Git(git_repo.path)
    assert git.resolve("main") == head
    for ref in ("no-such-branch", "--help"):
        with pytest.raises(UsageError):
            git.resolve(ref)


def test_outside_a_repository_resolving_is_exit_4(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="not inside a git repository") as caught:
        Git(tmp_path).resolve("HEAD")
    assert caught.value.exit_code == ExitCode.ENVIRONMENT


def test_git_missing_is_exit_4_for_every_call(git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(git_repo.path / "nowhere"))
    for call in (Git(git_repo.path).toplevel, Git(git_repo.path).changed_files):
        with pytest.raises(EnvironmentProblem, match="git is not installed"):
            call()


def test_a_remote_url_loses_its_token_unless_a_clone_must_push_with_it(git_repo: GitRepo) -> None:
    git_repo.git("remote", "add", "origin", "https://user:token@example.com/app.git")
    git = Git(git_repo.path)
    assert git.remote_url("origin") == "https://example.com/app.git"
    assert git.remote_url("origin", credentials=True) == "https://user:token@example.com/app.git"
    assert git.remote_url("upstream") is None


def test_a_clone_checks_out_a_commit_no_branch_reaches(git_repo: GitRepo, tmp_path: Path) -> None:
    first = git_repo.commit("feat: first")
    git_repo.git("checkout", "-q", "--detach")
    detached = git_repo.commit("fix: on no branch")
    git_repo.git("checkout", "-q", "main")
    clone = Git(git_repo.path).clone_to(tmp_path / "clone")
    clone.check_out(detached)
    assert clone.find_commit("HEAD") == detached
    assert clone.find_commit(first) == first
    assert clone.branch() is None
