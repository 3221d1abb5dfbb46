"""A clock that tests move on by hand, for the queue's leases and backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """Starts at the real time; moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def later(minutes: float = 1) -> FakeClock:
    """A clock ``minutes`` ahead of now: every lease taken on the real clock has run out."""
    clock = FakeClock()
    clock.advance(minutes * 60)
    return clock
