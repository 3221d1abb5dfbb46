"""The card-job queue against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from cardqueue import NewJob, Queue
from cardqueue.models import Backoff
from cardqueue.queue import JOB_COLUMNS, Q
from sscard_core.errors import InvalidJob, JobNotFound, LeaseLost
from sscard_core.messages import Capability, JobState, JobStep, Priority, Reconciliation
from tests.clock import FakeClock

ALL = [Capability.PRINT, Capability.ENCODE, Capability.PRINT_ENCODE]


def job(
    key: str, *, site: str = "outlet-1", prio: Priority = Priority.STANDARD, **kw: object
) -> NewJob:
    return NewJob(
        idempotency_key=key,
        kind="card",
        site=site,
        capability=kw.pop("cap", Capability.PRINT_ENCODE),  # type: ignore[arg-type]
        priority=prio,
        payload={"n": key},
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(db_pool: asyncpg.Pool, clock: FakeClock) -> Queue:
    return Queue(db_pool, Backoff(base_seconds=10, cap_seconds=50), clock)


async def test_priority_classes_then_fifo(queue: Queue) -> None:
    await queue.enqueue_many(
        [
            job("s1"),
            job("e1", prio=Priority.EXPEDITED),
            job("i1", prio=Priority.INSTANT),
            job("s2"),
            job("i2", prio=Priority.INSTANT),
            job("e2", prio=Priority.EXPEDITED),
        ]
    )
    order = []
    for _ in range(6):
        (claimed,) = await queue.claim("w", "outlet-1", ALL, limit=1)
        order.append(claimed.idempotency_key)
    assert order == ["i1", "i2", "e1", "e2", "s1", "s2"]
    assert await queue.claim("w", "outlet-1", ALL) == []


async def test_routing_by_site_and_capability(queue: Queue) -> None:
    await queue.enqueue_many(
        [
            job("a", site="outlet-1", cap=Capability.PRINT),
            job("b", site="outlet-1", cap=Capability.PRINT_ENCODE),
            job("c", site="line-1", cap=Capability.PRINT),
        ]
    )
    got = await queue.claim("w", "outlet-1", [Capability.PRINT], limit=10)
    assert [j.idempotency_key for j in got] == ["a"]
    got = await queue.claim("w", "line-1", ALL, limit=10)
    assert [j.idempotency_key for j in got] == ["c"]


async def test_full_lifecycle_moves_job_to_history(queue: Queue, db_pool: asyncpg.Pool) -> None:
    (res,) = await queue.enqueue_many([job("k1")])
    assert res.created
    (claimed,) = await queue.claim("w", "outlet-1", ALL)
    assert claimed.state is JobState.RUNNING and claimed.attempts == 1
    await queue.heartbeat("w", [claimed.id], JobStep.PRINTING)
    await queue.complete("w", [claimed.id], [{"card": "A1"}])
    done = await queue.get(claimed.id)
    assert done.state is JobState.SUCCEEDED and done.result == {"card": "A1"}
    assert await db_pool.fetchval("SELECT count(*) FROM card_jobs") == 0
    # the key still finds the finished job: a retried request never makes a second card
    again = await queue.enqueue(job("k1"))
    assert again.job_id == claimed.id and not again.created
    assert await db_pool.fetchval("SELECT count(*) FROM card_jobs") == 0


async def test_complete_requires_the_lease(queue: Queue) -> None:
    await queue.enqueue(job("k"))
    (claimed,) = await queue.claim("w1", "outlet-1", ALL)
    with pytest.raises(LeaseLost) as err:
        await queue.complete("w2", [claimed.id])
    assert err.value.fields["job_ids"] == [claimed.id]
    with pytest.raises(LeaseLost):
        await queue.heartbeat("w2", [claimed.id], JobStep.FED)


async def test_concurrent_claimers_never_share_a_job(queue: Queue, db_pool: asyncpg.Pool) -> None:
    total = 3000
    await queue.enqueue_many([job(f"j{i}", prio=Priority(i % 3)) for i in range(total)])
    seen: list[int] = []

    async def claimer(name: str) -> None:
        while batch := await queue.claim(name, "outlet-1", ALL, limit=25):
            seen.extend(j.id for j in batch)
            await asyncio.sleep(0)
            await queue.complete(name, [j.id for j in batch])

    await asyncio.gather(*(claimer(f"w{n}") for n in range(8)))
    counts = Counter(seen)
    assert len(counts) == total
    assert max(counts.values()) == 1
    assert await db_pool.fetchval("SELECT count(*) FROM card_jobs") == 0
    assert await db_pool.fetchval("SELECT count(*) FROM card_jobs_history") == total
    assert await db_pool.fetchval("SELECT count(DISTINCT id) FROM card_jobs_history") == total


async def test_concurrent_duplicate_enqueues_give_one_job(
    queue: Queue, db_pool: asyncpg.Pool
) -> None:
    results = await asyncio.gather(*(queue.enqueue(job("same")) for _ in range(20)))
    assert len({r.job_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert await db_pool.fetchval("SELECT count(*) FROM card_jobs") == 1


async def test_bulk_enqueue_with_an_invalid_item_enqueues_nothing(
    queue: Queue, db_pool: asyncpg.Pool
) -> None:
    jobs = [job(f"ok{i}") for i in range(10)]
    jobs.insert(7, job("bad", site=""))
    with pytest.raises(InvalidJob) as err:
        await queue.enqueue_many(jobs)
    assert err.value.fields["index"] == 7
    assert err.value.fields["field"] == "site"
    assert "bad" in err.value.message
    assert await db_pool.fetchval("SELECT count(*) FROM card_jobs") == 0
    assert await db_pool.fetchval("SELECT count(*) FROM card_job_keys") == 0


async def test_bulk_enqueue_is_atomic_in_the_database(queue: Queue, db_pool: asyncpg.Pool) -> None:
    """A row the database refuses (here: a payload that is not JSON) rolls back every row."""
    jobs = [job(f"ok{i}") for i in range(5)]
    with pytest.raises(asyncpg.InvalidTextRepresentationError):
        async with db_pool.acquire() as conn, conn.transaction():
            await queue.enqueue_many(jobs, conn=conn)
            await conn.execute("SELECT '{not json'::jsonb")
    assert await db_pool.fetchval("SELECT count(*) FROM card_jobs") == 0


async def test_expired_lease_requeues_when_nothing_physical_started(
    queue: Queue, clock: FakeClock
) -> None:
    await queue.enqueue(job("k"))
    (claimed,) = await queue.claim("w", "outlet-1", ALL, lease_seconds=30)
    clock.advance(29.9)
    assert await queue.reap_expired() == []
    clock.advance(0.2)
    assert await queue.reap_expired() == [(claimed.id, JobState.QUEUED)]
    (again,) = await queue.claim("w2", "outlet-1", ALL)
    assert again.id == claimed.id and again.attempts == 2


async def test_expired_lease_after_a_physical_step_is_in_doubt(
    queue: Queue, clock: FakeClock
) -> None:
    await queue.enqueue(job("k"))
    (claimed,) = await queue.claim("w", "outlet-1", ALL, lease_seconds=30)
    clock.advance(20)
    await queue.heartbeat("w", [claimed.id], JobStep.ENCODING, lease_seconds=30)
    clock.advance(20)  # past the claim's lease, within the heartbeat's
    assert await queue.reap_expired() == []
    clock.advance(11)
    assert await queue.reap_expired() == [(claimed.id, JobState.IN_DOUBT)]
    assert await queue.claim("w2", "outlet-1", ALL) == []
    stats = await queue.stats()
    assert stats.in_doubt == 1
    in_doubt = await queue.get(claimed.id)
    assert in_doubt.step is JobStep.ENCODING and "encoding" in (in_doubt.last_error or "")


async def test_a_late_idle_heartbeat_does_not_hide_a_physical_step(
    queue: Queue, clock: FakeClock
) -> None:
    """An older periodic beat (step idle) arriving after the ``fed`` announcement."""
    await queue.enqueue(job("k"))
    (claimed,) = await queue.claim("w", "outlet-1", ALL, lease_seconds=30)
    await queue.heartbeat("w", [claimed.id], JobStep.FED, lease_seconds=30)
    await queue.heartbeat("w", [claimed.id], JobStep.IDLE, lease_seconds=30)
    assert (await queue.get(claimed.id)).step is JobStep.FED
    clock.advance(31)
    assert await queue.reap_expired() == [(claimed.id, JobState.IN_DOUBT)]


@pytest.mark.parametrize(
    ("outcome", "state"),
    [
        (Reconciliation.MADE, JobState.SUCCEEDED),
        (Reconciliation.NOT_STARTED, JobState.QUEUED),
        (Reconciliation.FAILED, JobState.DEAD),
    ],
)
async def test_reconciling_in_doubt(
    queue: Queue, clock: FakeClock, outcome: Reconciliation, state: JobState
) -> None:
    await queue.enqueue(job("k"))
    (claimed,) = await queue.claim("w", "outlet-1", ALL, lease_seconds=30)
    await queue.heartbeat("w", [claimed.id], JobStep.PRINTING, lease_seconds=30)
    clock.advance(31)
    await queue.reap_expired()
    await queue.resolve_in_doubt(claimed.id, outcome, note="journal says so")
    assert (await queue.get(claimed.id)).state is state
    with pytest.raises(JobNotFound):
        await queue.resolve_in_doubt(claimed.id, outcome, note="twice")


async def test_transient_failures_back_off_then_dead_letter(queue: Queue, clock: FakeClock) -> None:
    await queue.enqueue(job("k", max_attempts=3))
    for attempt in range(1, 4):
        claimed = await queue.claim("w", "outlet-1", ALL)
        assert claimed and claimed[0].attempts == attempt
        state, run_after = await queue.fail("w", claimed[0].id, "ribbon out", transient=True)
        assert state is (JobState.QUEUED if attempt < 3 else JobState.DEAD)
        if state is JobState.QUEUED:
            delay = (run_after - clock.now).total_seconds()
            full = min(50, 10 * 2 ** (attempt - 1))
            assert full / 2 <= delay <= full  # full jitter within [50 %, 100 %]
            clock.advance(delay - 0.5)
            assert await queue.claim("w", "outlet-1", ALL) == []  # still backing off
            clock.advance(1)
    dead = await queue.get(claimed[0].id)
    assert dead.state is JobState.DEAD and dead.last_error == "ribbon out"
    assert (await queue.stats()).dead == 1
    await queue.redrive(dead.id)
    (again,) = await queue.claim("w", "outlet-1", ALL)
    assert again.attempts == 4  # numbers are never reused: a print is recorded per attempt
    state, _ = await queue.fail("w", again.id, "ribbon out", transient=True)
    assert state is JobState.QUEUED  # a fresh set of three attempts


async def test_backoff_delays_the_retry(db_pool: asyncpg.Pool) -> None:
    queue = Queue(db_pool, Backoff(base_seconds=60, cap_seconds=300))
    await queue.enqueue(job("k"))
    (claimed,) = await queue.claim("w", "outlet-1", ALL)
    _, run_after = await queue.fail("w", claimed.id, "jam", transient=True)
    delay = (run_after - datetime.now(UTC)).total_seconds()
    assert 25 <= delay <= 61  # 60 s jittered to 50-100 %
    assert await queue.claim("w", "outlet-1", ALL) == []


async def test_permanent_failure_is_dead_at_once(queue: Queue) -> None:
    await queue.enqueue(job("k"))
    (claimed,) = await queue.claim("w", "outlet-1", ALL)
    state, _ = await queue.fail("w", claimed.id, "chip refused", transient=False)
    assert state is JobState.DEAD


async def test_cancel_queued_but_not_running(queue: Queue) -> None:
    a, b = await queue.enqueue_many([job("a"), job("b")])
    await queue.cancel(a.job_id, "holder left")
    assert (await queue.get(a.job_id)).state is JobState.CANCELLED
    (running,) = await queue.claim("w", "outlet-1", ALL)
    assert running.id == b.job_id
    with pytest.raises(JobNotFound):
        await queue.cancel(b.job_id)


async def test_one_notification_per_statement(
    queue: Queue, db_dsn: str, db_pool: asyncpg.Pool
) -> None:
    listener = await asyncpg.connect(db_dsn)
    got: list[str] = []
    marked = asyncio.Event()

    def heard(*args: object) -> None:
        got.append(str(args[3]))
        if args[3] == "marker":
            marked.set()

    await listener.add_listener("sscard_jobs", heard)
    try:
        await queue.enqueue_many([job(f"k{i}", site=f"s{i % 3}") for i in range(300)])
        # notifications arrive in commit order: once the marker is heard, all before it were
        await db_pool.execute("SELECT pg_notify('sscard_jobs', 'marker')")
        await asyncio.wait_for(marked.wait(), timeout=30)
    finally:
        await listener.close()
    assert len(got) == 2 and got[1] == "marker"
    assert sorted(got[0].split(",")) == ["s0", "s1", "s2"]


async def test_stats_depth_and_age(queue: Queue) -> None:
    await queue.enqueue_many(
        [job("a", prio=Priority.INSTANT), job("b"), job("c"), job("d", site="line-1")]
    )
    stats = await queue.stats()
    depth = {(d.site, d.priority): d.depth for d in stats.depth}
    assert depth == {
        ("line-1", Priority.STANDARD): 1,
        ("outlet-1", Priority.INSTANT): 1,
        ("outlet-1", Priority.STANDARD): 2,
    }
    assert stats.by_state == {JobState.QUEUED: 4}
    assert stats.oldest_age_seconds >= 0


async def test_prune_history_forgets_old_jobs_and_keys(queue: Queue, db_pool: asyncpg.Pool) -> None:
    await queue.enqueue_many([job(f"k{i}") for i in range(5)])
    claimed = await queue.claim("w", "outlet-1", ALL, limit=5)
    await queue.complete("w", [j.id for j in claimed])
    assert await queue.prune_history(datetime.now(UTC) - timedelta(days=1)) == 0
    assert await queue.prune_history(datetime.now(UTC) + timedelta(seconds=1)) == 5
    assert await db_pool.fetchval("SELECT count(*) FROM card_jobs_history") == 0
    assert await db_pool.fetchval("SELECT count(*) FROM card_job_keys") == 0


async def test_every_job_statement_returns_the_job_columns_in_order(
    queue: Queue, db_pool: asyncpg.Pool
) -> None:
    """Jobs are unpacked by position: the claim and the look-up must give JOB_COLUMNS, in order."""
    await queue.enqueue_many([job("a"), job("b")])
    claimed = await db_pool.fetch(Q["claim"], "outlet-1", ["print_encode"], 1, "w", 30.0, None)
    queued = await db_pool.fetchrow(Q["get_job"], claimed[0]["id"] + 1)
    await queue.complete("w", [claimed[0]["id"]], [{"made": True}])
    finished = await db_pool.fetchrow(Q["get_job"], claimed[0]["id"])
    for row in (claimed[0], queued, finished):
        assert row is not None
        assert tuple(row.keys()) == JOB_COLUMNS
    done = await queue.get(claimed[0]["id"])
    assert (done.idempotency_key, done.state, done.result) == (
        "a",
        JobState.SUCCEEDED,
        {"made": True},
    )
    waiting = await queue.get(claimed[0]["id"] + 1)
    assert (waiting.payload, waiting.state, waiting.step, waiting.lease_owner) == (
        {"n": "b"}, JobState.QUEUED, JobStep.IDLE, None,
    )  # fmt: skip
