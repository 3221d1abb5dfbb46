"""The load test's arrivals: a Poisson process per user, with a bounded catch-up."""

from __future__ import annotations

import random

from issuance.tools.pacing import PoissonPacing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_user_that_has_just_arrived_waits_a_drawn_gap_not_zero() -> None:
    """A new user's first wait is an exponential gap of mean 1/rate; it is owed no backlog."""
    rng, clock = random.Random(7), Clock()
    waits = [PoissonPacing(3.0, rng, clock)() for _ in range(2000)]
    assert sum(w == 0.0 for w in waits) == 0
    assert 0.30 < sum(waits) / len(waits) < 0.37


def test_starts_on_schedule_average_the_rate() -> None:
    rng, clock = random.Random(8), Clock()
    pacing = PoissonPacing(5.0, rng, clock)
    starts = 0
    end = clock.now + 200.0
    while clock.now < end:
        clock.now += pacing()
        starts += 1
    assert 950 < starts < 1050


def test_a_user_behind_schedule_catches_up_on_at_most_one_second() -> None:
    """After a 30 s stall (slow answers) the user fires back to back only for the starts of the
    last second, then returns to its rate."""
    rng, clock = random.Random(9), Clock()
    pacing = PoissonPacing(10.0, rng, clock)
    pacing()
    clock.now += 30.0
    immediate = 0
    while pacing() == 0.0:
        immediate += 1
    assert 3 <= immediate <= 25
