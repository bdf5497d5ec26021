"""`releasectl demo`: a narrated, checked walk-through of the versioning engine.

Everything is real: a scratch git repository in a temporary directory (never the user's),
real commits, and the real `releasectl` CLI run in a subprocess for every step, whose JSON
answer is checked against what the rules say. The demo exits 0 only if every step behaved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from releasectl.context import Context
from releasectl.render import write_json

# The scratch repository gets an identity and config of its own, so the demo neither needs
# nor reads the user's git setup.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "releasectl demo",
    "GIT_AUTHOR_EMAIL": "demo@releasectl.invalid",
    "GIT_COMMITTER_NAME": "releasectl demo",
    "GIT_COMMITTER_EMAIL": "demo@releasectl.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
# Variables that would change the answers (CI=true makes an untagged clone fail closed).
_DROPPED_PREFIXES = ("GIT_", "RELEASECTL_", "CODEBUILD_")
_DROPPED = {"CI"}


class Scratch:
    """The scratch repository and the environment every process in the demo runs with."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = root / "repo"
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES) and k not in _DROPPED
        }
        env.update(_GIT_ENV)
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        self.env = env
        self._counter = 0

    def git(self, *args: str, cwd: Path | None = None) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=cwd or self.repo, env=self.env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def init(self) -> None:
        self.repo.mkdir(parents=True)
        self.git("-c", "init.defaultBranch=main", "init", "-q")
        (self.repo / "pyproject.toml").write_text('[project]\nname = "demo-service"\n\n[tool.releasectl]\n')
        self.git("add", "pyproject.toml")

    def commit(self, message: str) -> str:
        self._counter += 1
        with (self.repo / "CHANGES.txt").open("a") as handle:
            handle.write(f"{self._counter}: {message.splitlines()[0]}\n")
        self.git("add", "CHANGES.txt")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def shallow_clone(self) -> Path:
        target = self.root / "shallow-clone"
        if not target.exists():
            self.git("clone", "-q", "--depth", "1", f"file://{self.repo}", str(target), cwd=self.root)
        return target

    def releasectl(self, *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
        proc = subprocess.run(
            [sys.executable, "-m", "releasectl", *args],
            cwd=cwd or self.repo,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return proc.returncode, proc.stdout, proc.stderr


class Step(NamedTuple):
    title: str
    commits: tuple[str, ...]  # made before the command runs
    args: tuple[str, ...]  # releasectl arguments (--json is added)
    code: int  # expected exit code
    expect: Mapping[str, Any]  # expected fields of the JSON answer
    in_shallow_clone: bool = False
    message_contains: str = ""


class StepResult(NamedTuple):
    step: Step
    ok: bool
    code: int
    answer: dict[str, Any]
    problems: tuple[str, ...]


def walkthrough() -> list[Step]:
    """The story: first release, patch, minor, 0.x breaking, release candidates, Release-As, re-run."""
    tag = ("bump", "--git-tag", "--offline")
    return [
        Step(
            "A new project with one commit and no tags: the first release is 0.1.0",
            ("chore: initial commit",),
            ("version", "--offline"),
            0,
            {"current": None, "next": "0.1.0", "bump": "initial"},
        ),
        Step("Tag it (annotated git tag v0.1.0)", (), tag, 0, {"version": "0.1.0", "outcome": "succeeded"}),
        Step(
            "A fix is a patch, and `docs:` with `feat:` in its body is no feature",
            ("fix: close sockets on shutdown", "docs: explain endpoints\n\nfeat: mentioned in prose only"),
            tag,
            0,
            {"version": "0.1.1", "bump": "patch"},
        ),
        Step(
            "A feature is a minor bump",
            ("feat: add /version endpoint",),
            tag,
            0,
            {"version": "0.2.0", "bump": "minor"},
        ),
        Step(
            "A breaking change on 0.x is a minor bump (major_on_zero = false)",
            ("feat!: rename the configuration keys",),
            tag,
            0,
            {"version": "0.3.0", "bump": "minor"},
        ),
        Step(
            "Release candidates: --pre rc gives -rc.1 ...",
            ("feat: add readiness probe",),
            ("bump", "--pre", "rc", "--git-tag", "--offline"),
            0,
            {"version": "0.4.0-rc.1", "bump": "prerelease"},
        ),
        Step(
            "... then -rc.2 on the next run",
            ("fix: probe timeout",),
            ("bump", "--pre", "rc", "--git-tag", "--offline"),
            0,
            {"version": "0.4.0-rc.2", "bump": "prerelease"},
        ),
        Step("... and the final 0.4.0 without --pre", (), tag, 0, {"version": "0.4.0", "bump": "minor"}),
        Step(
            "A `Release-As: 1.0.0` footer forces the version",
            ("chore: declare the API stable\n\nRelease-As: 1.0.0",),
            tag,
            0,
            {"version": "1.0.0", "bump": "major"},
        ),
        Step(
            "Re-running on a released HEAD changes nothing and exits 0",
            (),
            tag,
            0,
            {"version": "1.0.0", "bump": "none", "outcome": "noop"},
        ),
        Step(
            "A shallow clone fails closed with exit 4 and the command that fixes it",
            (),
            ("version", "--offline"),
            4,
            {"outcome": "error", "exit_code": 4},
            in_shallow_clone=True,
            message_contains="git fetch --unshallow --tags",
        ),
    ]


def run_step(scratch: Scratch, step: Step) -> StepResult:
    for message in step.commits:
        scratch.commit(message)
    cwd = scratch.shallow_clone() if step.in_shallow_clone else scratch.repo
    code, stdout, stderr = scratch.releasectl("--json", *step.args, cwd=cwd)
    problems: list[str] = []
    try:
        answer = json.loads(stdout)
    except ValueError:
        answer = {}
        problems.append(f"no JSON answer (stderr: {stderr.strip()[:200]})")
    if code != step.code:
        problems.append(f"exit {code}, expected {step.code}")
    for key, wanted in step.expect.items():
        if answer and answer.get(key) != wanted:
            problems.append(f"{key} = {answer.get(key)!r}, expected {wanted!r}")
    if step.message_contains and step.message_contains not in str(answer.get("message", "")):
        problems.append(f"message lacks {step.message_contains!r}")
    return StepResult(step, not problems, code, answer, tuple(problems))


class Narrator:
    """Plain text, or rich when the session is recorded as SVG (rich is loaded only then)."""

    def __init__(self, stream: TextIO, *, record: bool) -> None:
        self.stream = stream
        self.console: Any = None
        if record:
            from rich.console import Console

            self.console = Console(file=stream, record=True, width=100, highlight=False)

    def say(self, text: str, style: str | None = None) -> None:
        if self.console is not None:
            from rich.text import Text

            self.console.print(Text(text, style=style or ""))
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def save_svg(self, path: Path) -> None:
        if self.console is not None:
            self.console.save_svg(str(path), title="releasectl demo")


def _summary(result: StepResult) -> str:
    answer = result.answer
    if result.step.code != 0:
        return f"exit {result.code}: {answer.get('message', '')}"
    version = answer.get("version") or answer.get("next")
    said = answer.get("message") if answer.get("command") == "bump" else answer.get("rule")
    return f"{version} ({answer.get('bump')}) — {said}"


def run_demo(
    ctx: Context,
    *,
    record: Path | None,
    steps: Sequence[Step] | None = None,
    on_step: Callable[[StepResult], None] | None = None,
) -> int:
    """Run the walk-through; 0 if every step gave the expected answer, 1 otherwise."""
    started = ctx.clock.now()
    narrator = Narrator(sys.stderr if ctx.json_output else sys.stdout, record=record is not None)
    results: list[StepResult] = []
    with tempfile.TemporaryDirectory(prefix="releasectl-demo-") as tmp:
        scratch = Scratch(Path(tmp))
        scratch.init()
        narrator.say(
            "releasectl demo: the versioning engine, step by step, on a scratch git repository", "bold"
        )
        narrator.say(
            f"  {scratch.repo} (removed afterwards); each step runs the real CLI and checks its answer"
        )
        for number, step in enumerate(steps if steps is not None else walkthrough(), start=1):
            narrator.say("")
            narrator.say(f"{number}. {step.title}", "bold")
            for message in step.commits:
                narrator.say(f"   git commit -m {message!r}", "dim")
            where = "  (in a --depth 1 clone)" if step.in_shallow_clone else ""
            narrator.say(f"   $ releasectl {' '.join(step.args)}{where}", "cyan")
            result = run_step(scratch, step)
            results.append(result)
            if on_step:
                on_step(result)
            if result.ok:
                narrator.say(f"   ✓ {_summary(result)}", "green")
            else:
                narrator.say(f"   ✗ {'; '.join(result.problems)}", "bold red")
        tags = scratch.git("-c", "versionsort.suffix=-rc", "tag", "--sort=v:refname").split()
    passed = sum(r.ok for r in results)
    ok = passed == len(results)
    narrator.say("")
    narrator.say(f"tags created: {' '.join(tags) or '(none)'}")
    verdict = f"{passed}/{len(results)} steps behaved as the rules say"
    narrator.say(f"{'✓' if ok else '✗'} {verdict}", "bold green" if ok else "bold red")
    if record is not None:
        narrator.save_svg(record)
        narrator.say(f"recorded to {record}")
    if ctx.json_output:
        write_json(
            {
                "command": "demo",
                "outcome": "succeeded" if ok else "failed",
                "message": verdict,
                "duration_s": round(ctx.clock.now() - started, 3),
                "steps": [
                    {
                        "title": r.step.title,
                        "command": ["releasectl", *r.step.args],
                        "ok": r.ok,
                        "exit_code": r.code,
                        "problems": list(r.problems),
                    }
                    for r in results
                ],
            }
        )
    return 0 if ok else 1
