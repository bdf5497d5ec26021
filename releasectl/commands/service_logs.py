"""`releasectl logs --service [--follow] [--since 10m] [--task ID]`: the service's containers' logs.

Where they are comes from the task definitions the service's deployments run (their awslogs
settings: group and stream prefix), so the tasks of a rollout in progress are all there; stopped
tasks' streams stay in the group and are read too. Lines go to stdout as they are shown, each as
`time task-id  message` (with the container when several log); `--json` collects them into one
object. Following ends with Ctrl-C (or, for tests and scripts, `until`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from releasectl.commands.output import write_json, write_lines
from releasectl.core.backoff import Backoff
from releasectl.core.errors import EnvironmentProblem, interrupted_as
from releasectl.core.log_follow import LogStreamMissing, Throttled
from releasectl.core.oneoff import AwsLogs, awslogs, task_id
from releasectl.core.service_logs import Interleaver, Location, LogLine, lines_of, parse_since

if TYPE_CHECKING:
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.adapters.aws.log_events import LogEventReader
    from releasectl.commands.context import Context

# At most one FilterLogEvents call a second while following, as for build logs.
CALL_INTERVAL = 1.0
_THROTTLE = Backoff(first=2.0, maximum=30.0)


def service_logs(
    ctx: Context,
    *,
    follow: bool,
    since: str | None,
    task: str | None,
    wall: Callable[[], float] = time.time,
    until: float | None = None,
) -> int:
    """Print the service's log lines since `since`; with `follow`, keep printing new ones."""
    seconds = parse_since(since or "10m")
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.adapters.aws.log_events import LogEventReader

    ecs = EcsApi.from_context(ctx)
    settings = _settings(ecs)
    if not settings:
        raise EnvironmentProblem(
            f"service {ecs.service}'s containers log through no awslogs driver, so there is nothing to read",
            hint="give the container a logs table in service.toml (docs/service-definition.md)",
        )
    wanted = task_id(task) if task else None
    locations = _locations(settings)
    reader = LogEventReader(ctx.env_aws().client("logs"))
    several = len({s.container for s in settings}) > 1
    collected: list[LogLine] = []

    def show(lines: list[LogLine]) -> None:
        if ctx.json_output:
            collected.extend(lines)
        else:
            write_lines(line.text(containers=several) for line in lines)

    since_ms = int((wall() - seconds) * 1000)
    streams = (
        {loc: [s.stream(wanted) for s in settings if s.group == loc.group] for loc in locations}
        if wanted
        else None
    )
    what = f"task {wanted} of service {ecs.service}" if wanted else f"service {ecs.service}"
    where = ", ".join(f"{loc.group}/{loc.prefix or ''}*" for loc in locations)
    ctx.reporter.detail(f"reading the logs of {what} from {where}")
    with interrupted_as(f"stopped following the logs of {what}; nothing was changed"):
        shown = _read(
            ctx,
            reader,
            locations,
            streams=streams,
            since_ms=since_ms,
            follow=follow,
            show=show,
            until=until,
        )
    if shown == 0:
        ctx.reporter.info(f"no log lines from {what} in the last {since or '10m'}")
    if ctx.json_output:
        write_json(
            {
                "command": "logs",
                "service": ecs.service,
                "cluster": ecs.cluster,
                "task_id": wanted,
                "log_groups": sorted({loc.group for loc in locations}),
                "lines": [line.to_json() for line in collected],
            }
        )
    return 0


def _settings(ecs: EcsApi) -> list[AwsLogs]:
    """The awslogs settings of every container of the task definitions the service's deployments
    run (a rollout in progress has two)."""
    service = ecs.describe_service()
    arns = [str(d["taskDefinition"]) for d in service.get("deployments") or () if d.get("taskDefinition")]
    arns = list(dict.fromkeys([*arns, str(service["taskDefinition"])]))
    found: list[AwsLogs] = []
    for arn in arns:
        for setting in awslogs(ecs.describe_task_definition(arn).definition):
            if setting not in found:
                found.append(setting)
    return found


def _locations(settings: list[AwsLogs]) -> list[Location]:
    found: list[Location] = []
    for setting in settings:
        location = Location(setting.group, f"{setting.stream_prefix}/" if setting.stream_prefix else None)
        if location not in found:
            found.append(location)
    return found


def _read(
    ctx: Context,
    reader: LogEventReader,
    locations: list[Location],
    *,
    streams: Mapping[Location, list[str]] | None,
    since_ms: int,
    follow: bool,
    show: Callable[[list[LogLine]], None],
    until: float | None,
) -> int:
    """Read every location, page by page, and show what is ready; again and again with `follow`.
    Returns the number of lines shown."""
    interleaver = Interleaver()
    clock = ctx.clock
    next_call = clock.now()
    backoff = 0.0
    missing_said: set[str] = set()
    total = 0

    def call(location: Location, token: str | None) -> Any:
        nonlocal next_call, backoff
        while True:
            if follow:
                clock.sleep(max(0.0, next_call - clock.now()))
            try:
                page = reader.page(
                    location.group,
                    start_ms=interleaver.start(since_ms),
                    streams=streams[location] if streams else (),
                    stream_prefix=location.prefix,
                    token=token,
                )
            except Throttled:
                if not follow:
                    raise
                backoff = _THROTTLE.step(backoff)
                next_call = clock.now() + backoff
                continue
            backoff = 0.0
            next_call = clock.now() + CALL_INTERVAL
            return page

    while True:
        fresh = 0
        for location in locations:
            token: str | None = None
            while True:
                try:
                    page = call(location, token)
                except LogStreamMissing:
                    if not follow:
                        raise EnvironmentProblem(
                            f"log group {location.group} does not exist",
                            hint="check the awslogs-group of the service's task definition",
                        ) from None
                    if location.group not in missing_said:
                        ctx.reporter.info(f"log group {location.group} does not exist yet; waiting for it")
                        missing_said.add(location.group)
                    break
                except Throttled:
                    raise EnvironmentProblem(
                        f"AWS kept throttling FilterLogEvents on {location.group}",
                        hint="wait and run the command again",
                    ) from None
                fresh += interleaver.add(lines_of(page.events, location))
                if not page.next_token or page.next_token == token:
                    break
                token = page.next_token
        # A read that brought nothing new shows everything held: nothing earlier is on its way.
        ready = interleaver.ready(flush=not follow or fresh == 0)
        if ready:
            show(ready)
            total += len(ready)
        if not follow or (until is not None and clock.now() >= until):
            leftover = interleaver.ready(flush=True)
            if leftover:
                show(leftover)
                total += len(leftover)
            return total
