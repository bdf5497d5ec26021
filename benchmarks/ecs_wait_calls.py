"""How many ECS calls do `rollback --to` and the rollout wait make?

Figures printed (budgets from issues 3 and 14):

1. `rollback --to` to a digest whose revision is already registered: API calls before waiting,
   counted with releasectl's botocore before-send hook (AwsClients.call_hooks), against a moto
   server on 127.0.0.1 (budget <= 8).
2. Waiting on scripted rollouts over fake time (tests/support/scripted_ecs.py answering a real botocore
   client, so serialisation, retries and the hook are real): calls per second on average
   (budget <= 1), the largest number of calls in any 10 s window, and the pause between polls
   once nothing changes (budget: backs off to >= 5 s).
2b. A canary followed through the service-deployments API (DescribeServiceDeployments), the same
   way: calls per poll (budget <= 2) and per second (budget <= 1) over its stages and bake times.
3. Side by side in real time on the same moto server, whose rollouts never finish: releasectl's
   wait loop and ecs-deploy's `ecs deploy` (fabfuel/ecs-deploy, in its own venv under
   benchmarks/.work), each waiting for --duration seconds, calls counted by a counting proxy
   in front of moto that both tools talk to.

    python benchmarks/ecs_wait_calls.py [--duration 30] [--no-peer] [--write]
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from common import (
    FAKE_AWS_CREDENTIALS,
    RESULTS,
    ROOT,
    load_average,
    moto_server,
    peer_venv,
    use_fake_aws_credentials,
    write_section,
)

SECTION = "## ECS calls: rollback and rollout waiting"
ECS_DEPLOY = "ecs-deploy==1.17.0"
sys.path.insert(0, str(ROOT))
use_fake_aws_credentials()

from releasectl.adapters.aws.clients import AwsClients  # noqa: E402
from releasectl.adapters.aws.ecs import EcsApi  # noqa: E402
from releasectl.commands.context import Context, RecordingReporter  # noqa: E402
from releasectl.commands.deploy import run_deploy  # noqa: E402
from releasectl.commands.rollback import rollback  # noqa: E402
from releasectl.commands.rollout_waiter import wait_for_rollout  # noqa: E402
from releasectl.core.clock import FakeClock, SystemClock  # noqa: E402
from releasectl.core.config import Config  # noqa: E402
from releasectl.core.rollout import Seen, Target  # noqa: E402
from tests.support import scripted_deployments as sd  # noqa: E402
from tests.support import scripted_ecs as s  # noqa: E402
from tests.support.ecr_fixtures import push_image  # noqa: E402
from tests.support.moto_fixtures import create_fargate_service  # noqa: E402

CLUSTER, SERVICE, REPO = "web", "hello-world", "hello-world"


# ----------------------------------------------------------------------------- counting proxy


class CountingProxy:
    """Forwards every request to moto and records (monotonic time, operation, user agent)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.calls: list[tuple[float, str, str]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                operation = target.rsplit(".", 1)[-1] if target else f"{self.command} {self.path}"
                with proxy.lock:
                    proxy.calls.append((time.monotonic(), operation, self.headers.get("User-Agent", "")))
                upstream_conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in {"connection", "host"}}
                upstream_conn.request(self.command, self.path, body=body, headers=headers)
                answer = upstream_conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream_conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def since(self, start: float, end: float | None = None) -> list[tuple[float, str, str]]:
        with self.lock:
            return [c for c in self.calls if c[0] >= start and (end is None or c[0] <= end)]


# ----------------------------------------------------------------------------- the moto world


def seed(endpoint: str) -> dict[str, Any]:
    import boto3

    ecr = boto3.client("ecr", endpoint_url=endpoint, region_name="us-east-1")
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name="us-east-1")
    uri = ecr.create_repository(repositoryName=REPO)["repository"]["repositoryUri"]
    digests = {
        v: push_image(ecr, REPO, tags=[v, f"git-{n * 40}"]) for v, n in (("1.1.0", "1"), ("1.2.0", "2"))
    }
    first = create_fargate_service(
        ecs,
        cluster=CLUSTER,
        service=SERVICE,
        image=f"{uri}@{digests['1.1.0']}",
        tags={"releasectl:version": "1.1.0"},
    )
    return {"uri": uri, "digests": digests, "first": first, "ecs": ecs}


