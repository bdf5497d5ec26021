"""Build a synthetic git repository of Conventional Commits for the versioning benchmarks.

The history is streamed into `git fast-import` (no working-tree churn), so even
100,000 commits take seconds. It is linear, as on a squash-merge `main`: a realistic
mix of fix/feat/chore/docs/refactor/... subjects with scopes and PR numbers, bodies,
trailers, rare breaking changes (`!` or a `BREAKING CHANGE:` footer), and a `vX.Y.Z`
release tag every few hundred commits whose version follows from the commits before
it. The last release tag sits exactly TAIL commits before HEAD, so `<tag>..HEAD` is
what a versioning tool has to read.

Everything is seeded, so the same size gives the same commit ids on every machine.
Built repositories are cached under benchmarks/.work/repo-<size>/ with a JSON
description beside them; a change to the generator (GENERATOR_VERSION) or its
parameters rebuilds them.

    python benchmarks/make_repo.py 30000 100000      # build (or reuse) and describe
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"

# Bump when the stream changes, so cached repositories are rebuilt.
GENERATOR_VERSION = 2
DEFAULT_SEED = 20240601
DEFAULT_TAIL = 2000
START_EPOCH = 1546300800  # 2019-01-01T00:00:00Z

# The configuration every tool under test reads from the repository itself. Committed in
# the first commit so the working tree is clean, as in a CI checkout.
PYPROJECT = """\
[project]
name = "synthetic-service"
dynamic = ["version"]

[tool.releasectl]
tag_prefix = "v"

[tool.commitizen]
name = "cz_conventional_commits"
version_provider = "scm"
tag_format = "v$version"
version_scheme = "semver"
update_changelog_on_bump = false

[tool.semantic_release]
tag_format = "v{version}"
commit_parser = "conventional"
allow_zero_version = true
major_on_zero = true
no_git_verify = true

[tool.semantic_release.branches.main]
match = "main"
prerelease = false

