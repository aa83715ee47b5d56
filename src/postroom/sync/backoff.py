"""Exponential backoff with full jitter (docs/sync.md, "Failures"). Pure but for the clock
and random source, which are injected.

``Backoff().next_delay()`` gives 0..2 s, then 0..4 s, 0..8 s, ... capped at 15 min; after 10
minutes without a failure it starts again from the bottom. Full jitter spreads reconnects of
many accounts after a server outage instead of hammering it in step.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    base: float = 2.0
    cap: float = 900.0
    healthy_after: float = 600.0
    """Seconds without a failure after which the next failure counts as the first."""
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0
    last_failure_at: float | None = None

    def next_delay(self) -> float:
        """Record a failure and return how long to wait before trying again."""
        now = self.clock()
        if self.last_failure_at is not None and now - self.last_failure_at > self.healthy_after:
            self.failures = 0
        self.failures += 1
        self.last_failure_at = now
        ceiling = min(self.cap, self.base * 2 ** min(self.failures - 1, 30))
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.failures = 0
        self.last_failure_at = None