def context(endpoint: str, cwd: Path, clock: Any = None) -> Context:
    config = Config(
        region="us-east-1",
        endpoint_url=endpoint,
        ecr_repository=REPO,
        ecs_cluster=CLUSTER,
        ecs_service=SERVICE,
        container_name="app",
    )
    return Context(config=config, cwd=cwd, reporter=RecordingReporter(), clock=clock or SystemClock())


def rollback_calls(endpoint: str, cwd: Path) -> dict[str, Any]:
    """Deploy 1.2.0, then count `rollback --to 1.1.0` (revision 1 is still ACTIVE)."""
    from releasectl.commands.deploy import deploy

    deploy(context(endpoint, cwd), version="1.2.0", timeout=None, wait=False)
    ctx = context(endpoint, cwd)
    calls: list[str] = []
    ctx.aws.call_hooks.append(lambda service, operation: calls.append(f"{service}:{operation}"))
    result = rollback(ctx, to="1.1.0", timeout=None, wait=False)
    return {
        "calls": calls,
        "action": result.extra["action"],
        "task_definition": result.extra["task_definition"],
    }


# ----------------------------------------------------------------------------- scripted waits (fake time)


def timed_rollout(
    clock: FakeClock, *, tasks: int, step: float, start: float, failures_at: float | None
) -> Any:
    """A rollout whose state is a function of fake time: one more task healthy every `step`
    seconds from `start`; two tasks fail at `failures_at`; COMPLETED when all run."""

    def frame(r: s.Rollout) -> dict[str, Any]:
        t = clock.now()
        running = 0 if t < start else min(tasks, 1 + int((t - start) // step))
        failed = 2 if failures_at is not None and t >= failures_at else 0
        events = [s.event("e-start", f"(service {r.service_name}) has started {tasks} tasks.")]
        if failed:
            events.append(
                s.event("e-fail", f"(service {r.service_name}) (task x) failed container health checks.")
            )
        if running == tasks:
            return s.service_frame(
                r,
                [
                    s.deployment(
                        r.new_id, r.new_td, rollout="COMPLETED", running=tasks, desired=tasks, failed=failed
                    )
                ],
                running=tasks,
                events=events,
            )
        return s.service_frame(
            r,
            [
                s.deployment(
                    r.new_id, r.new_td, running=running, pending=tasks - running, desired=tasks, failed=failed
                ),
                s.deployment(
                    r.old_id, r.old_td, status="ACTIVE", rollout="COMPLETED", running=tasks, desired=tasks
                ),
            ],
            running=tasks + running,
            pending=tasks - running,
            events=events,
        )

    return frame


def scripted_wait(
    name: str, *, frame_for: Callable[[FakeClock], Any], tasks: int, timeout: int
) -> dict[str, Any]:
    fake = s.ScriptedEcs(desired=tasks)
    current = fake.add_revision(tags={"releasectl:version": "1.1.0", "releasectl:outcome": "succeeded"})
    fake.start_service(current)
    ctx = s.make_context(region="us-east-1")
    clock = ctx.clock
    fake.script = [frame_for(clock)]
    fake.add_stopped_tasks(
        2, started_by="ecs-svc/2000000000000000001", reason="Task failed container health checks"
    )
    aws = AwsClients(region="us-east-1", profile=None, endpoint_url=None)
    ctx._aws = aws
    client = aws.client("ecs")
    s.route_client(client, fake)
    sent: list[tuple[float, str]] = []
    aws.call_hooks.append(lambda service, operation: sent.append((clock.now(), operation)))
    result = run_deploy(
        ctx,
        EcsApi(client, cluster=fake.cluster, service=fake.service_name),
        [s.release("1.1.0", 1), s.release("1.2.0", 2)],
        version="1.2.0",
        timeout=timeout,
        wait=True,
        repository_uri=lambda: s.REPO_URI,
        rng=random.Random(11),
    )
    # Everything after update_service except the final outcome tag is the wait's own doing.
    index = next(i for i, (_, op) in enumerate(sent) if op == "UpdateService")
    updated_at = sent[index][0]
    waiting = [(t, op) for t, op in sent[index + 1 :] if op != "TagResource"]
    elapsed = clock.now() - updated_at
    window = max(sum(1 for t2, _ in waiting if t <= t2 < t + 10) for t, _ in waiting) if waiting else 0
    sleeps = clock.sleeps
    return {
        "name": name,
        "outcome": result.outcome.value,
        "elapsed": elapsed,
        "calls": len(waiting),
        "ops": Counter(op for _, op in waiting),
        "rate": len(waiting) / elapsed if elapsed else 0.0,
        "window10": window,
        "sleep_min": min(sleeps),
        "sleep_median": statistics.median(sleeps),
        "sleep_max": max(sleeps),
        "first_5s": next((i for i, x in enumerate(sleeps) if x >= 5), None),
    }


# ----------------------------------------------------------------------------- a canary, service deployments

# (seconds from the first poll, frame): a canary of 10 % baking 3 min, then all traffic and 2 min of bake.
CANARY_TIMELINE: list[tuple[float, dict[str, Any]]] = [
    (0, {"status": "IN_PROGRESS", "stage": "SCALE_UP", "new": 0, "test": 0, "running": 0, "pending": 2}),
    (20, {"status": "IN_PROGRESS", "stage": "POST_SCALE_UP", "new": 0, "test": 0}),
    (25, {"status": "IN_PROGRESS", "stage": "TEST_TRAFFIC_SHIFT", "new": 0, "test": 100}),
    (30, {"status": "IN_PROGRESS", "stage": "POST_TEST_TRAFFIC_SHIFT", "new": 0, "test": 100}),
    (35, {"status": "IN_PROGRESS", "stage": "PRODUCTION_TRAFFIC_SHIFT", "new": 10, "test": 100}),
    (215, {"status": "IN_PROGRESS", "stage": "PRODUCTION_TRAFFIC_SHIFT", "new": 100, "test": 100}),
    (220, {"status": "IN_PROGRESS", "stage": "POST_PRODUCTION_TRAFFIC_SHIFT", "new": 100, "test": 100}),
    (225, {"status": "IN_PROGRESS", "stage": "BAKE_TIME", "new": 100, "test": 100}),
    (345, {"status": "IN_PROGRESS", "stage": "CLEAN_UP", "new": 100, "test": 100}),
    (365, {"status": "SUCCESSFUL", "stage": "CLEAN_UP", "new": 100, "test": 100}),
]


def timed_canary(clock: FakeClock) -> Any:
    started: list[float] = []

    def frame(run: sd.Run) -> dict[str, Any]:
        if not started:
            started.append(clock.now())
        elapsed = clock.now() - started[0]
        fields = dict(next(f for t, f in reversed(CANARY_TIMELINE) if elapsed >= t))
        return sd.sd_frame(run, fields.pop("status"), fields.pop("stage"), **fields)

    return frame


def canary_wait() -> dict[str, Any]:
    """deploy of a canary (3 min at 10 %, 2 min bake) followed through DescribeServiceDeployments."""
    ctx = s.make_context(region="us-east-1")
    clock = ctx.clock
    fake = sd.ScriptedServiceDeployments(desired=2, deployment_configuration=dict(sd.CANARY))
    fake.sd_script = [timed_canary(clock)]
    fake.start_service(
        fake.add_revision(tags={"releasectl:version": "1.1.0", "releasectl:outcome": "succeeded"})
    )
    aws = AwsClients(region="us-east-1", profile=None, endpoint_url=None)
    ctx._aws = aws
    client = aws.client("ecs")
    s.route_client(client, fake)
    sent: list[tuple[float, str]] = []
    aws.call_hooks.append(lambda service, operation: sent.append((clock.now(), operation)))
    result = run_deploy(
        ctx,
        EcsApi(client, cluster=fake.cluster, service=fake.service_name),
        [s.release("1.1.0", 1), s.release("1.2.0", 2)],
        version="1.2.0",
        timeout=900,
        wait=True,
        repository_uri=lambda: s.REPO_URI,
        rng=random.Random(11),
    )
    index = next(i for i, (_, op) in enumerate(sent) if op == "UpdateService")
    updated_at = sent[index][0]
    waiting = [(t, op) for t, op in sent[index + 1 :] if op != "TagResource"]
    ops = Counter(op for _, op in waiting)
    polls = ops["DescribeServiceDeployments"]
    elapsed = clock.now() - updated_at
    window = max(sum(1 for t2, _ in waiting if t <= t2 < t + 10) for t, _ in waiting) if waiting else 0
    stages = [
        line.split(": ", 1)[1]
        for line in ctx.reporter.texts("info")
        if re.match(r"^deployment sd\d+: ", line)
    ]
    return {
        "name": "canary: 10 % for 3 min, then 100 % and 2 min of bake",
        "outcome": result.outcome.value,
        "followed": result.extra.get("followed"),
        "elapsed": elapsed,
        "polls": polls,
        "calls": len(waiting),
        "per_poll": len(waiting) / polls if polls else 0.0,
        "rate": len(waiting) / elapsed if elapsed else 0.0,
        "window10": window,
        "ops": ops,
        "lines": stages,
    }


# ----------------------------------------------------------------------------- real-time side by side


def releasectl_wait(proxy: CountingProxy, cwd: Path, duration: float) -> dict[str, Any]:
    """releasectl's wait loop on moto's deployment, which stays IN_PROGRESS for ever."""
    ctx = context(proxy.url, cwd)
    ecs = EcsApi.from_context(ctx)
    service = ecs.describe_service()
    lead = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
    start = time.monotonic()
    waited = wait_for_rollout(
        ctx,
        ecs,
        target=Target(lead["id"], lead["taskDefinition"], None),
        seen=Seen.baseline(service),
        timeout=duration,
    )
    end = time.monotonic()
    calls = proxy.since(start, end)
    return {
        "tool": "releasectl (wait loop)",
        "calls": len(calls),
        "seconds": end - start,
        "ops": Counter(op for _, op, _ in calls),
        "timed_out": waited.timed_out,
    }


def ecs_deploy_wait(tool: Path, proxy: CountingProxy, image: str, duration: float) -> dict[str, Any]:
    """`ecs deploy` to a new image; moto never finishes the rollout, so it waits its full timeout."""
    env = {**os.environ, **FAKE_AWS_CREDENTIALS, "AWS_ENDPOINT_URL": proxy.url}
    start = time.monotonic()
    done = subprocess.run(
        [
            str(tool),
            "deploy",
            CLUSTER,
            SERVICE,
            "--image",
            "app",
            image,
            "--timeout",
            str(int(duration)),
            "--region",
            "us-east-1",
            "--no-deregister",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=duration + 120,
    )
    end = time.monotonic()
    calls = proxy.since(start, end)
    updated = next((t for t, op, _ in calls if op == "UpdateService"), None)
    waiting = [c for c in calls if updated is not None and c[0] > updated]
    seconds = (end - updated) if updated is not None else 0.0
    return {
        "tool": f"ecs-deploy {ECS_DEPLOY.split('==')[1]} (`ecs deploy`)",
        "calls": len(waiting),
        "seconds": seconds,
        "ops": Counter(op for _, op, _ in waiting),
        "exit": done.returncode,
        "tail": (done.stdout + done.stderr).strip().splitlines()[-1:],
    }


# ----------------------------------------------------------------------------- report


def render(
    args: argparse.Namespace,
    first: dict[str, Any],
    waits: list[dict[str, Any]],
    side: list[dict[str, Any]],
    canary: dict[str, Any],
) -> str:
    lines = [SECTION, ""]
    lines.append(
        f"Command: `python benchmarks/ecs_wait_calls.py --duration {args.duration:g}"
        + (" --no-peer" if args.no_peer else "")
        + " --write` (from the repository root)."
    )
    lines.append("")
    lines.append(f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC")
    lines.append(
        f"- Machine: {os.cpu_count()} CPUs, {platform.platform()}; load average at end "
        f"{load_average()}. Call counts do not depend on the machine; "
        "only the real-time section's seconds do."
    )
    lines.append(f"- Python {platform.python_version()}; moto server on 127.0.0.1.")
    lines.append("")
    lines.append("### `rollback --to` to an already-registered digest (budget <= 8 calls before waiting)")
    lines.append("")
    calls = first["calls"]
    lines.append(
        f"{len(calls)} calls ({'within' if len(calls) <= 8 else 'OVER'} budget), action "
        f"`{first['action']}` (service pointed at `{first['task_definition'].rsplit('/', 1)[-1]}`):"
    )
    lines.append("")
    lines.extend(f"{i}. `{c}`" for i, c in enumerate(calls, 1))
    lines.append("")
    lines.append("### Waiting on scripted rollouts (fake time, real botocore client)")
    lines.append("")
    lines.append(
        "| rollout | outcome | waited s | calls | calls/s (budget <= 1) | max calls in 10 s | "
        "pause min / median / max s | first pause >= 5 s |"
    )
    lines.append("|---|---|---:|---:|---:|---:|---|---:|")
    for w in waits:
        lines.append(
            f"| {w['name']} | {w['outcome']} | {w['elapsed']:.0f} | {w['calls']} | {w['rate']:.3f} | "
            f"{w['window10']} | "
            f"{w['sleep_min']:.1f} / {w['sleep_median']:.1f} / {w['sleep_max']:.1f} | "
            f"{'poll ' + str(w['first_5s'] + 1) if w['first_5s'] is not None else 'never'} |"
        )
    lines.append("")
    for w in waits:
        ops = ", ".join(f"{op} {n}" for op, n in sorted(w["ops"].items()))
        lines.append(f"- {w['name']}: {ops}")
    lines.append("")
    lines.append("### A canary through the service-deployments API (fake time, real botocore client)")
    lines.append("")
    lines.append(
        "Each poll is one DescribeServiceDeployments (status, stage, traffic split) and one DescribeServices "
        "(events); the outcome is the service deployment's status."
    )
    lines.append("")
    lines.append(
        "| deployment | outcome | waited s | polls | calls | calls per poll (budget <= 2) | "
        "calls/s (budget <= 1) | max calls in 10 s |"
    )
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|")
    lines.append(
        f"| {canary['name']} | {canary['outcome']} | {canary['elapsed']:.0f} | {canary['polls']} | "
        f"{canary['calls']} | {canary['per_poll']:.2f} | {canary['rate']:.3f} | {canary['window10']} |"
    )
    lines.append("")
    ops = ", ".join(f"{op} {n}" for op, n in sorted(canary["ops"].items()))
    lines.append(f"Calls: {ops}. What the waiting deploy printed, one line per change:")
    lines.append("")
    lines.extend(f"- `{line}`" for line in canary["lines"])
    lines.append("")
    lines.append(
        f"### Side by side on one moto server, real time "
        f"({args.duration:g} s each; the rollout never finishes)"
    )
    lines.append("")
    lines.append("| tool | calls while waiting | seconds | calls/s | calls by operation |")
    lines.append("|---|---:|---:|---:|---|")
    for row in side:
        rate = row["calls"] / row["seconds"] if row["seconds"] else 0.0
        ops = ", ".join(f"{op} {n}" for op, n in sorted(row["ops"].items()))
        lines.append(f"| {row['tool']} | {row['calls']} | {row['seconds']:.1f} | {rate:.2f} | {ops} |")
    if len(side) == 2 and side[0]["calls"] and side[1]["seconds"]:
        ours = side[0]["calls"] / side[0]["seconds"]
        theirs = side[1]["calls"] / side[1]["seconds"]
        lines.append("")
        lines.append(f"ecs-deploy makes {theirs / ours:.1f}x as many calls per second while waiting.")
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="real seconds each tool waits on moto")
    parser.add_argument("--no-peer", action="store_true", help="skip ecs-deploy")
    parser.add_argument(
        "--write", action="store_true", help=f"record the results in {RESULTS.relative_to(ROOT)}"
    )
    args = parser.parse_args()

    waits = [
        scripted_wait(
            "healthy: 10 tasks, one more every 40 s, 2 fail at 100 s",
            frame_for=lambda c: timed_rollout(c, tasks=10, step=40, start=30, failures_at=100),
            tasks=10,
            timeout=900,
        ),
        scripted_wait(
            "stuck: never completes (timeout 900 s)",
            frame_for=lambda c: timed_rollout(c, tasks=10, step=10**9, start=30, failures_at=None),
            tasks=10,
            timeout=900,
        ),
    ]

    canary = canary_wait()

    with moto_server() as endpoint:
        proxy = CountingProxy(endpoint)
        proxy.start()
        cwd = Path(tempfile.mkdtemp(prefix="ecs-wait-"))
        try:
            world = seed(proxy.url)
            first = rollback_calls(proxy.url, cwd)
            side = [releasectl_wait(proxy, cwd, args.duration)]
            if not args.no_peer:
                tool = peer_venv("ecs-deploy-venv", ECS_DEPLOY, "ecs")
                if tool is not None:
                    image = f"{world['uri']}@{world['digests']['1.2.0']}"
                    side.append(ecs_deploy_wait(tool, proxy, image, args.duration))
        finally:
            proxy.stop()
            shutil.rmtree(cwd, ignore_errors=True)

    text = render(args, first, waits, side, canary)
    print(text)
    if args.write:
        write_section(SECTION, text)
        print(f"wrote the '{SECTION[3:]}' section of {RESULTS.relative_to(ROOT)}")
    ok = len(first["calls"]) <= 8 and all(w["rate"] <= 1.0 and w["sleep_max"] >= 5 for w in waits)
    ok = ok and canary["per_poll"] <= 2.0 and canary["rate"] <= 1.0 and canary["outcome"] == "succeeded"
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