[tool.semantic_release.changelog]
mode = "update"
"""

README = "# synthetic-service\n\nA generated history for benchmarking release tooling.\n"

# (type, weight): roughly the mix of an active service repository.
TYPES = [
    ("fix", 30),
    ("feat", 20),
    ("chore", 14),
    ("docs", 9),
    ("refactor", 9),
    ("test", 6),
    ("ci", 4),
    ("perf", 3),
    ("build", 3),
    ("style", 2),
]
SCOPES = [
    "api",
    "cli",
    "deploy",
    "ecr",
    "ecs",
    "build",
    "logs",
    "config",
    "auth",
    "deps",
    "ui",
    "core",
    "db",
    "cache",
]
VERBS = {
    "fix": ["handle", "avoid", "correct", "guard against", "stop", "restore", "retry", "escape"],
    "feat": ["add", "support", "introduce", "allow", "expose", "enable", "offer"],
    "chore": ["bump", "update", "tidy", "regenerate", "pin", "drop"],
    "docs": ["document", "explain", "clarify", "describe", "fix typo in"],
    "refactor": ["extract", "simplify", "split", "inline", "rename", "move"],
    "test": ["cover", "add tests for", "stabilise", "parametrise"],
    "ci": ["cache", "run", "split", "speed up"],
    "perf": ["speed up", "cache", "batch", "stream"],
    "build": ["pin", "upgrade", "vendor", "slim"],
    "style": ["format", "reorder", "lint"],
}
NOUNS = [
    "empty responses",
    "the retry loop",
    "paginated results",
    "the health check",
    "task definitions",
    "image digests",
    "log streams",
    "config loading",
    "the release ledger",
    "timeouts",
    "the status table",
    "credentials lookup",
    "rollback targets",
    "the build cache",
    "JSON output",
    "exit codes",
    "the changelog",
    "dependency pins",
    "error messages",
    "region handling",
    "tag parsing",
    "the deploy waiter",
    "concurrent claims",
    "large histories",
]
_WORD_TEXT = """
the a this that when which service request response handler cluster image tag version commit
deploy rollout task container port timeout retry backoff token page stream event error value
config option default user operator pipeline build cache layer digest manifest registry region
account role policy bucket queue metric alarm log line field record before after instead because
so now still also only never always again first last each every other same new old
"""
WORDS = _WORD_TEXT.split()
PEOPLE = [
    ("Ada Lovelace", "ada@example.com"),
    ("Grace Hopper", "grace@example.com"),
    ("Linus Torvalds", "linus@example.com"),
    ("Margaret Hamilton", "margaret@example.com"),
    ("Ken Thompson", "ken@example.com"),
    ("Barbara Liskov", "barbara@example.com"),
    ("Edsger Dijkstra", "edsger@example.com"),
    ("Frances Allen", "frances@example.com"),
    ("Dennis Ritchie", "dennis@example.com"),
    ("Radia Perlman", "radia@example.com"),
]
BREAKING_RATE = 1 / 1500  # per commit: a few per 2,000 commits, like a busy service
TAG_GAP = (80, 400)  # commits between releases


@dataclass(frozen=True)
class RepoInfo:
    path: str
    size: int
    seed: int
    tail: int
    generator: int
    last_tag: str
    last_tag_commit: str
    head: str
    tags: int
    annotated_tags: int
    expected_next: str  # what the docs/design.md §4 rules give for last_tag..HEAD
    expected_bump: str
    build_seconds: float


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 16))]
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random) -> str:
    text = " ".join(_sentence(rng) for _ in range(rng.randint(1, 4)))
    return textwrap.fill(text, width=72)


def _message(rng: random.Random, index: int) -> tuple[str, str]:
    """One commit message and the level the docs/design.md §4 rules assign to it."""
    kind = rng.choices([t for t, _ in TYPES], weights=[w for _, w in TYPES])[0]
    scope = rng.choice(SCOPES) if rng.random() < 0.6 else None
    breaking = rng.random() < BREAKING_RATE
    bang = breaking and rng.random() < 0.5
    subject = f"{rng.choice(VERBS[kind])} {rng.choice(NOUNS)}"
    if rng.random() < 0.7:
        subject += f" (#{1000 + index // 3})"
    # A few people capitalise the type; the spec says types are case-insensitive.
    shown = kind.capitalize() if rng.random() < 0.01 else kind
    header = f"{shown}{f'({scope})' if scope else ''}{'!' if bang else ''}: {subject}"

    paragraphs = [_paragraph(rng) for _ in range(rng.choices([0, 1, 2, 3], weights=[45, 35, 15, 5])[0])]
    trailers = []
    if breaking and not bang:
        token = "BREAKING CHANGE" if rng.random() < 0.85 else "BREAKING-CHANGE"
        trailers.append(f"{token}: {_sentence(rng).lower()}")
    if rng.random() < 0.25:
        trailers.append(f"Refs: #{rng.randint(100, 9999)}")
    if rng.random() < 0.1:
        name, email = rng.choice(PEOPLE)
        trailers.append(f"Co-authored-by: {name} <{email}>")
    if trailers:
        paragraphs.append("\n".join(trailers))
    message = header + "".join("\n\n" + p for p in paragraphs) + "\n"

    level = "major" if breaking else "minor" if kind == "feat" else "patch"
    return message, level


_ORDER = {"patch": 0, "minor": 1, "major": 2}


def _bump(version: tuple[int, int, int], level: str) -> tuple[int, int, int]:
    major, minor, patch = version
    if level == "major":
        return (major + 1, 0, 0)
    if level == "minor":
        return (major, minor + 1, 0)
    return (major, minor, patch + 1)


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def build(size: int, *, seed: int = DEFAULT_SEED, tail: int = DEFAULT_TAIL, dest: Path) -> RepoInfo:
    """Create the repository at `dest` (which must not exist) and describe it."""
    if size <= tail + TAG_GAP[1]:
        raise SystemExit(f"size must exceed tail + {TAG_GAP[1]} commits, got {size}")
    started = time.perf_counter()
    rng = random.Random(seed)
    last_tag_at = size - tail
    tag_at: dict[int, tuple[str, bool]] = {}
    position = rng.randint(*TAG_GAP)
    positions = []
    while position <= last_tag_at - TAG_GAP[0]:
        positions.append(position)
        position += rng.randint(*TAG_GAP)
    positions.append(last_tag_at)

    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp)], check=True)
    importer = subprocess.Popen(["git", "fast-import", "--quiet", "--done"], cwd=tmp, stdin=subprocess.PIPE)
    assert importer.stdin is not None
    out = importer.stdin
    out.write(b"blob\nmark :1\n" + _data(README.encode()))
    out.write(b"blob\nmark :2\n" + _data(PYPROJECT.encode()))

    version: tuple[int, int, int] | None = None
    pending = "patch"  # highest level since the last tag
    annotated = 0
    next_tag = 0
    when = START_EPOCH
    chunk: list[bytes] = []
    for index in range(1, size + 1):
        message, level = _message(rng, index)
        if _ORDER[level] > _ORDER[pending]:
            pending = level
        when += rng.randint(60, 5400)
        name, email = rng.choice(PEOPLE)
        ident = f"{name} <{email}> {when} +0000".encode()
        chunk.append(b"commit refs/heads/main\nmark :%d\n" % (index + 2))
        chunk.append(b"author " + ident + b"\ncommitter " + ident + b"\n")
        chunk.append(_data(message.encode()))
        if index == 1:
            chunk.append(b"M 100644 :1 README.md\nM 100644 :2 pyproject.toml\n")
        chunk.append(b"\n")
        if next_tag < len(positions) and index == positions[next_tag]:
            version = (1, 0, 0) if version is None else _bump(version, pending)
            pending = "patch"
            tag = "v{}.{}.{}".format(*version)
            # Most releases are annotated (what `releasectl bump --git-tag` makes); some
            # older ones are lightweight, as in repositories that changed tools over time.
            lightweight = index != last_tag_at and rng.random() < 0.2
            if lightweight:
                chunk.append(b"reset refs/tags/%s\nfrom :%d\n\n" % (tag.encode(), index + 2))
            else:
                annotated += 1
                tagger = f"Release Bot <release@example.com> {when + 30} +0000".encode()
                chunk.append(b"tag %s\nfrom :%d\ntagger %s\n" % (tag.encode(), index + 2, tagger))
                chunk.append(_data(f"Release {tag}\n".encode()))
            tag_at[index] = (tag, lightweight)
            next_tag += 1
        if len(chunk) > 4096:
            out.write(b"".join(chunk))
            chunk.clear()
    out.write(b"".join(chunk))
    out.write(b"done\n")
    out.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=tmp, check=True)
    # A CI checkout is a clone, and a clone keeps its tags in packed-refs.
    subprocess.run(["git", "pack-refs", "--all"], cwd=tmp, check=True)

    assert version is not None
    last_tag = tag_at[last_tag_at][0]
    expected = _bump(version, pending)
    count = subprocess.run(
        ["git", "rev-list", "--count", f"{last_tag}..HEAD"],
        cwd=tmp,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if int(count) != tail:
        raise SystemExit(f"built repository has {count} commits after {last_tag}, expected {tail}")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return RepoInfo(
        path=str(dest),
        size=size,
        seed=seed,
        tail=tail,
        generator=GENERATOR_VERSION,
        last_tag=last_tag,
        last_tag_commit=_rev(dest, f"{last_tag}^{{commit}}"),
        head=_rev(dest, "HEAD"),
        tags=len(tag_at),
        annotated_tags=annotated,
        expected_next="{}.{}.{}".format(*expected),
        expected_bump=pending,
        build_seconds=round(time.perf_counter() - started, 2),
    )


def _rev(repo: Path, ref: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", ref], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def ensure_repo(
    size: int, *, seed: int = DEFAULT_SEED, tail: int = DEFAULT_TAIL, quiet: bool = False
) -> RepoInfo:
    """The cached repository of `size` commits, built first if missing or stale."""
    dest = WORK / f"repo-{size}"
    meta = WORK / f"repo-{size}.json"
    if meta.is_file() and dest.is_dir():
        info = RepoInfo(**json.loads(meta.read_text()))
        if (info.seed, info.tail, info.generator) == (seed, tail, GENERATOR_VERSION) and _rev(
            dest, "HEAD"
        ) == info.head:
            return info
    if not quiet:
        print(f"building {size:,}-commit repository in {dest} ...", file=sys.stderr)
    info = build(size, seed=seed, tail=tail, dest=dest)
    meta.write_text(json.dumps(asdict(info), indent=2) + "\n")
    if not quiet:
        print(
            f"  built in {info.build_seconds} s: last tag {info.last_tag}, HEAD {info.head[:12]}",
            file=sys.stderr,
        )
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "sizes", nargs="*", type=int, default=[30_000, 100_000], help="commits per repository"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--tail", type=int, default=DEFAULT_TAIL, help="commits after the last release tag")
    parser.add_argument("--force", action="store_true", help="rebuild even if a cached repository matches")
    args = parser.parse_args(argv)
    for size in args.sizes:
        if args.force:
            (WORK / f"repo-{size}.json").unlink(missing_ok=True)
        info = ensure_repo(size, seed=args.seed, tail=args.tail)
        print(json.dumps(asdict(info), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
