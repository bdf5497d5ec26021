"""Follow a CodeBuild build's CloudWatch log stream until the build is over (docs/design.md §5).

What is followed is anything with an id, a terminal flag and a log location (`Followed`): a
CodeBuild build, or a one-off ECS task (`releasectl run`), under the same rules.

The follower is a loop over small pure decisions: `decide()` looks at the state and the
time and says what to do next (read logs, poll the build, wait, or stop); the `on_*`
functions fold each answer back into a new state. Only `follow()` does I/O, through the
readers it is given, so every timing rule is testable with a scripted client and a
FakeClock.

Rules it keeps:
- the log group/stream may not exist yet: ResourceNotFoundException is "not yet", not an error;
- pages are read with nextForwardToken; the same token coming back means "no new data";
- each line is shown once, in order (the token is only advanced by a successful read);
- it stops only when the build is terminal and two consecutive reads, both started after
  the terminal status was seen, found nothing (CodeBuild may flush its last lines late);
- on throttling that outlived botocore's retries it backs off instead of failing (core.backoff);
- GetLogEvents at most once per `log_interval` (1 s), so a readable line is shown within
  about a second and the average stays at or below one call per second;
- build status is polled every `status_interval` seconds, not on every log read; and at once
  when the output pauses (a read finds nothing new right after one that found lines), since a
  build's last lines are followed by silence, provided the last poll is `log_interval` old.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Generic, Protocol, TypeVar

from releasectl.core.backoff import Backoff
from releasectl.core.clock import Clock


@dataclass(frozen=True)
class LogLocation:
    group: str
    stream: str


@dataclass(frozen=True)
class LogPage:
    lines: Sequence[str]
    next_token: str | None


class LogStreamMissing(Exception):
    """The log group or stream does not exist (yet)."""


class Throttled(Exception):
    """AWS still throttled the call after botocore's own retries."""


class Followed(Protocol):
    """What the follower needs of the thing whose logs it follows (a build, a one-off task)."""

    @property
    def id(self) -> str: ...
    @property
    def terminal(self) -> bool: ...
    @property
    def logs_enabled(self) -> bool: ...
    @property
    def log_location(self) -> LogLocation | None: ...
    @property
    def default_log_location(self) -> LogLocation: ...


BuildInfo = TypeVar("BuildInfo", bound=Followed)
_Read = TypeVar("_Read", bound=Followed, covariant=True)


class LogReader(Protocol):
    def read(self, location: LogLocation, token: str | None) -> LogPage:
        """One GetLogEvents page; raises LogStreamMissing or Throttled."""
        ...


class BuildReader(Protocol[_Read]):
    def get(self, build_id: str) -> _Read:
        """The build as CodeBuild reports it now; raises Throttled."""
        ...


# No jitter: one follower follows one build; there is no crowd of clients to spread out.
_THROTTLE = Backoff(first=2.0, maximum=30.0)


@dataclass(frozen=True)
class FollowPolicy:
    log_interval: float = 1.0
    status_interval: float = 3.0
    throttle: Backoff = _THROTTLE
    empty_reads_to_finish: int = 2


# ----------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class ReadLogs:
    pass


@dataclass(frozen=True)
class PollStatus:
    pass


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Done:
    timed_out: bool


Action = ReadLogs | PollStatus | Wait | Done


@dataclass(frozen=True)
class FollowState(Generic[BuildInfo]):
    build: BuildInfo
    read_logs: bool
    location: LogLocation | None
    deadline: float | None
    next_status_at: float
    next_log_at: float
    token: str | None = None
    stream_seen: bool = False
    empty_reads_since_terminal: int = 0
    log_backoff: float = 0.0  # 0: not throttled
    status_backoff: float = 0.0
    lines_shown: int = 0
    last_read_had_lines: bool = False
    last_status_at: float = float("-inf")


def _location_for(build: Followed, current: LogLocation | None) -> LogLocation | None:
    if not build.logs_enabled:
        return None
    # Names CodeBuild reports beat our guess of the default names.
    return build.log_location or current or build.default_log_location


def initial_state(
    build: BuildInfo, *, now: float, deadline: float | None, read_logs: bool, policy: FollowPolicy
) -> FollowState[BuildInfo]:
    return FollowState(
        build=build,
        read_logs=read_logs,
        location=_location_for(build, None),
        deadline=deadline,
        # The caller has just fetched the build, so the first status poll can wait.
        next_status_at=now + policy.status_interval,
        last_status_at=now,
        next_log_at=now,
    )


def decide(state: FollowState[BuildInfo], now: float, policy: FollowPolicy) -> Action:
    reading = state.read_logs and state.location is not None
    if state.build.terminal:
        if not reading or state.empty_reads_since_terminal >= policy.empty_reads_to_finish:
            return Done(timed_out=False)
        if state.deadline is not None and now >= state.deadline:
            # The outcome is known; only trailing lines would be lost.
            return Done(timed_out=False)
    elif state.deadline is not None and now >= state.deadline:
        return Done(timed_out=True)
    if not state.build.terminal and now >= state.next_status_at:
        return PollStatus()
    if reading and now >= state.next_log_at:
        return ReadLogs()
    wake = []
    if not state.build.terminal:
        wake.append(state.next_status_at)
    if reading:
        wake.append(state.next_log_at)
    if state.deadline is not None:
        wake.append(state.deadline)
    return Wait(max(0.0, min(wake) - now))


