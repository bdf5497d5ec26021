"""How fast and how politely does `releasectl build` follow CodeBuild logs?

A build is replayed over fake time: CodeBuild's status comes from the scripted client in
tests/support/scripted_codebuild.py, while the log lines are written, each at its own moment,
into a real (in-process moto) CloudWatch Logs stream that the follower reads through
releasectl's own boto3 client. Calls are counted with a botocore `before-send` hook (so
retries would count too). Figures printed:

- GetLogEvents calls per second (budget: <= 1 on average),
- BatchGetBuilds calls per second,
- delay between a line becoming readable and being shown (budget: max <= 2 s),
- lines written vs shown (must be equal, each once, in order).

    python benchmarks/log_follow.py [--duration 600] [--lines 3000] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from common import ROOT, use_fake_aws_credentials

sys.path.insert(0, str(ROOT))
use_fake_aws_credentials()

from releasectl.adapters.aws.clients import AwsClients  # noqa: E402
from releasectl.adapters.aws.codebuild import CodeBuildReader, parse_build  # noqa: E402
from releasectl.adapters.aws.logs import CloudWatchLogReader  # noqa: E402
from releasectl.core import log_follow as logfollow  # noqa: E402
from releasectl.core.clock import FakeClock  # noqa: E402
from tests.support.scripted_codebuild import GROUP, STREAM, FakeCodeBuild, ScriptedBuild  # noqa: E402


class WritingClock(FakeClock):
    """Fake time that, as it passes, writes each scheduled line into CloudWatch at its moment."""

    def __init__(self, *, schedule: list[tuple[float, str]], logs: object, stream_at: float) -> None:
        super().__init__()
        self.schedule = schedule
        self.logs = logs
        self.stream_at = stream_at
        self.written = 0
        self.epoch_ms = int(time.time() * 1000)
        self.stream_created = False

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        end = self.t + max(0.0, seconds)
        # Step through every moment something becomes readable, so it is readable exactly then.
        while True:
            upcoming = [self.stream_at] if not self.stream_created else []
            if self.written < len(self.schedule):
                upcoming.append(self.schedule[self.written][0])
            due = min(upcoming, default=end + 1)
            if due > end:
                break
            self.t = max(self.t, due)
            self._write_due()
        self.t = end
        self._write_due()

    def _write_due(self) -> None:
        client = self.logs
        assert client is not None
        if not self.stream_created:
            if self.t < self.stream_at:
                return
            client.create_log_group(logGroupName=GROUP)  # type: ignore[attr-defined]
            client.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)  # type: ignore[attr-defined]
            self.stream_created = True
        batch = []
        while self.written < len(self.schedule) and self.schedule[self.written][0] <= self.t:
            at, text = self.schedule[self.written]
            batch.append({"timestamp": self.epoch_ms + int(at * 1000), "message": text + "\n"})
            self.written += 1
        if batch:
            client.put_log_events(logGroupName=GROUP, logStreamName=STREAM, logEvents=batch)  # type: ignore[attr-defined]


def schedule_lines(count: int, duration: float, start: float, seed: int) -> list[tuple[float, str]]:
    """Bursty output like a real build: quiet stretches (docker pulls, tests) and floods."""
    rng = random.Random(seed)
    times: list[float] = []
    t = start
    while len(times) < count and t < duration - 5:
        if rng.random() < 0.05:
            t += rng.uniform(5, 25)  # a quiet step
        burst = rng.randint(1, 40)
        for _ in range(burst):
            t += rng.expovariate(20)
            times.append(t)
    times = [x for x in times if x < duration - 2][:count]
    return [(at, f"[Container] line {i + 1}") for i, at in enumerate(times)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="fake seconds the build runs")
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--stream-at", type=float, default=12.0, help="when the log stream appears")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from moto import mock_aws

    with mock_aws():
        aws = AwsClients(region="us-east-1", profile=None, endpoint_url=None)
        logs_client = aws.client("logs")
        schedule = schedule_lines(args.lines, args.duration, args.stream_at, args.seed)
        clock = WritingClock(schedule=schedule, logs=logs_client, stream_at=args.stream_at)
        # The writer's own PutLogEvents go through another client, so only the follower's calls count.
        sent: list[float] = []
        aws.call_hooks.append(lambda service, op: sent.append(clock.now()) if op == "GetLogEvents" else None)
        clock.logs = AwsClients(region="us-east-1", profile=None, endpoint_url=None).client("logs")
        world = ScriptedBuild(clock=clock, stream_created_at=args.stream_at).finish(
            args.duration, "SUCCEEDED"
        )
        readable = [at for at, _ in schedule]
        texts = [text for _, text in schedule]

        shown: list[tuple[float, str]] = []
        wall = time.perf_counter()
        result = logfollow.follow(
            parse_build(world.build_record()),
            builds=CodeBuildReader(FakeCodeBuild(world)),
            logs=CloudWatchLogReader(logs_client),
            clock=clock,
            emit=lambda line: shown.append((clock.now(), line)),
        )
        wall = time.perf_counter() - wall

    elapsed = clock.now()
    reads = len(sent)
    # Calls per second over the span they cover: n calls at a steady 1 s make n-1 intervals.
    read_rate = (reads - 1) / (sent[-1] - sent[0])
    polls = world.count("BatchGetBuilds")
    index = {text: i for i, text in enumerate(texts)}
    delays = [t - readable[index[text]] for t, text in shown]
    in_order = [text for _, text in shown] == texts

    print(
        f"scripted build: {elapsed:.0f} s of fake time, {len(texts)} lines, "
        f"stream from t={args.stream_at:g} s"
    )
    print(f"  GetLogEvents         {reads} calls, {read_rate:.3f} calls/s (budget <= 1)")
    print(f"  BatchGetBuilds       {polls} calls, {polls / elapsed:.3f} calls/s")
    print(f"  lines shown          {len(shown)} of {len(texts)}, exactly once and in order: {in_order}")
    print(
        f"  line delay           max {max(delays):.2f} s, median {statistics.median(delays):.2f} s, "
        f"p95 {sorted(delays)[int(len(delays) * 0.95)]:.2f} s (budget max <= 2)"
    )
    print(
        f"  after build ended    stopped {elapsed - args.duration:.1f} s later (terminal + two empty reads)"
    )
    print(f"  wall time            {wall:.2f} s for the whole follow (moto in-process)")
    ok = in_order and result.build.succeeded and max(delays) <= 2.0 and read_rate <= 1.0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
