"""Reliability figures: faults injected and survived per flow, races and their outcomes, bad
inputs tried, and state lost (which must be 0).

Runs the reliability suite's own flows (tests/reliability/) many more times than CI does, against
a moto server on 127.0.0.1, with the fault proxy (tests/support/faultproxy.py) in front of it:

- each flow (release --no-deploy, promote, deploy --no-wait, rollback --to --no-wait, following a
  growing build log) through 20% faults (503, ThrottlingException, connection reset, latency) plus
  5% resets after the backend applied the request, 8 attempts a call: runs, exit-0 runs, runs whose
  end state equals the fault-free run's, faults injected by kind;
- the same flows through 50% faults and 2 attempts: how many failed, and whether each failure was
  one line with exit 1 and left nothing half-done;
- eight releases of eight commits at once; one commit released twice at once; a rollback racing
  a deploy;
- every row of the bad-input matrix.

"State lost" counts: a version tag without its commit tag, a commit tag without its version, a
floating tag on a non-release, a service on an image that is no release, a successful faulted run
whose end state differs from the fault-free one, a log line missing, repeated or out of order, a
race that overwrote or lost a release, and a bad input that changed AWS state.

    .venv/bin/python benchmarks/reliability.py [--seeds 20] [--races 1] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from common import (
    RESULTS,
    ROOT,
    cpu_model,
    git_head,
    has_uncommitted_changes,
    load_average,
    moto_server,
    use_fake_aws_credentials,
    write_section,
)

sys.path.insert(0, str(ROOT))
SECTION = "## Reliability"

use_fake_aws_credentials()
os.environ.update(
    {
        "GIT_AUTHOR_NAME": "Benchmark",
        "GIT_AUTHOR_EMAIL": "benchmark@example.invalid",
        "GIT_COMMITTER_NAME": "Benchmark",
        "GIT_COMMITTER_EMAIL": "benchmark@example.invalid",
    }
)
for name in [
    n for n in os.environ if n.startswith(("RELEASECTL_", "CODEBUILD_")) or n in ("AWS_PROFILE", "CI")
]:
    del os.environ[name]


@dataclass
class Tally:
    runs: int = 0
    ok: int = 0
    same_state: int = 0
    failed_cleanly: int = 0
    lost: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    notes: list[str] = field(default_factory=list)


def fast_backoff() -> None:
    """botocore waits up to 20 s between attempts; the runs here are about outcomes, not waits."""
    from botocore.retries.standard import ExponentialBackoff

    ExponentialBackoff.delay_amount = lambda self, context: 0.0  # type: ignore[method-assign]


def run_flows(endpoint: str, work: Path, seeds: int, *, heavy: bool) -> dict[str, Tally]:
    from tests.support.aws_state import ledger_problems, normalised, reset, snapshot
    from tests.support.cli import one_line_error
    from tests.support.faultproxy import FaultPlan, FaultProxy
    from tests.support.flows import FLOWS, GrowingLog, build_world, follow_logs, result_json

    tallies: dict[str, Tally] = {}
    for index, (name, flow) in enumerate(FLOWS.items()):
        reset(endpoint)
        world = flow.setup(endpoint, work)
        reference = flow.run(endpoint, world)
        assert reference.code == 0, reference.stderr
        expected = normalised(snapshot(endpoint))
        tally = tallies[name] = Tally()
        # Faults are drawn per request, in order: flows of the same length given the same seeds
        # would meet the same faults, so each flow gets seeds of its own.
        for seed in range(1000 * index, 1000 * index + seeds):
            reset(endpoint)
            world = flow.setup(endpoint, work)
            plan = (
                FaultPlan(rate=0.5, seed=seed, reset_after_rate=0.1)
                if heavy
                else FaultPlan(rate=0.2, seed=seed, reset_after_rate=0.05)
            )
            with FaultProxy(endpoint, plan) as proxy:
                ran = flow.run(proxy.url, world, {"RELEASECTL_MAX_ATTEMPTS": "2" if heavy else "8"})
            after = snapshot(endpoint)
            tally.runs += 1
            tally.injected.update(proxy.injected)
            tally.requests += len(proxy.log)
            problems = ledger_problems(after)
            if ran.code == 0:
                tally.ok += 1
                if (
                    normalised(after) == expected
                    and result_json(ran).get("version") == result_json(reference)["version"]
                ):
                    tally.same_state += 1
                else:
                    problems.append(f"seed {seed}: exit 0 but the end state differs from the fault-free run")
            elif ran.code == 1 and one_line_error(ran):
                tally.failed_cleanly += 1
            else:
                tally.notes.append(f"seed {seed}: exit {ran.code}: {ran.stderr.strip()[-200:]}")
            tally.lost += len(problems)
            tally.notes += [f"seed {seed}: {p}" for p in problems]
    if not heavy:
        tally = tallies["log follow"] = Tally()
        for seed in range(9000, 9000 + seeds):
            reset(endpoint)
            log = GrowingLog(endpoint, build_world(endpoint))
            log.create()
            with FaultProxy(endpoint, FaultPlan(rate=0.2, seed=seed, reset_after_rate=0.05)) as proxy:
                ran, lines = follow_logs(proxy.url, log, work, max_attempts=8)
            tally.runs += 1
            tally.injected.update(proxy.injected)
            tally.requests += len(proxy.log)
            if ran.code == 0:
                tally.ok += 1
            if lines == log.lines:
                tally.same_state += 1
            else:
                tally.lost += 1
                tally.notes.append(
                    f"seed {seed}: {len(lines)} lines shown of {len(log.lines)}, or out of order"
                )
    return tallies


def run_races(endpoint: str, work: Path, rounds: int) -> list[tuple[str, str, int]]:
    """(race, outcome, state lost) per race run."""
    from tests.e2e.test_races import (
        CONTENDED,
        RACERS,
        clone_at,
        config_digest,
        finish,
        stored_config_digest,
    )
    from tests.support.aws_state import client, ledger_problems, reset, snapshot
    from tests.support.cli import run_cli
    from tests.support.cli import start_cli as start
    from tests.support.ecr_fixtures import push_image
    from tests.support.flows import (
        APP,
        CLUSTER,
        SERVICE,
        SHOP,
        commit,
        docker_env,
        ledger_config,
        ledger_world,
        release_world,
        source_repo,
    )
    from tests.support.git import git

    outcomes: list[tuple[str, str, int]] = []
    for round_ in range(rounds):
        base_dir = Path(tempfile.mkdtemp(dir=work))
        reset(endpoint)
        release_world(endpoint)
        origin = source_repo(base_dir / "origin")
        env = docker_env(base_dir / "bin", base_dir / "docker-base", endpoint)
        assert (
            run_cli("release", "--no-deploy", cwd=origin, env={**env, "AWS_ENDPOINT_URL": endpoint}).code == 0
        )
        base = git(origin, "rev-parse", "HEAD")
        racers = []
        for n in range(RACERS):
            clone = clone_at(origin, base_dir / f"clone-{n}", base)
            sha = commit(clone, f"feat: feature {n}", filename=f"feature-{n}.txt")
            racers.append(
                (
                    clone,
                    sha,
                    base_dir / f"docker-{n}",
                    docker_env(base_dir / f"bin-{n}", base_dir / f"docker-{n}", endpoint),
                )
            )
        started = time.monotonic()
        results = finish(
            [
                start(["release", "--no-deploy"], c, {**e, "AWS_ENDPOINT_URL": endpoint, **CONTENDED})
                for c, _, _, e in racers
            ]
        )
        elapsed = time.monotonic() - started
        state = snapshot(endpoint)
        lost = len(ledger_problems(state))
        versions = [data.get("version") for _, data, _ in results]
        attempts = [
            max((int(a) for a in re.findall(r"attempt (\d+)", err)), default=0) for _, _, err in results
        ]
        for (_, sha, docker, _), (code, data, _) in zip(racers, results, strict=True):
            if code != 0:
                continue
            tags = state["ecr"][SHOP]["images"].get(data["image"]["digest"], ())
            own_image = stored_config_digest(endpoint, SHOP, data["version"]) == config_digest(
                docker, data["version"]
            )
            if tags != tuple(sorted((data["version"], f"git-{sha}"))) or not own_image:
                lost += 1
        codes = Counter(code for code, _, _ in results)
        outcomes.append(
            (
                f"8 releases of 8 commits at once (round {round_ + 1})",
                f"exit codes {dict(codes)}, {len(set(versions))} distinct versions, claim attempts "
                f"{sorted(attempts)}, {elapsed:.1f} s",
                lost,
            )
        )

        sha = commit(origin, "fix: one change")
        twins = [clone_at(origin, base_dir / f"twin-{n}", sha) for n in range(2)]
        envs = [
            docker_env(base_dir / f"twin-bin-{n}", base_dir / f"twin-docker-{n}", endpoint) for n in range(2)
        ]
        results = finish(
            [
                start(["release", "--no-deploy"], t, {**e, "AWS_ENDPOINT_URL": endpoint})
                for t, e in zip(twins, envs, strict=True)
            ]
        )
        images = snapshot(endpoint)["ecr"][SHOP]["images"]
        holding = [tags for tags in images.values() if f"git-{sha}" in tags]
        versions = {data.get("version") for _, data, _ in results}
        lost = 0 if len(holding) == 1 and len(versions) == 1 else 1
        outcomes.append(
            (
                f"one commit released by 2 processes at once (round {round_ + 1})",
                f"exit codes {[c for c, _, _ in results]}, versions {sorted(v or '-' for v in versions)}, "
                f"{len(holding)} image(s) hold its commit tag",
                lost,
            )
        )

        reset(endpoint)
        digests = ledger_world(endpoint)
        digests["1.3.0"] = push_image(
            client(endpoint, "ecr"), APP, tags=["1.3.0", "git-" + "3" * 40], config_bytes=b"config of 1.3.0"
        )
        workdir = ledger_config(base_dir / "ledger")
        assert (
            run_cli("deploy", "1.2.0", "--no-wait", cwd=workdir, env={"AWS_ENDPOINT_URL": endpoint}).code == 0
        )
        results = finish(
            [
                start(["deploy", "1.3.0", "--no-wait"], workdir, {"AWS_ENDPOINT_URL": endpoint}),
                start(["rollback", "--to", "1.1.0", "--no-wait"], workdir, {"AWS_ENDPOINT_URL": endpoint}),
            ]
        )
        state = snapshot(endpoint)
        final = state["services"][f"{CLUSTER}/{SERVICE}"]["task_definition"]
        winner = [data.get("command") for _, data, _ in results if data.get("task_definition") == final]
        lost = len(ledger_problems(state)) + (0 if len(winner) == 1 else 1)
        outcomes.append(
            (
                f"rollback --to 1.1.0 racing deploy 1.3.0 (round {round_ + 1})",
                f"exit codes {[c for c, _, _ in results]}, "
                f"the service ends on what `{winner[0] if winner else '?'}` reported",
                lost,
            )
        )
    return outcomes


def run_bad_inputs(endpoint: str, work: Path) -> tuple[int, int, int, list[str]]:
    """(rows tried, rows that behaved, rows that changed AWS state, notes)."""
    import shutil

    from tests.reliability.test_bad_input import FULL_CONFIG, ROWS, run_row
    from tests.support.aws_state import reset, snapshot
    from tests.support.cli import one_line_error
    from tests.support.flows import build_world, commit, ledger_world
    from tests.support.git import git

    reset(endpoint)
    ledger_world(endpoint)
    build_world(endpoint)
    before = snapshot(endpoint)
    template = work / "bad-input-template"
    template.mkdir()
    git(template, "init", "-q", "-b", "main")
    (template / "pyproject.toml").write_text(FULL_CONFIG)
    (template / "service").mkdir()
    (template / "service" / "hello_world.py").write_text("print('hello')\n")
    git(template, "add", ".")
    commit(template, "feat: first")
    good = changed = 0
    notes = []
    for n, row in enumerate(ROWS):
        project = work / f"bad-input-{n}" / "project"
        shutil.copytree(template, project)
        ran = run_row(row, {"endpoint": endpoint, "project": project})
        after = snapshot(endpoint)
        if after != before:
            changed += 1
            before = after
        if ran.code == row.code and one_line_error(ran) and row.says.lower() in ran.stderr.lower():
            good += 1
        else:
            notes.append(f"{row.id}: exit {ran.code}: {ran.stderr.strip()[-160:]}")
    return len(ROWS), good, changed, notes


def machine() -> str:
    cpu = cpu_model(platform.processor() or platform.machine())
    return (
        f"{os.cpu_count()} CPUs, {cpu}, {platform.system()} {platform.release()}; "
        f"load average at end {load_average()}"
    )


def revision() -> str:
    dirty = has_uncommitted_changes(untracked=False)
    return f"{git_head()}{' with uncommitted changes' if dirty else ''}"


def flow_table(tallies: dict[str, Tally], *, heavy: bool) -> list[str]:
    kinds = ("503", "throttle", "reset", "latency", "reset_after")
    if heavy:
        head = (
            "| flow | runs | succeeded (= fault-free state) | failed cleanly (exit 1, one line) | other "
            "| faults injected | state lost |"
        )
        rows = [
            f"| {name} | {t.runs} | {t.same_state} | {t.failed_cleanly} | "
            f"{t.runs - t.ok - t.failed_cleanly} | {sum(t.injected.values())} | {t.lost} |"
            for name, t in tallies.items()
        ]
        return [head, "|---|---:|---:|---:|---:|---:|---:|", *rows]
    head = "| flow | runs | exit 0 | = fault-free state | requests | " + " | ".join(kinds) + " | state lost |"
    rows = [
        f"| {name} | {t.runs} | {t.ok} | {t.same_state} | {t.requests} | "
        + " | ".join(str(t.injected.get(k, 0)) for k in kinds)
        + f" | {t.lost} |"
        for name, t in tallies.items()
    ]
    return [head, "|---|" + "---:|" * (len(kinds) + 5), *rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeded runs per flow and fault level")
    parser.add_argument("--races", type=int, default=1, help="rounds of each race")
    parser.add_argument(
        "--write", action="store_true", help=f"record the results in {RESULTS.relative_to(ROOT)}"
    )
    args = parser.parse_args()

    fast_backoff()
    began = time.monotonic()
    with (
        moto_server() as endpoint,
        tempfile.TemporaryDirectory(prefix="releasectl-reliability-") as scratch,
    ):
        work = Path(scratch)
        for part in ("light", "heavy", "bad"):
            (work / part).mkdir()
        light = run_flows(endpoint, work / "light", args.seeds, heavy=False)
        heavy = run_flows(endpoint, work / "heavy", args.seeds, heavy=True)
        races = run_races(endpoint, work, args.races)
        tried, behaved, changed, bad_notes = run_bad_inputs(endpoint, work / "bad")
    took = time.monotonic() - began

    lost = (
        sum(t.lost for t in light.values())
        + sum(t.lost for t in heavy.values())
        + sum(r[2] for r in races)
        + changed
    )
    survived = sum(sum(t.injected.values()) for name, t in light.items())
    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python benchmarks/reliability.py --seeds {args.seeds} --races {args.races}"
        f"{' --write' if args.write else ''}` (from the repository root). Against a moto server on 127.0.0.1 "
        "through the fault proxy of tests/support/faultproxy.py; the CI suite (tests/reliability/) runs the "
        "same flows with fewer seeds.",
        "",
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC; took {took:.0f} s",
        f"- Machine: {machine()}",
        f"- releasectl at {revision()}; Python {platform.python_version()}",
        "",
        f"**State lost: {lost}.**",
        "",
        "### Through 20% faults (+5% resets after the backend applied the request), 8 attempts a call",
        "",
        *flow_table(light, heavy=False),
        "",
        f"{survived} faults injected; every run must end exit 0 in exactly the state of the fault-free run "
        "(log follow: every line exactly once, in order).",
        "",
        "### Through 50% faults (+10% resets after), 2 attempts a call",
        "",
        *flow_table(heavy, heavy=True),
        "",
        "A run may fail here, but only with exit 1 and one line on stderr, leaving no version without its "
        "commit tag, no floating tag on a non-release and no service on an unreleased image.",
        "",
        "### Races (separate `releasectl` processes, one moto server)",
        "",
        "| race | outcome | state lost |",
        "|---|---|---:|",
        *[f"| {race} | {outcome} | {count} |" for race, outcome, count in races],
        "",
        "### Bad input",
        "",
        f"{tried} rows of the bad-input matrix (tests/reliability/test_bad_input.py): {behaved} gave the "
        f"documented exit code with one error line; {changed} changed AWS state.",
    ]
    notes = [n for t in [*light.values(), *heavy.values()] for n in t.notes] + bad_notes
    if notes:
        lines += ["", "Notes:", "", *[f"- {n}" for n in notes[:20]]]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        write_section(SECTION, text)
        print(f"wrote the '{SECTION[3:]}' section of {RESULTS.relative_to(ROOT)}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