def on_status(
    state: FollowState[BuildInfo], build: BuildInfo, now: float, policy: FollowPolicy
) -> FollowState[BuildInfo]:
    location = _location_for(build, state.location)
    moved = location != state.location
    newly_terminal = build.terminal and not state.build.terminal
    return replace(
        state,
        build=build,
        location=location,
        token=None if moved else state.token,
        stream_seen=False if moved else state.stream_seen,
        empty_reads_since_terminal=0 if newly_terminal else state.empty_reads_since_terminal,
        next_status_at=now + policy.status_interval,
        last_status_at=now,
        status_backoff=0.0,
    )


def on_status_throttled(
    state: FollowState[BuildInfo], now: float, policy: FollowPolicy
) -> FollowState[BuildInfo]:
    backoff = policy.throttle.step(state.status_backoff)
    return replace(state, status_backoff=backoff, next_status_at=now + max(policy.status_interval, backoff))


def on_page(
    state: FollowState[BuildInfo],
    page: LogPage,
    *,
    sent_token: str | None,
    started: float,
    policy: FollowPolicy,
) -> FollowState[BuildInfo]:
    # Only "no lines and the same token back" is the end of the stream for now; an empty
    # page with a new token can still be followed by data.
    at_end = not page.lines and sent_token is not None and page.next_token == sent_token
    empty_reads = state.empty_reads_since_terminal
    if state.build.terminal:
        empty_reads = empty_reads + 1 if at_end else 0
    next_status_at = state.next_status_at
    paused = at_end and state.last_read_had_lines and not state.build.terminal
    if paused and started - state.last_status_at >= policy.log_interval and not state.status_backoff:
        next_status_at = min(next_status_at, started)
    return replace(
        state,
        token=page.next_token or sent_token,
        stream_seen=True,
        empty_reads_since_terminal=empty_reads,
        next_log_at=started + policy.log_interval,
        next_status_at=next_status_at,
        log_backoff=0.0,
        lines_shown=state.lines_shown + len(page.lines),
        last_read_had_lines=bool(page.lines),
    )


def on_missing(
    state: FollowState[BuildInfo], *, started: float, policy: FollowPolicy
) -> FollowState[BuildInfo]:
    empty_reads = state.empty_reads_since_terminal + 1 if state.build.terminal else 0
    return replace(
        state,
        empty_reads_since_terminal=empty_reads,
        next_log_at=started + policy.log_interval,
        log_backoff=0.0,
    )


def on_log_throttled(
    state: FollowState[BuildInfo], now: float, policy: FollowPolicy
) -> FollowState[BuildInfo]:
    backoff = policy.throttle.step(state.log_backoff)
    return replace(state, log_backoff=backoff, next_log_at=now + backoff)


# ----------------------------------------------------------------------------- the loop


@dataclass(frozen=True)
class FollowResult(Generic[BuildInfo]):
    build: BuildInfo
    timed_out: bool
    lines_shown: int
    stream_seen: bool
    log_reads: int
    status_polls: int
    throttled: int


def follow(
    build: BuildInfo,
    *,
    builds: BuildReader[BuildInfo],
    logs: LogReader,
    clock: Clock,
    emit: Callable[[str], None],
    deadline: float | None = None,
    read_logs: bool = True,
    policy: FollowPolicy | None = None,
    on_change: Callable[[BuildInfo, BuildInfo], None] | None = None,
) -> FollowResult[BuildInfo]:
    """Show the build's log lines through `emit` until it is over (or `deadline` passes).

    `on_change(old, new)` is told about every status poll, so the caller can report phases.
    """
    policy = policy or FollowPolicy()
    state = initial_state(build, now=clock.now(), deadline=deadline, read_logs=read_logs, policy=policy)
    log_reads = status_polls = throttled = 0
    while True:
        now = clock.now()
        action = decide(state, now, policy)
        if isinstance(action, Done):
            return FollowResult(
                build=state.build,
                timed_out=action.timed_out,
                lines_shown=state.lines_shown,
                stream_seen=state.stream_seen,
                log_reads=log_reads,
                status_polls=status_polls,
                throttled=throttled,
            )
        if isinstance(action, Wait):
            clock.sleep(action.seconds)
        elif isinstance(action, PollStatus):
            status_polls += 1
            try:
                fresh = builds.get(state.build.id)
            except Throttled:
                throttled += 1
                state = on_status_throttled(state, clock.now(), policy)
                continue
            if on_change is not None:
                on_change(state.build, fresh)
            state = on_status(state, fresh, clock.now(), policy)
        else:
            assert state.location is not None
            log_reads += 1
            sent = state.token
            try:
                page = logs.read(state.location, sent)
            except LogStreamMissing:
                state = on_missing(state, started=now, policy=policy)
                continue
            except Throttled:
                throttled += 1
                state = on_log_throttled(state, clock.now(), policy)
                continue
            for line in page.lines:
                emit(line)
            state = on_page(state, page, sent_token=sent, started=now, policy=policy)


def read_all(logs: LogReader, location: LogLocation, *, emit: Callable[[str], None]) -> int | None:
    """Print everything the stream holds now; the number of lines, or None if there is no stream.

    For a one-off dump there is no need to wait between pages: botocore's retries absorb
    occasional throttling, and the loop ends when the token repeats.
    """
    token: str | None = None
    shown = 0
    while True:
        try:
            page = logs.read(location, token)
        except LogStreamMissing:
            return None if token is None else shown
        for line in page.lines:
            emit(line)
        shown += len(page.lines)
        if page.next_token is None or page.next_token == token:
            return shown
        token = page.next_token
