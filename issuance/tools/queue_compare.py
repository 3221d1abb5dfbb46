"""The card-job queue beside pgqueuer, in the shape of pgqueuer's own throughput benchmark.

Run by ``sscard bench queue --compare pgqueuer`` (pgqueuer comes with the ``compare``
extra). pgqueuer's benchmark runs ``dequeue`` consumers, each a ``PgQueuer`` on a
connection of its own fetching ``batch`` jobs at a time, and ``enqueue`` producers,
each inserting ``batch`` jobs per statement as fast as it can, for a set time; the
figure is jobs processed per second. The same shape is run here with pgqueuer's
public API, and then with sscard's queue: ``dequeue`` workers each on a connection
of its own, claiming ``batch`` jobs and completing them in one statement, and
``enqueue`` producers each enqueuing ``batch`` per statement; a worker whose claim found
nothing waits for the enqueue notification (pgqueuer's consumers wait on theirs). Each round of each
queue starts on a database of its own, created for it, on the same server and with
the same settings, so neither gains from statistics or caches the other left.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from cardqueue.models import NewJob
from cardqueue.queue import Queue
from cardqueue.wakeups import Wakeups
from sscard_core.messages import Capability, Priority


@dataclass(frozen=True)
class Shape:
    seconds: float = 10.0
    dequeue: int = 5
    enqueue: int = 2
    batch: int = 200


@dataclass(frozen=True)
class Round:
    pgqueuer_jobs_per_s: float
    sscard_jobs_per_s: float

    @property
    def ratio(self) -> float:
        return self.sscard_jobs_per_s / self.pgqueuer_jobs_per_s if self.pgqueuer_jobs_per_s else 0


POLL_SECONDS = 0.1  # an empty claim's fallback poll, as an agent keeps one
Run = Callable[[str, Shape], Awaitable[float]]


async def _until(stop: asyncio.Event, seconds: float) -> None:
    await asyncio.sleep(seconds)
    stop.set()


async def _woken_or(woken: asyncio.Event, stop: asyncio.Event) -> None:
    """An empty claim waits for the enqueue notification (as pgqueuer's consumers do), or stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(woken.wait(), POLL_SECONDS if not stop.is_set() else 0)


async def pgqueuer_throughput(dsn: str, shape: Shape) -> float:
    """Jobs per second through pgqueuer, its schema installed on ``dsn`` first."""
    from pgqueuer import PgQueuer
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.models import Job
    from pgqueuer.queries import Queries

    conns = [await asyncpg.connect(dsn) for _ in range(1 + shape.dequeue + shape.enqueue)]
    await Queries(AsyncpgDriver(conns[0])).install()
    consumers = [PgQueuer(AsyncpgDriver(c)) for c in conns[1 : 1 + shape.dequeue]]
    producers = [Queries(AsyncpgDriver(c)) for c in conns[1 + shape.dequeue :]]
    done = 0

    for pgq in consumers:

        @pgq.entrypoint("bench")
        async def count(job: Job) -> None:
            nonlocal done
            done += 1

    stop = asyncio.Event()
    serial = itertools.count()

    async def produce(queries: Queries) -> None:
        while not stop.is_set():
            payloads: list[bytes | None] = [str(next(serial)).encode() for _ in range(shape.batch)]
            await queries.enqueue(["bench"] * shape.batch, payloads, [0] * shape.batch)

    async def timer() -> None:
        await _until(stop, shape.seconds)
        for pgq in consumers:
            pgq.shutdown.set()

    started = time.perf_counter()
    runs = [pgq.run(batch_size=shape.batch) for pgq in consumers]
    try:
        await asyncio.gather(timer(), *runs, *(produce(q) for q in producers))
        return done / (time.perf_counter() - started)
    finally:
        for conn in conns:
            conn.terminate()


async def sscard_throughput(dsn: str, shape: Shape) -> float:
    """Jobs per second through sscard's queue on ``dsn`` (already migrated)."""
    pools = [
        await asyncpg.create_pool(dsn, min_size=1, max_size=1)
        for _ in range(shape.dequeue + shape.enqueue)
    ]
    stop = asyncio.Event()
    serial = itertools.count()
    caps = [Capability.PRINT_ENCODE]

    async def produce(queue: Queue) -> None:
        while not stop.is_set():
            jobs = [
                NewJob(f"b{next(serial)}", "card", "bench-site", Capability.PRINT_ENCODE,
                       Priority.INSTANT, {"n": 1})
                for _ in range(shape.batch)
            ]  # fmt: skip
            await queue.enqueue_many(jobs)

    async def consume(queue: Queue, name: str, wakeups: Wakeups) -> int:
        done = 0
        with wakeups.watch("bench-site") as woken:
            while not stop.is_set():
                woken.clear()
                jobs = await queue.claim(name, "bench-site", caps, shape.batch)
                if jobs:
                    await queue.complete(name, [j.id for j in jobs])
                    done += len(jobs)
                else:
                    await _woken_or(woken, stop)
        return done

    queues = [Queue(p) for p in pools]
    async with Wakeups(dsn) as wakeups:
        await wakeups.connected.wait()
        started = time.perf_counter()
        results = await asyncio.gather(
            _until(stop, shape.seconds),
            *(consume(q, f"w{n}", wakeups) for n, q in enumerate(queues[: shape.dequeue])),
            *(produce(q) for q in queues[shape.dequeue :]),
        )
        elapsed = time.perf_counter() - started
    for pool in pools:
        await pool.close()
    return sum(r for r in results if isinstance(r, int)) / elapsed
