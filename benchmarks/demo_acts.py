"""How long does `releasectl demo` take, act by act?

Runs the demo the way a user does (`releasectl --json demo`, in a clone of this checkout, with
the sandbox it starts itself) and reads the full log it writes: each act starts at its `── N.`
heading and ends at the next heading; the sandbox's start-up is everything before act 1. The
demo's targets: the whole run within 45 s, the canary act (7) within 15 s of demo time.

The floor printed beside it is one `releasectl --version` in the same venv: what a single
command costs before it does anything, of which the demo runs several dozen.

    .venv/bin/python benchmarks/demo_acts.py [--runs 3] [--write]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common import ROOT, cpu_model, git_head, has_uncommitted_changes, load_average, write_section

RELEASECTL = ROOT / ".venv" / "bin" / "releasectl"
HEADING = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3})  ── (.*)$", re.M)


def stamp(text: str) -> datetime:
    return datetime.strptime(text, "%H:%M:%S.%f")


def acts_of(log: str) -> list[tuple[str, float]]:
    """(heading, seconds until the next heading) for each act; the summary closes the last."""
    marks = [(stamp(when), title) for when, title in HEADING.findall(log)]
    pairs = itertools.pairwise(marks)
    return [(title, (later - when).total_seconds()) for (when, title), (later, _) in pairs]


def run_demo(workdir: Path) -> tuple[float, float, float, list[tuple[str, float]]]:
    """(wall seconds, CPU seconds of the demo and everything it started, start-up seconds, acts)."""
    clone = workdir / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        [str(RELEASECTL), "--json", "demo"], cwd=clone, capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"demo_acts: the demo exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    log_path = Path(json.loads(done.stdout)["log"])
    log = log_path.read_text()
    log_path.unlink()
    first = HEADING.search(log)
    opened = re.search(r"^(\d\d:\d\d:\d\d\.\d{3})  ", log, re.M)
    startup = 0.0
    if first and opened:
        startup = (stamp(first.group(1)) - stamp(opened.group(1))).total_seconds()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, startup, acts_of(log)


def floor_seconds() -> float:
    started = time.monotonic()
    subprocess.run([str(RELEASECTL), "--version"], capture_output=True, check=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="demo runs, one after another (default 3)")
    parser.add_argument("--write", action="store_true", help="replace this benchmark's section of RESULTS.md")
    args = parser.parse_args()
    if not RELEASECTL.exists():
        sys.exit("demo_acts: no .venv/bin/releasectl here; `make demo` creates it")

    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="demo-acts-") as scratch:
            runs.append(run_demo(Path(scratch)))
    floor = min(floor_seconds() for _ in range(5))

    titles = [title for title, _ in runs[0][3]]
    header = "| | " + " | ".join(f"run {n + 1}" for n in range(len(runs))) + " |"
    rows = [header, "|---" * (len(runs) + 1) + "|"]
    rows.append("| whole demo, wall s | " + " | ".join(f"{wall:.1f}" for wall, *_ in runs) + " |")
    cpu = " | ".join(f"{cpu:.1f}" for _, cpu, *_ in runs)
    rows.append(f"| whole demo, CPU s (with its children) | {cpu} |")
    rows.append("| sandbox start-up, s | " + " | ".join(f"{start:.1f}" for _, _, start, _ in runs) + " |")
    for index, title in enumerate(titles):
        short = title.split(" (")[0].replace("|", "\\|")
        cells = " | ".join(f"{acts[index][1]:.1f}" if index < len(acts) else "-" for *_, acts in runs)
        rows.append(f"| {short}, s | {cells} |")
    rows.append(f"| floor: `releasectl --version`, s (best of 5) | {floor:.3f}" + " |" * len(runs))
    table = "\n".join(rows)
    print(table)

    if args.write:
        dirty = " (with uncommitted changes)" if has_uncommitted_changes() else ""
        write_section(
            "## Demo, act by act",
            f"## Demo, act by act\n\n"
            f"`.venv/bin/python benchmarks/demo_acts.py --runs {args.runs} --write` at {git_head()}{dirty}, "
            f"{cpu_model()}, load average after the runs {load_average()}. "
            "Targets: the whole demo within 45 s; the canary act within 15 s.\n\n" + table + "\n",
        )


if __name__ == "__main__":
    main()
