"""How fast `releasectl version --offline` answers, side by side with its floors and a peer.

For each synthetic repository (benchmarks/make_repo.py: 30,000 and 100,000 Conventional
Commits, the last release tag 2,000 commits before HEAD) this times, in one run:

    python -c pass                       the interpreter floor (releasectl's own venv)
    git log --format=%B <tag>..HEAD      the git floor: the one ranged log the answer needs
    releasectl version --offline         the command under test
    cz bump --get-next                   commitizen, the usual peer (its own venv)
    semantic-release --noop version --print
                                         python-semantic-release (optional, fewer runs: it is slow)

plus `releasectl --version` and `releasectl --help` (start-up only, timed in the first
repository). A third repository, built here with `git fast-import`, has many tags: a long
main with 450 release tags and HEAD on a maintenance branch cut from an old release, with
its own patch release; there the floors, releasectl and commitizen are timed the same way
(the version a tool must find is on the branch, and hundreds of newer releases are not).

Timing uses hyperfine when it is installed (in blocks of 3 runs, rotating
through the commands, so that a burst of other work on the shared machine is spread over
all of them), else an interleaved Python loop; either way the figures are medians, p90s
and minimums of wall-clock time per run. The growth from 30k to 100k commits is measured
separately, with both sizes interleaved run by run. Before timing,
every tool is run once to check that it succeeds and to compare the versions they
compute, and the git commands releasectl runs are counted through a logging shim.

    python benchmarks/versioning_speed.py                 # print the table
    python benchmarks/versioning_speed.py --write         # ...and record it in RESULTS.md

The machine is shared, so judge the ratios to the floors measured in the same run more
than the absolute figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    RESULTS,
    ROOT,
    WORK,
    cpu_model,
    git_head,
    has_uncommitted_changes,
    load_average,
    peer_venv,
    write_section,
)
from make_repo import (
    PEOPLE,
    PYPROJECT,
    README,
    START_EPOCH,
    RepoInfo,
    _bump,
    _data,
    _message,
    ensure_repo,
)

SECTION = "## Versioning and start-up speed"

# Peers are pinned so that a re-run measures the same code; bump deliberately.
COMMITIZEN = "commitizen==4.19.3"
SEMANTIC_RELEASE = "python-semantic-release==10.7.0"

TARGET_VERSION_MS = 70.0  # `releasectl version --offline`, median, 30k commits
TARGET_MANY_TAGS_RATIO = 0.4  # ... on the maintenance branch of the many-tags repository, x commitizen
TARGET_GROWTH = 1.10  # ... and at 100k no more than 10% slower than at 30k
TARGET_STARTUP_MS = 80.0  # `releasectl --version`
TARGET_HELP_MS = 200.0  # `releasectl --help`

SEMVER = re.compile(r"\b(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\b")


@dataclass
class Command:
    key: str  # stable id used in the tables
    label: str  # what a reader would type
    argv: list[str]
    cwd: Path
    runs: int
    warmup: int
    times: list[float] = field(default_factory=list)  # seconds

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def min_ms(self) -> float:
        return min(self.times) * 1000

    @property
    def p90_ms(self) -> float:
        if len(self.times) < 2:
            return self.times[0] * 1000
        return statistics.quantiles(self.times, n=10, method="inclusive")[8] * 1000


# ----------------------------------------------------------------------------- the many-tags repository

# Bump when the stream below changes, so the cached repository is rebuilt.
MANY_TAGS_GENERATOR = 1
MANY_TAGS_SEED = 20261207
MANY_TAGS_RELEASES = 450  # release tags on main
MANY_TAGS_GAP = (20, 100)  # commits between them
MANY_TAGS_FORK = 220  # the maintenance branch starts at this release (0-based): 229 newer ones on main
MANY_TAGS_FIXES = (20, 20)  # backported fixes before and after the branch's own patch release


@dataclass(frozen=True)
class ManyTags:
    info: RepoInfo
    main_commits: int
    fork_tag: str
    newer_releases: int
    branch: str


def ensure_many_tags_repo() -> ManyTags:
    """The many-tags repository, built with git fast-import once and then reused.

    main: MANY_TAGS_RELEASES annotated release tags, MANY_TAGS_GAP commits apart, versions
    following the commits (make_repo's generator of Conventional Commits). HEAD: branch
    `maint-X.Y`, cut from release MANY_TAGS_FORK, with backported `fix:` commits and its own
    patch release X.Y.(Z+1) between them, so the next version is X.Y.(Z+2), which main never
    released. Committed after all of main, as backports are.
    """
    dest = WORK / "repo-many-tags"
    meta = WORK / "repo-many-tags.json"
    if meta.is_file() and dest.is_dir():
        data = json.loads(meta.read_text())
        found = ManyTags(RepoInfo(**data.pop("info")), **data)
        if found.info.generator == MANY_TAGS_GENERATOR and found.info.seed == MANY_TAGS_SEED:
            return found
    print(f"building the many-tags repository in {dest} ...", file=sys.stderr)
    started = time.perf_counter()
    rng = random.Random(MANY_TAGS_SEED)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp)], check=True)
    importer = subprocess.Popen(["git", "fast-import", "--quiet", "--done"], cwd=tmp, stdin=subprocess.PIPE)
    assert importer.stdin is not None
    chunks = [b"blob\nmark :1\n" + _data(README.encode()), b"blob\nmark :2\n" + _data(PYPROJECT.encode())]
    mark, when, index = 2, START_EPOCH, 0

    def commit(ref: bytes, message: str, parent: int | None = None) -> int:
        nonlocal mark, when
        mark += 1
        when += rng.randint(60, 5400)
        name, email = rng.choice(PEOPLE)
        ident = f"{name} <{email}> {when} +0000".encode()
        chunks.append(b"commit %s\nmark :%d\nauthor %s\ncommitter %s\n" % (ref, mark, ident, ident))
        chunks.append(_data(message.encode()))
        if parent is not None:
            chunks.append(b"from :%d\n" % parent)
        if mark == 3:
            chunks.append(b"M 100644 :1 README.md\nM 100644 :2 pyproject.toml\n")
        chunks.append(b"\n")
        return mark

    def tag(name: str, target: int) -> None:
        tagger = f"Release Bot <release@example.com> {when + 30} +0000".encode()
        chunks.append(b"tag %s\nfrom :%d\ntagger %s\n" % (name.encode(), target, tagger))
        chunks.append(_data(f"Release {name}\n".encode()))

    releases: list[tuple[str, int]] = []
    version: tuple[int, int, int] | None = None
    order = {"patch": 0, "minor": 1, "major": 2}
    for _ in range(MANY_TAGS_RELEASES):
        pending = "patch"
        for _ in range(rng.randint(*MANY_TAGS_GAP)):
            index += 1
            message, level = _message(rng, index)
            pending = level if order[level] > order[pending] else pending
            last = commit(b"refs/heads/main", message)
        version = (1, 0, 0) if version is None else _bump(version, pending)
        name = "v{}.{}.{}".format(*version)
        tag(name, last)
        releases.append((name, last))
    main_commits = mark - 2
    fork_tag, fork_mark = releases[MANY_TAGS_FORK]
    major, minor, patch = (int(n) for n in fork_tag[1:].split("."))
    branch = f"maint-{major}.{minor}"
    ref = f"refs/heads/{branch}".encode()
    own, expected = f"v{major}.{minor}.{patch + 1}", f"{major}.{minor}.{patch + 2}"
    taken = {name for name, _ in releases}
    if own in taken or f"v{expected}" in taken:
        raise SystemExit(f"main already released {own} or v{expected}: pick another MANY_TAGS_SEED")
    parent, own_mark = fork_mark, 0
    for number in range(sum(MANY_TAGS_FIXES)):
        scope = rng.choice(["api", "deploy", "config", "logs"])
        message = f"fix({scope}): backport the fix for case {number} (#{20000 + number})\n"
        parent = commit(ref, message, parent)
        if number + 1 == MANY_TAGS_FIXES[0]:
            tag(own, parent)
            own_mark = parent
    importer.stdin.write(b"".join(chunks) + b"done\n")
    importer.stdin.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "checkout", "-q", branch], cwd=tmp, check=True)
    subprocess.run(["git", "pack-refs", "--all"], cwd=tmp, check=True)
    assert own_mark
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)

    def rev(spec: str) -> str:
        return _out(["git", "rev-parse", spec], cwd=dest)

    info = RepoInfo(
        path=str(dest),
        size=mark - 2,
        seed=MANY_TAGS_SEED,
        tail=MANY_TAGS_FIXES[1],
        generator=MANY_TAGS_GENERATOR,
        last_tag=own,
        last_tag_commit=rev(f"{own}^{{commit}}"),
        head=rev("HEAD"),
        tags=len(releases) + 1,
        annotated_tags=len(releases) + 1,
        expected_next=expected,
        expected_bump="patch",
        build_seconds=round(time.perf_counter() - started, 2),
    )
    found = ManyTags(info, main_commits, fork_tag, len(releases) - MANY_TAGS_FORK - 1, branch)
    meta.write_text(json.dumps({**asdict(found), "info": asdict(info)}, indent=2) + "\n")
    print(f"  built in {info.build_seconds} s: HEAD {branch} {info.head[:12]}", file=sys.stderr)
    return found


# ----------------------------------------------------------------------------- environment


def bench_env() -> dict[str, str]:
    """The caller's environment minus what would distort the figures."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELEASECTL_")}
    # Without bytecode caches every run would recompile releasectl and its dependencies.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env["PAGER"] = "cat"
    env["GIT_PAGER"] = "cat"
    return env


def psr_checkout(info: RepoInfo) -> Path:
    """A local clone of the repository for python-semantic-release.

    It insists on an `origin` remote even with --noop and --print; a clone with a
    github-shaped URL satisfies it, and keeps the repository the other tools read
    free of remotes. Nothing is fetched or pushed.
    """
    dest = WORK / f"psr-{info.size}"
    stamp = dest / ".git" / "bench-head"
    if stamp.is_file() and stamp.read_text().strip() == info.head:
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", info.path, str(dest)], check=True)
    subprocess.run(
        ["git", "remote", "set-url", "origin", "https://github.com/example/synthetic-service.git"],
        cwd=dest,
        check=True,
    )
    stamp.write_text(info.head + "\n")
    return dest


def machine() -> dict[str, str]:
    return {
        "cpus": str(len(os.sched_getaffinity(0))),
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "load": load_average(),
    }


def source_state() -> str:
    """Which releasectl code was measured: the commit, and whether releasectl/ differed from it."""
    changed = has_uncommitted_changes("releasectl")
    return f"commit {git_head()}" + (" with uncommitted changes in releasectl/" if changed else "")


def wait_for_quiet(max_load: float, max_wait: float) -> str:
    """Wait (up to max_wait seconds) for the 1-minute load average to fall to max_load; say what happened."""
    deadline = time.monotonic() + max_wait
    load = os.getloadavg()[0]
    if load > max_load:
        print(f"load average {load:.2f} > {max_load}; waiting up to {max_wait:.0f} s ...", file=sys.stderr)
    while load > max_load and time.monotonic() < deadline:
        time.sleep(10)
        load = os.getloadavg()[0]
    if load > max_load:
        return f"started at load {load:.2f} after waiting {max_wait:.0f} s for {max_load}"
    return f"started at load {load:.2f} (≤ {max_load})"


def _out(argv: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=bench_env())
    return (done.stdout or done.stderr).strip()


# ----------------------------------------------------------------------------- correctness checks


@dataclass
class Answer:
    tool: str
    ok: bool
    next: str | None
    detail: str


def check_answers(
    info: RepoInfo, releasectl: Path, cz: Path | None, psr: Path | None, psr_repo: Path | None
) -> list[Answer]:
    """Run each tool once, untimed: does it succeed, and which next version does it compute?"""
    env = bench_env()
    answers = [
        Answer(
            "model (docs/design.md §4 rules, from the generator)",
            True,
            info.expected_next,
            f"bump {info.expected_bump}",
        )
    ]

    done = subprocess.run(
        [str(releasectl), "--json", "version", "--offline"],
        cwd=info.path,
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode == 0:
        try:
            data = json.loads(done.stdout)
            detail = (
                f"current {data.get('current')}, bump {data.get('bump')}, commits {data.get('commits')}, "
                f"{len(data.get('reasons') or [])} reasons"
            )
            answers.append(Answer("releasectl version --offline --json", True, data.get("next"), detail))
        except json.JSONDecodeError:
            answers.append(Answer("releasectl version --offline --json", False, None, "stdout is not JSON"))
    else:
        answers.append(
            Answer(
                "releasectl version --offline",
                False,
                None,
                f"exit {done.returncode}: {done.stderr.strip()[:300]}",
            )
        )

    if cz is not None:
        done = subprocess.run(
            [str(cz), "bump", "--get-next"], cwd=info.path, capture_output=True, text=True, env=env
        )
        found = SEMVER.search(done.stdout)
        current = _out([str(cz), "version", "--project"], cwd=Path(info.path))
        answers.append(
            Answer(
                "cz bump --get-next",
                done.returncode == 0 and found is not None,
                found.group(1) if found else None,
                f"current {current}"
                if done.returncode == 0
                else f"exit {done.returncode}: {done.stdout.strip()[:200]}",
            )
        )
    if psr is not None and psr_repo is not None:
        done = subprocess.run(
            [str(psr), "--noop", "version", "--print"], cwd=psr_repo, capture_output=True, text=True, env=env
        )
        found = SEMVER.search(done.stdout)
        answers.append(
            Answer(
                "semantic-release --noop version --print",
                done.returncode == 0 and found is not None,
                found.group(1) if found else None,
                "" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip()[-200:]}",
            )
        )
    return answers


def count_git_calls(info: RepoInfo, argv: list[str]) -> list[str]:
    """The git command lines a tool runs, through a `git` shim first on PATH."""
    real = shutil.which("git")
    assert real is not None
    with tempfile.TemporaryDirectory() as shim_dir:
        log = Path(shim_dir) / "calls.log"
        shim = Path(shim_dir) / "git"
        shim.write_text(
            f'#!/bin/sh\nprintf "%s\\n" "$*" >> {shlex.quote(str(log))}\nexec {shlex.quote(real)} "$@"\n'
        )
        shim.chmod(0o755)
        env = bench_env()
        env["PATH"] = f"{shim_dir}{os.pathsep}{env.get('PATH', '')}"
        subprocess.run(argv, cwd=info.path, env=env, capture_output=True)
        return log.read_text().splitlines() if log.exists() else []


# ----------------------------------------------------------------------------- timing


def _hyperfine(hyperfine: str, command: Command, runs: int, warmup: int) -> list[float]:
    with tempfile.NamedTemporaryFile(suffix=".json") as export:
        argv = [hyperfine, "-N", "--style", "none", "--warmup", str(warmup), "--runs", str(runs)]
        argv += ["--export-json", export.name, "--command-name", command.label, shlex.join(command.argv)]
        done = subprocess.run(argv, cwd=command.cwd, env=bench_env(), capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"hyperfine failed on {command.label}:\n{done.stderr.strip()}")
        return list(json.loads(Path(export.name).read_text())["results"][0]["times"])


def time_with_hyperfine(commands: list[Command], hyperfine: str, block: int = 3) -> None:
    """hyperfine in short blocks of runs, command after command, round after round.

    One hyperfine call per command would time all of its runs within a second or two, so a
    burst of other work on the shared machine would land on one command and skew its ratio
    to the floors; rotating through the commands in blocks spreads such bursts over all of them.
    """
    number = 0
    while any(len(c.times) < c.runs for c in commands):
        for command in commands if number % 2 == 0 else commands[::-1]:
            wanted = min(block, command.runs - len(command.times))
            if wanted > 0:
                command.times += _hyperfine(hyperfine, command, wanted, command.warmup if number == 0 else 0)
        number += 1


def _time_once(command: Command, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        command.argv, cwd=command.cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{command.label} exited {done.returncode} during timing")
    return elapsed


def time_with_python(commands: list[Command]) -> None:
    """Interleaved rounds (every command once per round), so drift on a shared machine hits all alike."""
    env = bench_env()
    rounds = max(c.warmup + c.runs for c in commands)
    for number in range(rounds):
        # Alternate the order so no command always runs right after the same neighbour.
        for command in commands if number % 2 == 0 else commands[::-1]:
            if number < command.warmup:
                _time_once(command, env)
            elif number < command.warmup + command.runs:
                command.times.append(_time_once(command, env))


@dataclass
class Growth:
    """`releasectl version --offline` and the git floor on two repository sizes, measured interleaved.

    The per-size tables come from separate timing runs, minutes apart on a shared machine;
    the growth target compares two sizes, so it gets its own paired measurement.
    """

    small: RepoInfo
    large: RepoInfo
    commands: dict[str, Command]

    def ratio(self, kind: str) -> float:
        return self.commands[f"{kind}-large"].median_ms / self.commands[f"{kind}-small"].median_ms

    def paired_ratio(self, kind: str) -> float:
        pairs = zip(self.commands[f"{kind}-large"].times, self.commands[f"{kind}-small"].times, strict=True)
        return statistics.median(big / small for big, small in pairs)


def measure_growth(small: RepoInfo, large: RepoInfo, releasectl: Path, runs: int, warmup: int) -> Growth:
    commands = {}
    for name, info in (("small", small), ("large", large)):
        repo = Path(info.path)
        commands[f"releasectl-{name}"] = Command(
            f"releasectl-{name}",
            f"releasectl version --offline ({info.size:,})",
            [str(releasectl), "version", "--offline"],
            repo,
            runs,
            warmup,
        )
        commands[f"gitlog-{name}"] = Command(
            f"gitlog-{name}",
            f"git log --format=%B {info.last_tag}..HEAD ({info.size:,})",
            ["git", "log", "--format=%B", f"{info.last_tag}..HEAD"],
            repo,
            runs,
            warmup,
        )
    time_with_python(list(commands.values()))
    return Growth(small, large, commands)


# ----------------------------------------------------------------------------- report


@dataclass
class SizeResult:
    info: RepoInfo
    commands: dict[str, Command]
    answers: list[Answer]
    git_calls: list[str]
    many_tags: ManyTags | None = None  # the maintenance-branch case, not a history size

    @property
    def title(self) -> str:
        if self.many_tags is None:
            return f"{self.info.size:,} commits"
        return f"Many tags: a maintenance branch under {self.many_tags.newer_releases} newer releases"

    def describe(self) -> str:
        info, many = self.info, self.many_tags
        if many is None:
            return (
                f"Last release tag `{info.last_tag}` ({info.tail:,} commits before HEAD `{info.head[:12]}`), "
                f"{info.tags} release tags ({info.annotated_tags} annotated)."
            )
        return (
            f"Built here with `git fast-import` (`ensure_many_tags_repo`): {many.main_commits:,} commits on "
            f"main with {info.tags - 1} annotated release tags; HEAD `{info.head[:12]}` is branch "
            f"`{many.branch}`, cut from `{many.fork_tag}` ({many.newer_releases} releases on main are "
            "newer), "
            f"with {info.tail * 2} backported fixes and its own release `{info.last_tag}` "
            f"{info.tail} commits before HEAD."
        )


def table(result: SizeResult) -> list[str]:
    floor_py = result.commands["python"].median_ms
    floor_git = result.commands["gitlog"].median_ms
    lines = [
        "| command | median ms | p90 ms | min ms | runs | x `python -c pass` | x `git log` floor |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for command in result.commands.values():
        ratios = f" {command.median_ms / floor_py:.2f} | {command.median_ms / floor_git:.2f} |"
        lines.append(_timing_cells(command) + ratios)
    return lines


def _timing_cells(command: Command) -> str:
    """A table row's first cells: command, median, p90, minimum, runs."""
    return (
        f"| `{command.label}` | {command.median_ms:.1f} | {command.p90_ms:.1f} | {command.min_ms:.1f} "
        f"| {len(command.times)} |"
    )


def close_calls(results: list[SizeResult], growth: Growth | None) -> list[str]:
    """The targets whose figure lies near the limit: 10% of it for times, 5 points for the growth."""
    close = []
    many = next((r for r in results if r.many_tags is not None), None)
    ratio = many_tags_ratio(many) if many is not None else None
    if ratio is not None and abs(ratio - TARGET_MANY_TAGS_RATIO) <= 0.1 * TARGET_MANY_TAGS_RATIO:
        close.append("the many-tags ratio")
    results = [r for r in results if r.many_tags is None]
    if not results:
        return close
    checks: list[tuple[str, float | None, float]] = [
        ("`releasectl version --offline` at 30k", _median(results[0], "releasectl"), TARGET_VERSION_MS),
        ("`releasectl --version`", _median(results[0], "startup"), TARGET_STARTUP_MS),
        ("`releasectl --help`", _median(results[0], "help"), TARGET_HELP_MS),
    ]
    for name, value, limit in checks:
        if value is not None and abs(value - limit) <= 0.1 * limit:
            close.append(name)
    if growth is not None and abs(growth.ratio("releasectl") - TARGET_GROWTH) <= 0.05:
        close.append("the growth to 100k")
    return close


def _median(result: SizeResult, key: str) -> float | None:
    command = result.commands.get(key)
    return command.median_ms if command else None


def _percent(fraction: float) -> str:
    return f"{fraction * 100:+.1f}%"


def _against(value: float, limit: float) -> str:
    """The figure and how far it is from its limit, e.g. "125.8 ms (5.8 ms, +4.8% over)"."""
    side = "over" if value > limit else "under"
    return f"{value:.1f} ms ({abs(value - limit):.1f} ms {side}, {_percent(value / limit - 1)})"


def many_tags_ratio(result: SizeResult) -> float | None:
    """releasectl's median over commitizen's, on the maintenance branch of the many-tags repository."""
    ours, theirs = result.commands.get("releasectl"), result.commands.get("cz")
    return ours.median_ms / theirs.median_ms if ours and theirs else None


def verdicts(results: list[SizeResult], growth: Growth | None) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met?) — None when it could not be measured."""
    rows: list[tuple[str, str, bool | None]] = []
    many = next((r for r in results if r.many_tags is not None), None)
    if many is not None:
        label = (
            f"many tags: `releasectl version --offline` ≤ {TARGET_MANY_TAGS_RATIO}x "
            "`cz bump --get-next` (median)"
        )
        ratio = many_tags_ratio(many)
        if ratio is None:
            rows.append((label, "did not run", None))
        else:
            ours, theirs = many.commands["releasectl"].median_ms, many.commands["cz"].median_ms
            rows.append(
                (label, f"{ratio:.2f}x ({ours:.1f} ms vs {theirs:.1f} ms)", ratio <= TARGET_MANY_TAGS_RATIO)
            )
    results = [r for r in results if r.many_tags is None]
    if not results:
        return rows
    first = results[0].commands
    small = next((r for r in results if r.info.size == 30_000), results[0])
    large = next((r for r in results if r.info.size == 100_000), None)
    version_small = small.commands.get("releasectl")
    if version_small is None:
        rows.append(
            (
                f"`releasectl version --offline` ≤ {TARGET_VERSION_MS:.0f} ms median at 30k",
                "did not run",
                None,
            )
        )
    else:
        value = version_small.median_ms
        rows.append(
            (
                f"`releasectl version --offline` ≤ {TARGET_VERSION_MS:.0f} ms median at {small.info.size:,}",
                _against(value, TARGET_VERSION_MS),
                value <= TARGET_VERSION_MS,
            )
        )
        if growth is not None:
            ratio = growth.ratio("releasectl")
            rows.append(
                (
                    f"at {growth.large.size:,} no more than {TARGET_GROWTH - 1:.0%} slower "
                    f"than at {growth.small.size:,} (interleaved runs)",
                    f"{ratio:.3f}x, {_percent(ratio - 1)} slower "
                    f"({growth.commands['releasectl-small'].median_ms:.1f} → "
                    f"{growth.commands['releasectl-large'].median_ms:.1f} ms; "
                    f"paired {growth.paired_ratio('releasectl'):.3f}x)",
                    ratio <= TARGET_GROWTH,
                )
            )
        elif large is not None and "releasectl" in large.commands:
            ratio = large.commands["releasectl"].median_ms / value
            rows.append(
                (
                    f"at {large.info.size:,} no more than {TARGET_GROWTH - 1:.0%} slower "
                    f"than at {small.info.size:,}",
                    f"{ratio:.3f}x, {_percent(ratio - 1)} slower "
                    f"({large.commands['releasectl'].median_ms:.1f} ms)",
                    ratio <= TARGET_GROWTH,
                )
            )
    for key, limit, label in (
        ("startup", TARGET_STARTUP_MS, "`releasectl --version`"),
        ("help", TARGET_HELP_MS, "`releasectl --help`"),
    ):
        if key in first:
            value = first[key].median_ms
            rows.append((f"{label} ≤ {limit:.0f} ms median", _against(value, limit), value <= limit))
    return rows


def growth_table(growth: Growth) -> list[str]:
    lines = [
        "| command | median ms | p90 ms | min ms | runs |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [_timing_cells(command) for command in growth.commands.values()]
    lines += [
        "",
        f"{growth.large.size:,} vs {growth.small.size:,} commits: "
        f"releasectl {growth.ratio('releasectl'):.3f}x "
        f"(median of per-round ratios {growth.paired_ratio('releasectl'):.3f}x), "
        f"git log floor {growth.ratio('gitlog'):.3f}x.",
    ]
    return lines


def render(
    results: list[SizeResult],
    growth: Growth | None,
    profile: ImportProfile | None,
    meta: dict[str, str],
    command_line: str,
) -> str:
    out = [
        SECTION,
        "",
        f"Command: `{command_line}` (from the repository root). Repositories from "
        "`benchmarks/make_repo.py`: seeded `git fast-import`, linear history, release tags every "
        "80-400 commits, the last one 2,000 commits before HEAD; and a many-tags repository with HEAD "
        "on a maintenance branch (below).",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: {meta['cpus']} CPUs, {meta['cpu']}, Linux {meta['kernel']}; "
        "**shared with other work while measuring** "
        f"(load average at start {meta['load_start']}, at end {meta['load_end']}), "
        "so read the ratios to the floors measured in the same run rather than the absolute figures.",
        f"- Python {meta['python']}; {meta['git']}; timing by {meta['runner']}.",
        f"- Tools: releasectl {meta['releasectl']} ({meta['source']}; typer {meta['typer']}), "
        f"{meta['cz']}, {meta['psr']}.",
        "- Figures are wall-clock milliseconds per run: median, p90 and minimum over the runs shown, "
        "after warm-up runs.",
        "",
    ]
    for result in results:
        out += [f"### {result.title}", "", result.describe(), "", *table(result), ""]
        if "releasectl" in result.commands and "cz" in result.commands:
            ours = result.commands["releasectl"].median_ms
            floors = result.commands["python"].median_ms + result.commands["gitlog"].median_ms
            out.append(
                f"releasectl answers {result.commands['cz'].median_ms / ours:.1f}x faster than commitizen"
                + (
                    f" and {result.commands['psr'].median_ms / ours:.1f}x faster than python-semantic-release"
                    if "psr" in result.commands
                    else ""
                )
                + f"; it spends {ours - floors:.1f} ms above the sum of the two floors."
                + (
                    f" Its median is {many_tags_ratio(result):.2f}x commitizen's "
                    f"(target ≤ {TARGET_MANY_TAGS_RATIO})."
                    if result.many_tags is not None
                    else ""
                )
            )
            out.append("")
        out += ["Next version computed by each tool (each run once, untimed):", ""]
        out += ["| tool | next | detail |", "|---|---|---|"]
        for answer in result.answers:
            shown = answer.next if answer.ok else "failed"
            out.append(f"| {answer.tool} | {shown} | {answer.detail} |")
        out.append("")
        out.append(agreement(result))
        out.append("")
        if result.git_calls:
            out.append(f"git commands run by `releasectl version --offline` ({len(result.git_calls)}):")
            out.append("")
            out += [f"- `git {call}`" for call in result.git_calls]
            out.append("")
    out += [RULE_DIFFERENCES, ""]
    if growth is not None:
        out += [
            "### Growth with history size (interleaved)",
            "",
            "The same commands on both repositories, alternating run by run, so that load changes on the "
            "shared machine hit both sizes alike.",
            "",
            *growth_table(growth),
            "",
        ]
    if profile is not None:
        out += [
            "### Where start-up goes",
            "",
            "`python -X importtime` on `releasectl version --offline` (30,000 commits), median of 5 runs; "
            "importtime inflates the figures, so compare them with each other, not with the timings above.",
            "",
            *profile_lines(profile),
            "",
        ]
    out += ["### Targets", "", "| target | measured | met |", "|---|---|---|"]
    for target, measured, met in verdicts(results, growth):
        out.append(f"| {target} | {measured} | {'yes' if met else 'n/a' if met is None else '**no**'} |")
    out.append("")
    close = close_calls(results, growth)
    if close:
        out += [
            f"Near the limit (within 10% of it, or 5 points for the growth): {', '.join(close)}. "
            "Run-to-run variation on this shared machine is larger than that margin, "
            "so a single run does not settle these; compare the ratios "
            "to the floors across runs.",
            "",
        ]
    return "\n".join(out)


RULE_DIFFERENCES = (
    "Where the rules differ (none of it changes these answers, because each window holds ordinary `feat:` "
    "commits, and the 100,000-commit one a breaking change, which outrank the differences): commitizen "
    f"({COMMITIZEN}, `cz_conventional_commits`) matches types case-sensitively, so a `Feat:` subject "
    "(about 1% of the generated commits) is no bump for it and a minor for releasectl, which follows the "
    "spec's case-insensitive types; it tests every line of a message against `type(scope)!:`, so a "
    "`docs:` commit with a body line starting `feat:` would be a minor for it and a patch for "
    "releasectl; and it gives `chore`, `docs`, `test`, `ci`, `style` and `build` no bump, where "
    'releasectl ships a patch (docs/design.md §4, `other_commits = "patch"`).'
)


def agreement(result: SizeResult) -> str:
    answers = [a for a in result.answers if a.ok and a.next]
    failed = [a.tool for a in result.answers if not a.ok]
    values = {a.next for a in answers}
    text = "All tools agree." if len(values) == 1 and not failed else ""
    if len(values) > 1:
        text = "**The tools disagree**: " + ", ".join(f"{a.tool} → {a.next}" for a in answers) + "."
    if failed:
        text += f" Did not answer: {', '.join(failed)}."
    return text.strip()


# ----------------------------------------------------------------------------- main


@dataclass
class ImportProfile:
    """What `releasectl version --offline` imports, from `python -X importtime` (medians of a few runs).

    -X importtime inflates every figure somewhat; it is for finding where start-up goes,
    not for comparing against the timings above.
    """

    top_level: list[tuple[str, float]]  # (module, cumulative ms), imported directly, costliest first
    cumulative: dict[str, float]  # every module's cumulative ms
    modules: int
    total_ms: float  # sum of self times
    heavy: list[str]  # packages that must stay off this path and did not


HEAVY = ("boto3", "botocore", "rich", "pydantic", "moto", "yaml")


def import_profile(releasectl: Path, cwd: str, runs: int = 5) -> ImportProfile:
    python = _script_python(releasectl)
    samples: list[dict[str, tuple[float, float, int]]] = []
    for _ in range(runs):
        done = subprocess.run(
            [python, "-X", "importtime", str(releasectl), "version", "--offline"],
            cwd=cwd,
            capture_output=True,
            text=True,
            env=bench_env(),
        )
        sample: dict[str, tuple[float, float, int]] = {}
        for line in done.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
            if match:
                level = (len(match.group(3)) - 1) // 2
                sample[match.group(4)] = (int(match.group(1)) / 1000, int(match.group(2)) / 1000, level)
        samples.append(sample)
    names: set[str] = set().union(*samples)
    cumulative = {n: statistics.median(s[n][1] for s in samples if n in s) for n in names}
    own = {n: statistics.median(s[n][0] for s in samples if n in s) for n in names}
    depth = {n: next(s[n][2] for s in samples if n in s) for n in names}
    top = sorted(((n, cumulative[n]) for n in names if depth[n] == 0), key=lambda x: -x[1])
    heavy = sorted({n.split(".")[0] for n in names if n.split(".")[0] in HEAVY})
    return ImportProfile(top, cumulative, len(names), sum(own.values()), heavy)


def profile_lines(profile: ImportProfile, limit: int = 8) -> list[str]:
    lines = [
        "| module (imported by the command itself) | cumulative import ms |",
        "|---|---:|",
    ]
    lines += [f"| `{name}` | {ms:.1f} |" for name, ms in profile.top_level[:limit]]
    inner = [
        n
        for n in ("typer", "click", "semver", "releasectl.adapters.git", "releasectl.cli.render")
        if n in profile.cumulative
    ]
    lines += [
        "",
        f"{profile.modules} modules, {profile.total_ms:.1f} ms of import work in all"
        + (
            "; inside those: " + ", ".join(f"`{n}` {profile.cumulative[n]:.1f} ms" for n in inner)
            if inner
            else ""
        )
        + ". "
        + (
            f"**Imported although it should not be: {', '.join(profile.heavy)}.**"
            if profile.heavy
            else f"None of {', '.join(HEAVY)} is imported."
        ),
    ]
    return lines


def _script_python(script: Path) -> str:
    first = script.read_text(errors="replace").splitlines()[0]
    return first[2:].strip() if first.startswith("#!") else sys.executable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="30000,100000", help="comma-separated commit counts (default %(default)s)"
    )
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default %(default)s)")
    parser.add_argument("--psr-runs", type=int, default=5, help="timed runs of python-semantic-release")
    parser.add_argument("--no-cz", action="store_true", help="skip commitizen")
    parser.add_argument("--no-psr", action="store_true", help="skip python-semantic-release")
    parser.add_argument(
        "--no-many-tags", action="store_true", help="skip the maintenance branch of the many-tags repository"
    )
    parser.add_argument("--runner", choices=["auto", "hyperfine", "python"], default="auto")
    parser.add_argument(
        "--releasectl", type=Path, default=ROOT / ".venv" / "bin" / "releasectl", help="releasectl executable"
    )
    parser.add_argument(
        "--max-load",
        type=float,
        default=1.5,
        help="wait for the 1-minute load average to fall to this before timing (default %(default)s)",
    )
    parser.add_argument(
        "--max-wait",
        type=float,
        default=300,
        help="give up waiting after this many seconds (default %(default)s)",
    )
    parser.add_argument("--importtime", action="store_true", help="print more of the import profile")
    parser.add_argument(
        "--write", action="store_true", help=f"record the results in {RESULTS.relative_to(ROOT)}"
    )
    args = parser.parse_args(argv)
    if args.runs < 10:
        parser.error("--runs must be at least 10 (medians of fewer are too noisy on a shared machine)")

    releasectl = args.releasectl.resolve()
    python = _script_python(releasectl)
    hyperfine = shutil.which("hyperfine") if args.runner != "python" else None
    if args.runner == "hyperfine" and hyperfine is None:
        parser.error("hyperfine is not installed (apt-get install hyperfine), use --runner python")
    runner = (
        f"hyperfine {_out([hyperfine, '--version']).split()[-1]} (-N; {args.warmup} warm-up runs, then "
        "blocks of 3 runs per command in rotating order)"
        if hyperfine
        else f"an interleaved Python loop ({args.warmup} warm-up rounds)"
    )

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    infos = [ensure_repo(size) for size in sizes]
    many = None if args.no_many_tags else ensure_many_tags_repo()
    cz = None if args.no_cz else peer_venv("cz-venv", COMMITIZEN, "cz")
    psr = None if args.no_psr else peer_venv("psr-venv", SEMANTIC_RELEASE, "semantic-release")

    # Every tool's answer is checked first (python-semantic-release takes seconds of CPU a run), so
    # that the timing starts on a machine that has settled after them.
    cases: list[tuple[RepoInfo, ManyTags | None]] = [(info, None) for info in infos]
    if many is not None:
        cases.append((many.info, many))
    prepared = []
    for info, many_case in cases:
        # python-semantic-release needs a clone with a remote and minutes per run: the sizes only.
        psr_repo = psr_checkout(info) if psr and many_case is None else None
        answers = check_answers(info, releasectl, cz, psr if psr_repo else None, psr_repo)
        prepared.append((info, many_case, psr_repo, answers))

    waited = wait_for_quiet(args.max_load, args.max_wait)
    meta = machine()
    meta["load_start"] = meta.pop("load") + f"; {waited}"
    meta["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta["python"] = _out([python, "-c", "import sys; print(sys.version.split()[0])"])
    meta["git"] = _out(["git", "--version"])
    meta["runner"] = runner
    meta["releasectl"] = _out([str(releasectl), "--version"]).split()[-1]
    meta["source"] = source_state()
    meta["typer"] = _out([python, "-c", "import importlib.metadata as m; print(m.version('typer'))"])
    meta["cz"] = f"commitizen {_out([str(cz), 'version'])}" if cz else "commitizen skipped"
    meta["psr"] = (
        f"python-semantic-release {_out([str(psr), '--version']).split()[-1]}"
        if psr
        else "python-semantic-release skipped"
    )

    results: list[SizeResult] = []
    for position, (info, many_case, psr_repo, answers) in enumerate(prepared):
        repo = Path(info.path)
        name = "many tags" if many_case else f"{info.size:,}"
        for answer in answers:
            print(f"[{name}] {answer.tool}: {answer.next if answer.ok else 'FAILED'}  {answer.detail}")
        works = {a.tool.split()[0]: a.ok for a in answers}

        def cmd(
            key: str,
            argv: list[str],
            label: str | None = None,
            *,
            cwd: Path = repo,
            runs: int = args.runs,
            warmup: int = args.warmup,
        ) -> Command:
            shown = label or " ".join([Path(argv[0]).name, *argv[1:]])
            return Command(key, shown, argv, cwd, runs, warmup)

        commands = [
            cmd("python", [python, "-c", "pass"], "python -c pass"),
            cmd("gitlog", ["git", "log", "--format=%B", f"{info.last_tag}..HEAD"]),
        ]
        if works.get("releasectl"):
            commands.append(cmd("releasectl", [str(releasectl), "version", "--offline"]))
        if position == 0:
            commands.append(cmd("startup", [str(releasectl), "--version"]))
            commands.append(cmd("help", [str(releasectl), "--help"]))
        if cz is not None and works.get("cz"):
            commands.append(cmd("cz", [str(cz), "bump", "--get-next"]))
        if psr is not None and psr_repo is not None and works.get("semantic-release"):
            commands.append(
                cmd(
                    "psr",
                    [str(psr), "--noop", "version", "--print"],
                    cwd=psr_repo,
                    runs=args.psr_runs,
                    warmup=1,
                )
            )
        print(f"[{name}] timing {len(commands)} commands ...", file=sys.stderr)
        if hyperfine:
            time_with_hyperfine(commands, hyperfine)
        else:
            time_with_python(commands)
        git_calls = (
            count_git_calls(info, [str(releasectl), "version", "--offline"])
            if works.get("releasectl")
            else []
        )
        result = SizeResult(info, {c.key: c for c in commands}, answers, git_calls, many_case)
        results.append(result)
        print()
        print(f"{result.title}: {result.describe()}")
        print("\n".join(table(result)))
        print(agreement(result))
        if git_calls:
            print(
                f"releasectl ran {len(git_calls)} git command(s): " + "; ".join(f"git {c}" for c in git_calls)
            )
        print()

    growth = None
    measured = [r.info for r in results if "releasectl" in r.commands and r.many_tags is None]
    if len(measured) >= 2:
        small, large = min(measured, key=lambda i: i.size), max(measured, key=lambda i: i.size)
        print(f"growth: interleaving {small.size:,} and {large.size:,} ...", file=sys.stderr)
        growth = measure_growth(small, large, releasectl, runs=2 * args.runs, warmup=args.warmup)
        print("\n".join(growth_table(growth)))
        print()

    meta["load_end"] = load_average()
    print("Targets:")
    for target, measured_as, met in verdicts(results, growth):
        print(f"  {'MET ' if met else 'n/a ' if met is None else 'MISS'}  {target}: {measured_as}")
    profile = None
    if any("releasectl" in r.commands for r in results):
        profile = import_profile(releasectl, cases[0][0].path)
        print()
        print("Imports of `releasectl version --offline` (python -X importtime, median of 5 runs):")
        print("\n".join(profile_lines(profile, limit=20 if args.importtime else 8)))

    if args.write:
        command_line = shlex.join(["python", "benchmarks/versioning_speed.py", *(argv or sys.argv[1:])])
        write_section(SECTION, render(results, growth, profile, meta, command_line))
        print(f"\nwrote the '{SECTION[3:]}' section of {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
