"""How long to wait before calling again something that is still under way. Pure.

One shape for every wait in the product: the rollout waiter's polls of the service, the build log
follower's retries after throttling (`releasectl build` and `logs --follow`), and the stack and
change-set waits of `infra`. The interval starts at `first`, grows by `factor` after each call that
showed nothing new, up to `maximum`, and drops back to `first` on a change. Each pause is the
interval with jitter, so many clients waiting together do not call in step; at least `per_call`
seconds for each call just made, so a wait makes about one call a second at most whatever it
fetched; and never past the deadline. What counts as a change and when to stop are the caller's
decisions; so are the clock and the random source.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    first: float
    maximum: float
    factor: float = 2.0
    jitter: float = 0.0  # each pause is the interval times a random factor in [1-jitter, 1+jitter]
    per_call: float = 1.0

    def step(self, interval: float, *, changed: bool = False) -> float:
        """The interval after a call: `first` after a change, else grown (to `first` from nothing)."""
        if changed:
            return self.first
        return min(self.maximum, max(self.first, interval * self.factor))

    def pause(
        self,
        interval: float,
        *,
        rng: random.Random | None = None,
        calls: int = 0,
        remaining: float | None = None,
    ) -> float:
        """How long to sleep now: the interval, jittered by ``rng``, at least ``per_call`` for each
        of the ``calls`` just made, and no longer than the ``remaining`` time before the deadline."""
        pause = interval * rng.uniform(1 - self.jitter, 1 + self.jitter) if rng and self.jitter else interval
        pause = max(pause, calls * self.per_call)
        return pause if remaining is None else max(0.0, min(pause, remaining))
