"""Queue throughput: bulk enqueue, and the full lifecycle enqueue → claim → complete.

Run by ``sscard bench queue``. Two phases on a fresh database:

1. *bulk enqueue*: one producer inserts jobs in statements of ``enqueue_batch``
   for ``seconds / 3``;
2. *lifecycle*: producers keep the queue fed while ``workers`` workers each
   claim ``batch`` jobs at a time and complete them in one statement, for
   ``seconds``; completions per second is the headline.

Both phases run with the server's durable settings (synchronous_commit on,
logged tables), which are printed with the figures.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import asyncpg

from cardqueue.models import NewJob
from cardqueue.queue import Queue
from sscard_core.messages import Capability, Priority

SETTINGS = ("server_version", "synchronous_commit", "fsync", "wal_level", "shared_buffers")


@dataclass(frozen=True)
class BenchConfig:
    seconds: float = 10.0
    workers: int = 8
    batch: int = 100
    enqueue_batch: int = 2000
    producers: int = 2


@dataclass
class BenchResult:
    config: BenchConfig
    settings: dict[str, str]
    bulk_enqueued: int = 0
    bulk_seconds: float = 0.0
    lifecycle_enqueued: int = 0
    lifecycle_completed: int = 0
    lifecycle_seconds: float = 0.0
    hot_rows_after: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def bulk_rate(self) -> float:
        return self.bulk_enqueued / self.bulk_seconds if self.bulk_seconds else 0.0

    @property
    def lifecycle_rate(self) -> float:
        return self.lifecycle_completed / self.lifecycle_seconds if self.lifecycle_seconds else 0.0

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["bulk_enqueue_jobs_per_s"] = round(self.bulk_rate)
        out["lifecycle_jobs_per_s"] = round(self.lifecycle_rate)
        return out


_serial = itertools.count()


def _jobs(n: int, run: str) -> list[NewJob]:
    return [
        NewJob(
            idempotency_key=f"{run}-{next(_serial)}",
            kind="card",
            site="bench-site",
            capability=Capability.PRINT_ENCODE,
            priority=Priority.INSTANT,
            payload={"card_number": "A00000001", "name": "张三"},
        )
        for _ in range(n)
    ]


async def server_settings(pool: asyncpg.Pool) -> dict[str, str]:
    rows = await pool.fetch("SELECT name, setting FROM pg_settings WHERE name = ANY($1)", SETTINGS)
    return {r["name"]: r["setting"] for r in rows}


async def _bulk(queue: Queue, cfg: BenchConfig, run: str) -> tuple[int, float]:
    """``producers`` concurrent bulk enqueuers, as several counters and batches would be."""
    start = time.perf_counter()
    deadline = start + cfg.seconds / 3

    async def producer(n: int) -> int:
        done = 0
        while time.perf_counter() < deadline:
            await queue.enqueue_many(_jobs(cfg.enqueue_batch, f"{run}{n}"))
            done += cfg.enqueue_batch
        return done

    counts = await asyncio.gather(*(producer(n) for n in range(cfg.producers)))
    return sum(counts), time.perf_counter() - start


async def _producer(queue: Queue, cfg: BenchConfig, stop: asyncio.Event, run: str) -> int:
    made = 0
    while not stop.is_set():
        if await queue.queued_count("bench-site") < cfg.workers * cfg.batch * 4:
            await queue.enqueue_many(_jobs(cfg.batch * cfg.workers, run))
            made += cfg.batch * cfg.workers
        else:
            await asyncio.sleep(0.001)
    return made


async def _worker(queue: Queue, cfg: BenchConfig, stop: asyncio.Event, name: str) -> int:
    done = 0
    caps = [Capability.PRINT_ENCODE]
    while not stop.is_set():
        jobs = await queue.claim(name, "bench-site", caps, limit=cfg.batch)
        if jobs:
            await queue.complete(name, [j.id for j in jobs])
            done += len(jobs)
        else:
            await asyncio.sleep(0.001)
    return done


async def run_bench(
    dsn: str, cfg: BenchConfig, progress: Callable[[str], None] = lambda _: None
) -> BenchResult:
    pool = await asyncpg.create_pool(
        dsn, min_size=cfg.workers + cfg.producers + 1, max_size=cfg.workers + cfg.producers + 2
    )
    assert pool is not None
    try:
        queue = Queue(pool)
        result = BenchResult(cfg, await server_settings(pool))
        progress("bulk enqueue")
        result.bulk_enqueued, result.bulk_seconds = await _bulk(queue, cfg, "bulk")
        await pool.execute("TRUNCATE card_jobs, card_job_keys, card_jobs_history")
        await pool.execute("VACUUM ANALYZE card_jobs")
        progress("lifecycle")
        stop = asyncio.Event()
        producers = [
            asyncio.create_task(_producer(queue, cfg, stop, f"p{i}")) for i in range(cfg.producers)
        ]
        workers = [
            asyncio.create_task(_worker(queue, cfg, stop, f"w{i}")) for i in range(cfg.workers)
        ]
        start = time.perf_counter()
        await asyncio.sleep(cfg.seconds)
        stop.set()
        result.lifecycle_completed = sum(await asyncio.gather(*workers))
        result.lifecycle_seconds = time.perf_counter() - start
        result.lifecycle_enqueued = sum(await asyncio.gather(*producers))
        result.hot_rows_after = await pool.fetchval("SELECT count(*) FROM card_jobs")
        return result
    finally:
        await pool.close()
