"""The .dockerignore matcher decides what enters the build context exactly as Docker does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from releasectl.core.errors import UsageError
from releasectl_sandbox.dockerignore import DockerIgnore, admitted_files, go_clean, read_patterns

ROOT = Path(__file__).resolve().parents[2]


def excluded(patterns: list[str], path: str) -> bool:
    return DockerIgnore(patterns).excluded(path)


# (pattern, path, excluded?) from moby/patternmatcher's own table, where "inexact" matches
# (through a parent directory) count as excluded, since a directory takes its contents with it.
SINGLE_PATTERN_CASES = [
    ("**", "file", True),
    ("**", "dir/file", True),
    ("**/", "file", True),
    ("**/**", "dir/file", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/dir2/file", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**file", "file", True),
    ("**file", "dir/dir/file", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    # Go's filepath.Match: * and ? never cross a /, but a pattern matching a directory takes its contents.
    ("a*", "ab/c", True),
    ("a*/b", "a/c/b", False),
    ("a?b", "a/b", False),
    ("a?b", "a☺b", True),
    ("[\\]a]", "]", True),
    ("[x\\-]", "-", True),
    ("[\\-x]", "a", False),
    ("*[a-ζ]", "A", False),
    # A leading / is the context root; trailing slashes and ./ are cleaned away.
    ("/foo/bar", "foo/bar", True),
    ("docs/", "docs/README.md", True),
    ("./docs//api/", "docs/api/index.md", True),
    ("temp?", "tempa", True),
    ("*/temp*", "somedir/temporary.txt", True),
    ("*/temp*", "temporary.txt", False),
    ("*/*/temp*", "somedir/subdir/temporary.txt", True),
    # The quirk moby keeps: a pattern starting with ** and no other wildcard matches as a suffix.
    ("**foo", "barfoo", True),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), SINGLE_PATTERN_CASES)
def test_single_pattern_excludes_what_docker_excludes(pattern: str, path: str, expected: bool) -> None:
    assert excluded([pattern], path) is expected


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        (["*.md", "!README.md"], "README.md", False),
        (["*.md", "!README.md"], "CHANGES.md", True),
        # The last matching line decides.
        (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
        (["*.md", "!README*.md", "README-secret.md"], "README-public.md", False),
        (["*.md", "README-secret.md", "!README*.md"], "README-secret.md", False),
        (["!fileutils.go", "*.go"], "fileutils.go", True),
        # An excluded directory takes its contents, unless an exception re-includes them.
        (["docs"], "docs/a/b/c.txt", True),
        (["docs", "!docs/README.md"], "docs/README.md", False),
        (["docs/*", "!docs/README.md"], "docs/other.md", True),
        (["*", "!service/hello_world.py"], "service/hello_world.py", False),
        (["*", "!service/hello_world.py"], "service/other.py", True),
        (["*", "!service"], "service/deep/file.py", False),
        (["**", "!util/docker/web"], "util/docker/web/foo", False),
        (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
        (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
        # BuildKit walks one directory at a time: an exception that matched only the parent
        # directory, and was not needed when that directory was visited, is not carried down.
        (["a/b", "!a"], "a/b", True),
        ([], "anything/at/all", False),
    ],
)
def test_pattern_lists_follow_last_match_wins(patterns: list[str], path: str, expected: bool) -> None:
    assert excluded(patterns, path) is expected


def test_the_context_root_itself_is_never_excluded() -> None:
    assert excluded(["*", "**"], ".") is False


def test_read_patterns_normalises_lines_as_docker_reads_them() -> None:
    text = (
        "\ufefftest1\r\n/test2\n/a/file/here\n\n# a comment\n  # not a comment\n! /inverted/abs/path\ndocs/\n"
    )
    assert [p for _, p in read_patterns(text)] == [
        "test1",
        "test2",
        "a/file/here",
        "# not a comment",
        "!inverted/abs/path",
        "docs",
    ]


def test_read_patterns_keeps_line_numbers_for_messages() -> None:
    assert read_patterns("# header\n\nfoo\n") == [(3, "foo")]


@pytest.mark.parametrize(
    ("path", "cleaned"),
    [("", "."), ("a//b/./c/", "a/b/c"), ("a/../../b", "../b"), ("/../a", "/a"), ("//a", "/a"), ("./", ".")],
)
def test_go_clean_matches_go_filepath_clean(path: str, cleaned: str) -> None:
    assert go_clean(path) == cleaned


@pytest.mark.parametrize(
    "bad", ["[", "[^", "[^bc", "a[", "[]a]", "[-]", "[x-]", "[-x]", "[a-b-c]", "\\", "!", "! "]
)
def test_a_malformed_pattern_is_a_usage_error_naming_its_line(bad: str) -> None:
    with pytest.raises(UsageError, match=r"\.dockerignore line 2"):
        DockerIgnore.from_text(f"ok\n{bad}\n")


def test_a_reversed_class_range_is_accepted_and_matches_nothing() -> None:
    assert excluded(["a[z-b]"], "ac") is False
    assert excluded(["a[^z-b]"], "ac") is True


def make_tree(root: Path, files: list[str]) -> None:
    for name in files:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(name)


def test_admitted_files_lists_what_the_context_holds(tmp_path: Path) -> None:
    make_tree(tmp_path, ["app.py", "README.md", "docs/a.md", "docs/keep.md", ".git/HEAD", "src/x/y.py"])
    (tmp_path / ".dockerignore").write_text("# build context\n.git\ndocs\n!docs/keep.md\n*.md\n")
    assert admitted_files(tmp_path) == [".dockerignore", "app.py", "docs/keep.md", "src/x/y.py"]


def test_admitted_files_admits_everything_without_a_dockerignore(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a", "b/c"])
    assert admitted_files(tmp_path) == ["a", "b/c"]


def test_admitted_files_lists_symlinks_without_following_them(tmp_path: Path) -> None:
    make_tree(tmp_path, ["real/file"])
    os.symlink("real", tmp_path / "link")
    (tmp_path / ".dockerignore").write_text("real\n")
    assert admitted_files(tmp_path) == [".dockerignore", "link"]


def test_admitted_files_does_not_walk_into_a_directory_nothing_can_re_include(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path, ["keep/file", "big/file", "kept-out/file"])
    visited: list[str] = []
    real_scandir = os.scandir

    def recording_scandir(path: Path) -> object:
        visited.append(Path(path).relative_to(tmp_path).as_posix())
        return real_scandir(path)

    # Undone before the test ends: pytest removes tmp_path at teardown, through os.scandir too.
    with monkeypatch.context() as patch:
        patch.setattr(os, "scandir", recording_scandir)
        admitted = admitted_files(tmp_path, DockerIgnore(["*", "!keep"]))
    assert admitted == ["keep/file"]
    assert visited == [".", "keep"]


TREE = ["a", "a.md", "b/a", "b/c.md", "b/d/e", "b/d/f.txt", ".git/HEAD", "c/b/a", "docs/README.md"]
PIECES = ["*", "**", "a", "b", "b/d", "*.md", "**/a", "b/*", "c/**", ".*", "?", "docs", "b/d/e", "[ab]"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    make_tree(root, TREE)
    return root


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from(PIECES)), max_size=5))
def test_walking_with_pruning_admits_exactly_the_files_not_excluded(
    tree: Path, lines: list[tuple[bool, str]]
) -> None:
    rules = DockerIgnore([("!" if exception else "") + piece for exception, piece in lines])
    assert admitted_files(tree, rules) == sorted(path for path in TREE if not rules.excluded(path))


def test_the_repository_dockerignore_admits_only_the_service() -> None:
    admitted = admitted_files(ROOT)
    assert "service/hello_world.py" in admitted
    assert all(path.startswith("service/") for path in admitted), admitted
    for private in ("tests/conftest.py", ".git/HEAD", "releasectl/__init__.py", "pyproject.toml", ".venv"):
        assert not any(path == private or path.startswith(private + "/") for path in admitted)
