"""Queue hot paths: enqueue (one, and a bulk of 1,000), claim a batch, complete a batch.

    pytest benchmarks/bench_queue.py --benchmark-enable
The full-lifecycle throughput figure comes from ``sscard bench queue``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import asyncpg
import pytest
import uvloop

from cardqueue import NewJob, Queue
from sscard_core.messages import Capability, Priority

CAPS = [Capability.PRINT_ENCODE]
_serial = itertools.count()


def _jobs(n: int) -> list[NewJob]:
    return [
        NewJob(
            f"b{next(_serial)}",
            "card",
            "site",
            Capability.PRINT_ENCODE,
            Priority.INSTANT,
            {"card_number": "A00000001"},
        )
        for _ in range(n)
    ]


@pytest.fixture
def bench_queue(db_dsn: str) -> Iterator[tuple[asyncio.AbstractEventLoop, Queue]]:
    async def connect() -> asyncpg.Pool | None:
        return await asyncpg.create_pool(db_dsn, min_size=1, max_size=2)

    loop = uvloop.new_event_loop()
    pool = loop.run_until_complete(connect())
    assert pool is not None
    yield loop, Queue(pool)
    loop.run_until_complete(pool.close())
    loop.close()


def test_enqueue_one(benchmark, bench_queue) -> None:  # type: ignore[no-untyped-def]
    loop, queue = bench_queue
    benchmark(lambda: loop.run_until_complete(queue.enqueue(_jobs(1)[0])))


def test_enqueue_bulk_1000(benchmark, bench_queue) -> None:  # type: ignore[no-untyped-def]
    loop, queue = bench_queue
    result = benchmark(lambda: loop.run_until_complete(queue.enqueue_many(_jobs(1000))))
    assert len(result) == 1000


def test_claim_100(benchmark, bench_queue) -> None:  # type: ignore[no-untyped-def]
    loop, queue = bench_queue

    def setup() -> tuple[tuple[()], dict[str, object]]:
        loop.run_until_complete(queue.enqueue_many(_jobs(100)))
        return (), {}

    def claim() -> int:
        return len(loop.run_until_complete(queue.claim("w", "site", CAPS, limit=100)))

    assert benchmark.pedantic(claim, setup=setup, rounds=20) == 100


def test_complete_100(benchmark, bench_queue) -> None:  # type: ignore[no-untyped-def]
    loop, queue = bench_queue

    def setup() -> tuple[tuple[list[int]], dict[str, object]]:
        loop.run_until_complete(queue.enqueue_many(_jobs(100)))
        jobs = loop.run_until_complete(queue.claim("w", "site", CAPS, limit=100))
        return ([j.id for j in jobs],), {}

    def complete(ids: list[int]) -> None:
        loop.run_until_complete(queue.complete("w", ids))

    benchmark.pedantic(complete, setup=setup, rounds=20)
