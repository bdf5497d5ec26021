"""`releasectl notes` and `releasectl changelog` on scratch repositories, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import one_line_error, run_cli
from tests.support.git import GitRepo


@pytest.fixture
def history(git_repo: GitRepo) -> GitRepo:
    """v0.1.0, then a fix, a breaking feature with a footer, docs and a non-conventional commit."""
    git_repo.commit("feat: first")
    git_repo.tag("v0.1.0")
    git_repo.commit("fix(api): handle an empty body")
    git_repo.commit("feat(ui)!: new layout\n\nBREAKING CHANGE: the old layout is gone")
    git_repo.commit("docs: readme")
    git_repo.commit("Tidy up")
    return git_repo


def notes_json(repo: GitRepo, *args: str) -> dict:
    ran = run_cli("--json", "notes", *args, cwd=repo.path)
    assert ran.code == 0, ran.stderr
    return json.loads(ran.stdout)


def shas(payload: dict) -> list[str]:
    return [item["commit"] for items in payload["groups"].values() for item in items]


def test_json_notes_group_every_commit_since_the_last_release_once(history: GitRepo) -> None:
    payload = notes_json(history)

    since = history.git("rev-list", "v0.1.0..HEAD").split()
    assert sorted(shas(payload)) == sorted(since) and len(shas(payload)) == len(set(shas(payload)))
    assert (payload["version"], payload["previous"], payload["released"], payload["commits"]) == (
        "0.2.0",
        "0.1.0",
        False,
        4,
    )
    assert [item["subject"] for item in payload["groups"]["breaking"]] == ["feat(ui)!: new layout"]
    assert payload["groups"]["breaking"][0]["breaking_text"] == "the old layout is gone"
    assert [(i["scope"], i["short"]) for i in payload["groups"]["fixes"]] == [("api", since[-1][:7])]
    assert payload["groups"]["features"] == []
    assert [item["subject"] for item in payload["groups"]["other"]] == ["Tidy up", "docs: readme"]


def test_the_next_version_in_the_notes_is_the_one_version_reports(history: GitRepo) -> None:
    version = json.loads(run_cli("--json", "version", "--offline", cwd=history.path).stdout)

    assert notes_json(history)["version"] == version["next"]


def test_notes_print_markdown_with_the_version_heading(history: GitRepo) -> None:
    ran = run_cli("notes", cwd=history.path)

    assert ran.code == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("## 0.2.0 (")
    assert "### Breaking changes" in lines and "### Fixes" in lines and "### Other changes" in lines
    assert "- **api:** handle an empty body (" in ran.stdout
    assert "  the old layout is gone" in lines


def test_format_json_prints_what_the_json_option_prints(history: GitRepo) -> None:
    assert json.loads(run_cli("notes", "--format", "json", cwd=history.path).stdout) == notes_json(history)


def test_notes_of_a_tagged_version_cover_that_release_only(history: GitRepo) -> None:
    history.tag("v0.2.0")
    history.commit("fix: later")

    payload = notes_json(history, "v0.2.0")

    assert (payload["version"], payload["released"], payload["commits"]) == ("0.2.0", True, 4)
    assert notes_json(history, "0.1.0")["commits"] == 1


def test_a_final_release_notes_fold_in_its_release_candidates(git_repo: GitRepo) -> None:
    git_repo.commit("feat: first")
    git_repo.tag("v0.1.0")
    git_repo.commit("feat: a")
    git_repo.tag("v0.2.0-rc.1")
    git_repo.commit("fix: b")
    git_repo.tag("v0.2.0-rc.2")

    final = notes_json(git_repo)  # the next version finalises the candidates
    candidate = notes_json(git_repo, "0.2.0-rc.2")

    assert (final["version"], final["commits"], final["previous"]) == ("0.2.0", 2, "0.1.0")
    assert (candidate["commits"], candidate["previous"]) == (1, "0.2.0-rc.1")


def test_an_unknown_version_is_exit_4_and_a_malformed_one_exit_2(history: GitRepo) -> None:
    unknown = run_cli("notes", "9.9.9", cwd=history.path)
    malformed = run_cli("notes", "nine", cwd=history.path)
    bad_format = run_cli("notes", "--format", "yaml", cwd=history.path)

    assert (unknown.code, malformed.code, bad_format.code) == (4, 2, 2)
    assert one_line_error(unknown) and "9.9.9 is neither tagged in this clone" in unknown.stderr
    assert one_line_error(malformed) and one_line_error(bad_format)


def test_notes_in_a_shallow_clone_are_exit_4(history: GitRepo, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    history.git("clone", "-q", "--depth", "1", f"file://{history.path}", str(clone))

    for args in (("notes",), ("notes", "0.1.0"), ("changelog",)):
        ran = run_cli(*args, cwd=clone)
        assert ran.code == 4, (args, ran.stderr)
        assert "git fetch --unshallow --tags" in ran.stderr


def test_when_nothing_is_due_the_notes_list_what_is_unreleased(git_repo: GitRepo) -> None:
    git_repo.commit("feat: first")
    git_repo.tag("v0.1.0")
    git_repo.commit("docs: words")
    (git_repo.path / "pyproject.toml").write_text('[tool.releasectl]\nother_commits = "none"\n')
    git_repo.git("commit", "-qam", "chore: quiet")

    payload = notes_json(git_repo)

    assert (payload["version"], payload["released"], payload["commits"]) == (None, False, 2)


# ----------------------------------------------------------------------------- changelog


def test_changelog_write_twice_leaves_the_file_byte_identical_and_keeps_its_header(history: GitRepo) -> None:
    history.tag("v0.2.0")
    target = history.path / "CHANGELOG.md"
    target.write_bytes(b"# Shop\r\n\r\nWritten by *hand*.\r\n")

    first = run_cli("--json", "changelog", "--write", "CHANGELOG.md", cwd=history.path)
    written = target.read_bytes()
    second = run_cli("--json", "changelog", "--write", "CHANGELOG.md", cwd=history.path)

    assert (first.code, second.code) == (0, 0), first.stderr + second.stderr
    assert target.read_bytes() == written
    assert written.startswith(b"# Shop\r\n\r\nWritten by *hand*.\r\n")
    assert (json.loads(first.stdout)["outcome"], json.loads(second.stdout)["outcome"]) == (
        "succeeded",
        "noop",
    )
    assert json.loads(second.stdout)["changed"] is False
    text = written.decode()
    assert text.index("## 0.2.0 (") < text.index("## 0.1.0 (")


def test_the_changelog_holds_every_commit_of_every_release_once(history: GitRepo) -> None:
    history.tag("v0.2.0")
    history.commit("fix: three")
    history.tag("v0.2.1")
    history.commit("feat: unreleased")

    payload = json.loads(run_cli("--json", "changelog", cwd=history.path).stdout)

    released = history.git("rev-list", "v0.2.1").split()
    listed = [sha for release in payload["releases"] for sha in shas(release)]
    assert sorted(listed) == sorted(released) and len(listed) == len(set(listed))
    assert [r["version"] for r in payload["releases"]] == ["0.2.1", "0.2.0", "0.1.0"]


def test_the_changelog_reads_every_tag_shape_and_names_the_tags_it_cannot_read(git_repo: GitRepo) -> None:
    (git_repo.path / "pyproject.toml").write_text('[tool.releasectl]\nlegacy_tag_prefixes = [""]\n')
    git_repo.commit("feat: first")
    git_repo.tag("0.1.0")  # the project's old, unprefixed spelling
    git_repo.commit("fix: second")
    git_repo.tag("v0.1.1-rc.1")
    git_repo.git("tag", "-a", "v0.1.1", "-m", "promoted", "v0.1.1-rc.1")  # a tag of a tag
    git_repo.commit("docs: third")
    git_repo.tag("v0.2")

    ran = run_cli("--json", "changelog", cwd=git_repo.path)

    assert ran.code == 0, ran.stderr
    payload = json.loads(ran.stdout)
    assert [(r["version"], r["commits"]) for r in payload["releases"]] == [("0.1.1", 1), ("0.1.0", 1)]
    assert "warning: tag v0.2 is not in the changelog: " in ran.stderr


def test_the_changelog_a_release_would_print_is_what_it_writes(history: GitRepo) -> None:
    history.tag("v0.2.0")

    printed = run_cli("changelog", cwd=history.path)
    written = run_cli("changelog", "--write", "CHANGELOG.md", cwd=history.path)

    assert (printed.code, written.code) == (0, 0)
    assert (history.path / "CHANGELOG.md").read_text() == printed.stdout


def test_a_changelog_path_that_is_a_directory_is_exit_4(history: GitRepo) -> None:
    (history.path / "docs").mkdir()

    ran = run_cli("changelog", "--write", "docs", cwd=history.path)

    assert ran.code == 4 and one_line_error(ran)


# ----------------------------------------------------------------------------- the tag, start-up


def test_bump_git_tag_puts_the_notes_in_the_annotated_tag(history: GitRepo) -> None:
    ran = run_cli("bump", "--offline", "--git-tag", cwd=history.path)

    assert ran.code == 0, ran.stderr
    message = history.git("tag", "-l", "--format=%(contents)", "v0.2.0")
    assert message.startswith("release 0.2.0\n\n### Breaking changes\n")
    assert "- **api:** handle an empty body (" in message


def test_neither_version_offline_nor_the_version_flag_imports_the_notes(history: GitRepo) -> None:
    probe = (
        "import sys; from releasectl.__main__ import main; main({args!r}); "
        "print(sorted(m for m in ('releasectl.core.notes', 'releasectl.commands.notes', "
        "'releasectl.adapters.github') if m in sys.modules), file=sys.stderr)"
    )
    for args in (["version", "--offline"], ["--version"]):
        ran = subprocess.run(
            [sys.executable, "-c", probe.format(args=args)],
            cwd=history.path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert ran.stderr.strip().splitlines()[-1] == "[]", ran.stderr
