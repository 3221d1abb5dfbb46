"""The queue's plans on tables before any statistics exist."""

from __future__ import annotations

import asyncpg

from cardqueue import NewJob, Queue
from cardqueue.queue import Q
from sscard_core.messages import Capability, JobStep, Priority

SITES = 8
JOBS = 600_000  # at this size an unanalysed table was read by a bitmap scan and a sort
BULK_LOAD = """
INSERT INTO card_jobs (id, idempotency_key, kind, site, capability, priority, payload)
SELECT nextval('card_jobs_id_seq'), 'k' || n, 'card', 'site' || (n % $2), 'print_encode', 2,
       jsonb_build_object('n', n)
FROM generate_series(0, $1 - 1) AS n
"""


async def _plans_of_a_claim(conn: asyncpg.Connection, queue: Queue) -> str:
    """The plans of the statements the claim ran, as auto_explain shows them to the client."""
    notices: list[str] = []
    conn.add_log_listener(lambda _c, message: notices.append(str(message)))
    await conn.execute("LOAD 'auto_explain'")
    await conn.execute(
        "SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;"
        "SET auto_explain.log_level = notice"
    )
    rows = await conn.fetch(
        "SELECT id FROM card_jobs_claim($1, $2, $3, $4, $5, $6)",
        "site1", ["print_encode"], 50, "w", 30.0, None,
    )  # fmt: skip
    assert len(rows) == 50
    return "\n".join(notices)


async def test_a_claim_walks_the_index_in_order_before_any_analyze(
    db_pool: asyncpg.Pool, db_dsn: str
) -> None:
    queue = Queue(db_pool)
    await db_pool.execute("ALTER TABLE card_jobs SET (autovacuum_enabled = false)")  # no analyse
    await db_pool.execute(BULK_LOAD, JOBS, SITES)
    analysed = await db_pool.fetchval(
        "SELECT coalesce(last_analyze, last_autoanalyze) FROM pg_stat_user_tables "
        "WHERE relname = 'card_jobs'"
    )
    assert analysed is None  # no statistics yet: the case that went wrong
    conn = await asyncpg.connect(db_dsn)
    try:
        plans = await _plans_of_a_claim(conn, queue)
    finally:
        await conn.close()
    assert "Index Scan using card_jobs_queued" in plans, plans
    assert "Bitmap" not in plans and "Sort" not in plans, plans
    claimed = await queue.claim("w2", "site1", [Capability.PRINT_ENCODE], limit=3)
    assert [j.payload["n"] for j in claimed] == [401, 409, 417]  # oldest first, after those 50


def _jobs(round_: int, n: int) -> list[NewJob]:
    return [
        NewJob(f"r{round_}-{i}", "card", "s", Capability.PRINT_ENCODE, Priority.INSTANT, {"i": i})
        for i in range(n)
    ]


async def test_finishing_named_jobs_reads_the_primary_key_after_many_were_finished(
    db_pool: asyncpg.Pool,
) -> None:
    """Complete and heartbeat name their jobs by id; the leases index must not serve them.

    With the leases index partial on state = 'running', an unanalysed table had these
    statements read that index by a bitmap scan over every running entry, the dead ones
    of all jobs finished since the last vacuum included.
    """
    queue = Queue(db_pool)
    await db_pool.execute("ALTER TABLE card_jobs SET (autovacuum_enabled = false)")
    for round_ in range(20):
        await queue.enqueue_many(_jobs(round_, 200))
        held = await queue.claim("w", "s", [Capability.PRINT_ENCODE], limit=200)
        if round_ < 19:
            await queue.complete("w", [j.id for j in held])
    ids = [j.id for j in held]
    plans = []
    for sql, args in (
        (Q["complete"], (ids, "w", None)),
        (Q["heartbeat"], (ids, "w", 30.0, JobStep.PRINTING.value, None)),
    ):
        rows = await db_pool.fetch("EXPLAIN " + sql, *args)
        plans.append("\n".join(r[0] for r in rows))
    assert all("card_jobs_leases" not in plan for plan in plans), plans
    await queue.heartbeat("w", ids, JobStep.PRINTING)
    await queue.complete("w", ids)
    assert await db_pool.fetchval("SELECT count(*) FROM card_jobs") == 0


async def test_the_reaper_and_a_restarted_worker_read_the_leases_index(
    db_pool: asyncpg.Pool,
) -> None:
    queue = Queue(db_pool)
    await queue.enqueue_many(_jobs(0, 5))
    await queue.claim("w", "s", [Capability.PRINT_ENCODE], limit=5)
    async with db_pool.acquire() as conn:
        await conn.execute("SET enable_seqscan = off")
        reap = await conn.fetch("EXPLAIN " + Q["reap_expired"], None)
        release = await conn.fetch("EXPLAIN " + Q["release"], "w", [], ["s"])
    for rows in (reap, release):  # both look for running jobs among the leases
        plan = "\n".join(r[0] for r in rows)
        assert "card_jobs_leases" in plan, plan
