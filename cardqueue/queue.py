"""The queue's one repository: every statement it runs is a named query in ``queries.sql``.

Guarantees and how they are kept:

- *Atomic bulk enqueue*: one statement (``UNNEST``) inserts all jobs or none;
  items are validated first and a bad one is named by its index.
- *Idempotency*: ``card_job_keys`` has the key as primary key; a concurrent
  duplicate waits on the first insert and then inserts nothing, and the job is
  looked up by key in a fresh snapshot.
- *No double delivery*: claiming is one ``UPDATE ... FROM (SELECT ... FOR UPDATE
  SKIP LOCKED)`` on a partial index of queued jobs; finishing requires the lease.
- *Nothing printed twice*: a lease that expires after the worker reported a
  physical step sends the job to ``in_doubt``, never back to the queue.

Leases, backoff and ``run_after`` are reckoned on the queue's clock: the
database's ``now()`` unless a ``clock`` is given (tests move time on instead of
sleeping).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from cardqueue.codec import PayloadCodec, PlainCodec
from cardqueue.models import Backoff, EnqueueResult, Job, NewJob, QueueStats, SiteDepth
from cardqueue.validation import validate_jobs
from sscard_core.connect import database_errors
from sscard_core.errors import JobNotFound, LeaseLost
from sscard_core.messages import Capability, JobState, JobStep, Priority, Reconciliation
from sscard_core.queries import load_queries

CHANNEL = "sscard_jobs"
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
Q = load_queries("cardqueue")
Clock = Callable[[], datetime]


# The enums by stored value: a dict lookup per column, not an enum call per column and row.
_CAPABILITIES = {c.value: c for c in Capability}
_PRIORITIES = {int(p): p for p in Priority}
_STATES = {s.value: s for s in JobState}
_STEPS = {s.value: s for s in JobStep}


# The columns every job-returning statement gives, in this order (queries.sql, schema.sql's
# card_jobs_claim): a row is unpacked by position, not looked up by name column after column.
JOB_COLUMNS = (
    "id", "idempotency_key", "kind", "site", "capability", "priority", "state", "step",
    "payload", "batch", "attempts", "max_attempts", "enqueued_at", "lease_owner",
    "lease_expires_at", "last_error", "result",
)  # fmt: skip


def _job(row: asyncpg.Record, codec: PayloadCodec) -> Job:
    (id_, key, kind, site, capability, priority, state, step, payload, batch, attempts,
     max_attempts, enqueued_at, owner, lease_until, last_error, result) = row  # fmt: skip
    return Job(
        id_, key, kind, site, _CAPABILITIES[capability], _PRIORITIES[priority], _STATES[state],
        _STEPS[step], codec.loads(payload), batch, attempts, max_attempts, enqueued_at,
        owner, lease_until, last_error,
        orjson.loads(result) if result is not None else None,
    )  # fmt: skip


def _columns(jobs: Sequence[NewJob], codec: PayloadCodec) -> tuple[list[Any], ...]:
    return (
        [j.idempotency_key for j in jobs],
        [j.kind for j in jobs],
        [j.site for j in jobs],
        [j.capability.value for j in jobs],
        [int(j.priority) for j in jobs],
        [codec.dumps(j.payload) for j in jobs],
        [j.batch for j in jobs],
        [j.max_attempts for j in jobs],
    )


class Queue:
    """The card-job queue over an asyncpg pool."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        backoff: Backoff | None = None,
        clock: Clock | None = None,
        codec: PayloadCodec | None = None,
    ) -> None:
        self._pool = pool
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._codec: PayloadCodec = codec or PlainCodec()

    def at(self, clock: Clock) -> Queue:
        """The same queue reckoning on ``clock`` (e.g. a supervisor's view an hour on)."""
        return Queue(self._pool, self._backoff, clock, self._codec)

    def _now(self) -> datetime | None:
        """The time the statements reckon with; None lets the database use its ``now()``."""
        return None if self._clock is None else self._clock()

    async def enqueue(self, job: NewJob) -> EnqueueResult:
        """Enqueue one job; a known idempotency key returns the existing job."""
        (result,) = await self.enqueue_many([job])
        return result

    async def enqueue_many(
        self, jobs: Sequence[NewJob], conn: Conn | None = None
    ) -> list[EnqueueResult]:
        """Enqueue many jobs in one round trip: all or none. Results keep the input order.

        ``conn`` runs the enqueue inside the caller's transaction (so that a
        card record and its production job are written together).
        """
        validate_jobs(jobs)
        if not jobs:
            return []
        with database_errors():
            if conn is not None:
                return await self._enqueue_on(conn, jobs)
            async with self._pool.acquire() as own, own.transaction():
                return await self._enqueue_on(own, jobs)

    async def _enqueue_on(self, conn: Conn, jobs: Sequence[NewJob]) -> list[EnqueueResult]:
        rows = await conn.fetch(Q["enqueue_many"], *_columns(jobs, self._codec), self._now())
        created = {r["idempotency_key"]: r["job_id"] for r in rows}
        missing = [j.idempotency_key for j in jobs if j.idempotency_key not in created]
        existing: dict[str, int] = {}
        if missing:
            found = await conn.fetch(Q["job_ids_by_key"], missing)
            existing = {r["idempotency_key"]: r["job_id"] for r in found}
        return [
            EnqueueResult(j.idempotency_key, created[j.idempotency_key], True)
            if j.idempotency_key in created
            else EnqueueResult(j.idempotency_key, existing[j.idempotency_key], False)
            for j in jobs
        ]

    async def claim(
        self,
        worker: str,
        site: str,
        capabilities: Sequence[Capability],
        limit: int = 1,
        lease_seconds: float = 30.0,
    ) -> list[Job]:
        """Claim up to ``limit`` jobs, highest class first, oldest first within a class."""
        caps = [c.value for c in capabilities]
        with database_errors():
            rows = await self._pool.fetch(
                Q["claim"], site, caps, limit, worker, lease_seconds, self._now()
            )
        return sorted((_job(r, self._codec) for r in rows), key=lambda j: (j.priority, j.id))

    async def heartbeat(
        self, worker: str, job_ids: Sequence[int], step: JobStep, lease_seconds: float = 30.0
    ) -> None:
        """Extend leases and record the physical step; LeaseLost names jobs no longer held."""
        ids = list(job_ids)
        with database_errors():
            rows = await self._pool.fetch(
                Q["heartbeat"], ids, worker, lease_seconds, step.value, self._now()
            )
        self._require_all(ids, rows, worker)

    async def complete(
        self,
        worker: str,
        job_ids: Sequence[int],
        results: Sequence[dict[str, Any] | None] | None = None,
        conn: Conn | None = None,
    ) -> None:
        """Finish jobs held by ``worker``; they move to history in the same statement.

        ``conn`` runs it inside the caller's transaction (the card it made
        changes state in the same commit).
        """
        ids = list(job_ids)
        texts = (
            None
            if results is None
            else [None if r is None else orjson.dumps(r).decode() for r in results]
        )
        with database_errors():
            rows = await (conn or self._pool).fetch(Q["complete"], ids, worker, texts)
        self._require_all(ids, rows, worker)

    async def fail(
        self, worker: str, job_id: int, error: str, *, transient: bool, conn: Conn | None = None
    ) -> tuple[JobState, datetime]:
        """Report a failure; returns the job's new state and when it may run again."""
        b = self._backoff
        with database_errors():
            row = await (conn or self._pool).fetchrow(
                Q["fail"],
                job_id,
                worker,
                error,
                transient,
                b.base_seconds,
                b.cap_seconds,
                self._now(),
            )
        if row is None:
            raise LeaseLost(f"{worker} does not hold job {job_id}", job_id=job_id, worker=worker)
        return JobState(row["state"]), row["run_after"]

    async def reap_expired(self) -> list[tuple[int, JobState]]:
        """Release jobs whose lease expired: requeued, or in doubt after a physical step."""
        with database_errors():
            rows = await self._pool.fetch(Q["reap_expired"], self._now())
        return [(r["id"], JobState(r["state"])) for r in rows]

    async def cancel(
        self, job_id: int, reason: str | None = None, conn: Conn | None = None
    ) -> None:
        """Cancel a queued (or dead) job, inside the transaction of ``conn`` when given."""
        await self._one(Q["cancel"], job_id, reason, wanted="queued or dead", conn=conn)

    async def redrive(self, job_id: int, conn: Conn | None = None) -> None:
        """Send a dead job back to the queue with fresh attempts."""
        await self._one(Q["redrive"], job_id, self._now(), wanted="dead", conn=conn)

    async def resolve_in_doubt(
        self,
        job_id: int,
        outcome: Reconciliation,
        note: str,
        result: dict[str, Any] | None = None,
        conn: Conn | None = None,
    ) -> None:
        """Settle an in-doubt job with what really happened to the card."""
        if outcome is Reconciliation.MADE:
            payload = orjson.dumps(result or {"note": note}).decode()
            await self._one(Q["finish_in_doubt"], job_id, payload, wanted="in_doubt", conn=conn)
        elif outcome is Reconciliation.NOT_STARTED:
            await self._one(
                Q["requeue_in_doubt"], job_id, note, self._now(), wanted="in_doubt", conn=conn
            )
        else:
            await self._one(Q["bury_in_doubt"], job_id, note, wanted="in_doubt", conn=conn)

    async def finish_by_evidence(
        self, job_id: int, result: dict[str, Any], conn: Conn | None = None
    ) -> None:
        """An in-doubt or dead job whose card was found after all: it succeeded."""
        payload = orjson.dumps(result).decode()
        await self._one(
            Q["finish_by_evidence"], job_id, payload, wanted="in_doubt or dead", conn=conn
        )

    async def release(
        self, worker: str, sites: Sequence[str], keep: Sequence[int] = ()
    ) -> list[int]:
        """Requeue the jobs of ``sites`` ``worker`` holds at step idle (but ``keep``).

        The attempt is not counted: the worker restarted before doing anything.
        """
        with database_errors():
            rows = await self._pool.fetch(Q["release"], worker, list(keep), list(sites))
        return [r["id"] for r in rows]

    async def get(self, job_id: int, conn: Conn | None = None) -> Job:
        with database_errors():
            row = await (conn or self._pool).fetchrow(Q["get_job"], job_id)
        if row is None:
            raise JobNotFound(f"no job {job_id}", job_id=job_id)
        return _job(row, self._codec)

    async def stats(self) -> QueueStats:
        with database_errors():
            async with self._pool.acquire() as conn:
                depth = await conn.fetch(Q["depth"])
                states = await conn.fetch(Q["state_counts"])
                now = await conn.fetchval("SELECT now()")
        sites = tuple(
            SiteDepth(r["site"], Priority(r["priority"]), r["depth"], r["oldest"]) for r in depth
        )
        oldest = min((s.oldest for s in sites), default=now)
        return QueueStats(
            depth=sites,
            by_state={JobState(r["state"]): r["n"] for r in states},
            oldest_age_seconds=(now - oldest).total_seconds(),
        )

    async def queued_count(self, site: str) -> int:
        with database_errors():
            count: int = await self._pool.fetchval(Q["queued_count"], site)
        return count

    async def batch_counts(self, batch: str) -> dict[tuple[JobState, JobStep], int]:
        with database_errors():
            rows = await self._pool.fetch(Q["batch_counts"], batch)
        return {(JobState(r["state"]), JobStep(r["step"])): r["n"] for r in rows}

    async def prune_history(self, before: datetime, limit: int = 10_000) -> int:
        """Forget finished jobs (and their keys) older than ``before``; returns how many."""
        with database_errors():
            rows = await self._pool.fetch(Q["prune_history"], before, limit)
        return len(rows)

    async def _one(self, sql: str, *args: Any, wanted: str, conn: Conn | None = None) -> None:
        with database_errors():
            row = await (conn or self._pool).fetchrow(sql, *args)
        if row is None:
            job_id = args[0]
            raise JobNotFound(f"no {wanted} job {job_id}", job_id=job_id, wanted_state=wanted)

    @staticmethod
    def _require_all(ids: list[int], rows: Sequence[asyncpg.Record], worker: str) -> None:
        held = {r["id"] for r in rows}
        lost = [i for i in ids if i not in held]
        if lost:
            raise LeaseLost(f"{worker} no longer holds jobs {lost}", job_ids=lost, worker=worker)
