"""A worker: claims jobs for one site, runs a handler, finishes or fails them.

It survives the database going away: claims, heartbeats and completions that
fail on a lost connection are retried with a backoff until the server is
back, and the LISTEN connection is re-opened. A handler reports the physical
step it is at through ``Lease.step`` (a heartbeat), which decides whether an
expired lease sends the job back to the queue or to ``in_doubt``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

from cardqueue.models import Job
from cardqueue.queue import CHANNEL, Queue
from sscard_core.connect import CONNECTION_ERRORS, create_pool
from sscard_core.errors import DatabaseError, LeaseLost, QueueError
from sscard_core.messages import Capability, JobStep

log = logging.getLogger(__name__)
T = TypeVar("T")


class TransientJobError(QueueError):
    """Raised by a handler for a failure worth retrying (the job is retried with backoff)."""

    code = "transient_job_failure"


@dataclass
class Lease:
    """A handler's hold on its job."""

    queue: Queue
    worker: str
    job: Job
    lease_seconds: float
    current: JobStep = JobStep.IDLE

    async def step(self, step: JobStep) -> None:
        """Record the physical step before doing it (a heartbeat that must reach the server)."""
        self.current = step
        await self.queue.heartbeat(self.worker, [self.job.id], step, self.lease_seconds)


Handler = Callable[[Job, Lease], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class WorkerConfig:
    name: str
    site: str
    capabilities: Sequence[Capability]
    batch: int = 1
    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
    reconnect_seconds: float = 0.5


class Worker:
    """Runs until ``stop`` is set."""

    def __init__(self, dsn: str, config: WorkerConfig, handler: Handler) -> None:
        self._dsn = dsn
        self._config = config
        self._handler = handler
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self.processed = 0
        self._last_reap = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        pool = await self._retry(lambda: create_pool(self._dsn, min_size=1, max_size=4), stop)
        if pool is None:
            return
        try:
            queue = Queue(pool)
            while not stop.is_set():
                await self._ensure_listener(stop)
                jobs = await self._retry(lambda: self._claim(queue), stop) or []
                if jobs:
                    await asyncio.gather(*(self._run_one(queue, j, stop) for j in jobs))
                else:
                    await self._idle(queue, stop)
        finally:
            await self._close_listener()
            await pool.close()

    async def _claim(self, queue: Queue) -> list[Job]:
        c = self._config
        return await queue.claim(c.name, c.site, c.capabilities, c.batch, c.lease_seconds)

    async def _run_one(self, queue: Queue, job: Job, stop: asyncio.Event) -> None:
        lease = Lease(queue, self._config.name, job, self._config.lease_seconds)
        beat = asyncio.create_task(self._heartbeat(lease))
        try:
            result = await self._handler(job, lease)
        except TransientJobError as exc:
            await self._fail(queue, lease, str(exc), transient=True, stop=stop)
            return
        except DatabaseError:
            raise
        except Exception as exc:  # a handler bug or a permanent failure: dead-letter it
            log.exception("job %s failed", job.id)
            await self._fail(queue, lease, repr(exc), transient=False, stop=stop)
            return
        finally:
            beat.cancel()
        try:
            await self._retry(lambda: queue.complete(lease.worker, [job.id], [result]), stop)
        except LeaseLost:
            # the lease ran out (e.g. while the database was away) and the job was
            # released: whoever holds it now finishes it
            log.warning("job %s finished after its lease was lost", job.id)
            return
        self.processed += 1

    async def _fail(
        self, queue: Queue, lease: Lease, error: str, *, transient: bool, stop: asyncio.Event
    ) -> None:
        job_id = lease.job.id
        await self._retry(
            lambda: queue.fail(lease.worker, job_id, error, transient=transient), stop
        )

    async def _heartbeat(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(lease.lease_seconds / 3)
            try:
                await lease.step(lease.current)
            except DatabaseError:
                log.warning("heartbeat for job %s failed; retrying", lease.job.id)
            except LeaseLost:
                log.warning("lease on job %s lost", lease.job.id)
                return

    async def _retry(self, action: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T | None:
        delay = self._config.reconnect_seconds
        while not stop.is_set():
            try:
                return await action()
            except DatabaseError as exc:
                log.warning("database unavailable (%s); retrying in %.1fs", exc, delay)
                await self._close_listener()
                await _sleep_or_stop(stop, delay)
                delay = min(delay * 2, 5.0)
        return None

    async def _ensure_listener(self, stop: asyncio.Event) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(self._dsn)
            await self._listener.add_listener(CHANNEL, self._on_notify)
        except CONNECTION_ERRORS:
            self._listener = None  # polling carries on until the server is back

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        if not isinstance(payload, str):
            return
        if payload == "*" or self._config.site in payload.split(","):
            self._wake.set()

    async def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.terminate()

    async def _idle(self, queue: Queue, stop: asyncio.Event) -> None:
        """Wait for a notification, a poll tick or ``stop``; reap expired leases now and then."""
        now = asyncio.get_running_loop().time()
        if now - self._last_reap >= self._config.lease_seconds:
            self._last_reap = now
            await self._retry(queue.reap_expired, stop)
        self._wake.clear()
        waits = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
        await asyncio.wait(
            waits, timeout=self._config.poll_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for w in waits:
            w.cancel()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
