"""Exponential backoff with full jitter: bounds, cap, reset after a healthy spell."""

from __future__ import annotations

import random

from postroom.sync.backoff import Backoff


class Highest(random.Random):
    """A random source that always draws the top of the range: the delay's ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_ceiling_doubles_from_the_base_up_to_the_cap():
    backoff = Backoff(base=2.0, cap=900.0, clock=Clock(), rng=Highest())
    ceilings = [backoff.next_delay() for _ in range(12)]
    assert ceilings[:5] == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert ceilings[-3:] == [900.0, 900.0, 900.0]


def test_delays_are_spread_over_the_whole_range_so_accounts_do_not_retry_in_step():
    delays = [Backoff(rng=random.Random(seed)).next_delay() for seed in range(200)]
    assert all(0.0 <= d <= 2.0 for d in delays)
    assert min(delays) < 0.2
    assert max(delays) > 1.8
    assert len(set(delays)) == len(delays)


def test_a_failure_after_a_healthy_spell_counts_as_the_first_again():
    clock = Clock()
    backoff = Backoff(base=2.0, healthy_after=600.0, clock=clock, rng=Highest())
    for _ in range(6):
        backoff.next_delay()
    clock.now += 599.0
    assert backoff.next_delay() == 128.0  # still failing: the seventh
    clock.now += 601.0
    assert backoff.next_delay() == 2.0


def test_reset_starts_again_from_the_base():
    backoff = Backoff(base=2.0, clock=Clock(), rng=Highest())
    for _ in range(4):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 2.0
