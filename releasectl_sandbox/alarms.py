"""The sandbox's CloudWatch alarms on the load balancer's 5xx rate, fed by the load balancers.

moto stores alarms but never evaluates them: nothing sends it metrics. The sandbox's load
balancers count, per target group and per period, the requests they forward and the 5xx
answers the targets give (AWS/ApplicationELB's RequestCount and HTTPCode_Target_5XX_Count); a
RateAlarm evaluates them as infra/releasectl.yaml's Target5xxAlarm is defined: the 5xx share
of requests above the threshold (percent) in `datapoints` of the last `periods` periods, missing
data not breaching. Periods are scaled as the sandbox scales minutes (docs/sandbox.md): a
60-second period lasts `minute` seconds.

A state change is written to moto's alarm (SetAlarmState), so `aws cloudwatch describe-alarms`
shows it, and the ECS simulator reads `firing()` to roll back a deployment that names the alarm
in its deploymentConfiguration.alarms.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

OK, ALARM = "OK", "ALARM"


@dataclass
class RateAlarm:
    name: str
    target_groups: frozenset[str]
    threshold: float  # percent of requests answered 5xx
    periods: int  # EvaluationPeriods
    datapoints: int  # DatapointsToAlarm
    period_s: float  # one period, in sandbox seconds
    state: str = OK
    reason: str = ""
    # period index -> [requests, 5xx answers]
    _buckets: dict[int, list[int]] = field(default_factory=dict)

    def record(self, status: int, at: float) -> None:
        bucket = self._buckets.setdefault(math.floor(at / self.period_s), [0, 0])
        bucket[0] += 1
        if 500 <= status <= 599:
            bucket[1] += 1

    def evaluate(self, at: float) -> bool:
        """Evaluate the last `periods` complete periods; True if the state changed."""
        current = math.floor(at / self.period_s)
        window = range(current - self.periods, current)
        breaching = []
        for index in window:
            requests, errors = self._buckets.get(index, (0, 0))
            rate = 100.0 * errors / requests if requests else 0.0
            if rate > self.threshold:
                breaching.append(f"{rate:.1f}% ({errors} of {requests})")
        for index in [i for i in self._buckets if i < current - self.periods]:
            del self._buckets[index]
        state = ALARM if len(breaching) >= self.datapoints else OK
        if state == self.state:
            return False
        self.state = state
        if state == ALARM:
            self.reason = (
                f"sandbox: target 5xx rate above {self.threshold:g}% in {len(breaching)} of the last "
                f"{self.periods} periods: {', '.join(breaching)}"
            )
        else:
            self.reason = f"sandbox: target 5xx rate at or below {self.threshold:g}% again"
        return True


@dataclass
class AlarmBook:
    """The alarms of one account and region, and the load balancers' reports to them."""

    on_change: Callable[[RateAlarm], None] = lambda _alarm: None
    clock: Callable[[], float] = time.monotonic
    lock: threading.Lock = field(default_factory=threading.Lock)
    _alarms: dict[str, RateAlarm] = field(default_factory=dict)

    def add(self, alarm: RateAlarm) -> None:
        with self.lock:
            self._alarms[alarm.name] = alarm

    def record(self, target_group: str, status: int) -> None:
        """A target of `target_group` answered a request forwarded by a load balancer."""
        at = self.clock()
        with self.lock:
            for alarm in self._alarms.values():
                if target_group in alarm.target_groups:
                    alarm.record(status, at)

    def evaluate(self) -> None:
        at = self.clock()
        with self.lock:
            changed = [alarm for alarm in self._alarms.values() if alarm.evaluate(at)]
        for alarm in changed:
            self.on_change(alarm)

    def firing(self, names: Iterable[str]) -> list[str]:
        """Those of `names` in ALARM now."""
        with self.lock:
            return [n for n in names if (a := self._alarms.get(n)) is not None and a.state == ALARM]

    def state(self, name: str) -> str | None:
        with self.lock:
            alarm = self._alarms.get(name)
            return alarm.state if alarm is not None else None
