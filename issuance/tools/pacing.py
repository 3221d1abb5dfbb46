"""The load test's arrivals: each locust user starts its tasks as a Poisson process."""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class PoissonPacing:
    """A locust ``wait_time``: task starts form a Poisson process of ``rate`` per second.

    The gaps are counted from one scheduled start to the next, so a slow answer does not slow
    the arrivals; a user behind schedule catches up on at most one second of starts, and a user
    that has just arrived is behind on nothing.
    """

    def __init__(
        self, rate: float, rng: random.Random, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self._rng = rng
        self._clock = clock
        self._due: float | None = None  # the last start as scheduled

    def __call__(self, _user: object = None) -> float:
        """Seconds until the next start."""
        now = self._clock()
        last = now if self._due is None else max(self._due, now - 1.0)
        self._due = last + self._rng.expovariate(self.rate)
        return max(0.0, self._due - now)
