"""A holder is found by the blind index of the citizen ID, whatever plan the statement gets.

A prepared statement is planned generically after a few runs. With ``ORDER BY id LIMIT 1`` on
the table, that generic plan walked the primary key in order and filtered every holder until the
first match: the whole table for a person not yet known (every new application).
"""

from __future__ import annotations

import hashlib

import asyncpg
import pytest

from issuance.store.store import Q

HOLDERS = 3_000
BULK = """
INSERT INTO holders (citizen_id_index, sealed, sealed_address, gender, birth_date, ethnicity,
                     birthplace, bank)
SELECT sha256(n::text::bytea), '\\x00'::bytea, '\\x00'::bytea, '1', '1990-01-01', 1, '110101', 'B1'
FROM generate_series(1, $1) AS n
"""


async def _holders(db_pool: asyncpg.Pool, count: int) -> None:
    """``count`` holders of one bank, written in bulk (no statistics taken)."""
    await db_pool.execute(
        "INSERT INTO banks (code, name, institution_code, stage, registered_as_existing) "
        "VALUES ('B1', 'bank', '123456789012', 'active', true)"
    )
    await db_pool.execute(BULK, count)


def _index(n: int) -> bytes:
    return hashlib.sha256(str(n).encode()).digest()


async def _generic_plan(
    conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record], sql: str, keys: list[bytes]
) -> str:
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    await conn.execute(f"PREPARE lookup (bytea[]) AS {sql}")
    try:
        async with conn.transaction():
            literal = ", ".join(f"'\\x{k.hex()}'::bytea" for k in keys)
            rows = await conn.fetch(
                f"EXPLAIN (ANALYZE, COSTS OFF) EXECUTE lookup(ARRAY[{literal}])"
            )
    finally:
        await conn.execute("DEALLOCATE lookup")
    return "\n".join(r[0] for r in rows)


@pytest.mark.parametrize("name", ["holder_by_citizen_id", "holder_by_citizen_id_unlocked"])
async def test_the_holder_is_found_through_the_blind_index_under_a_generic_plan(
    db_pool: asyncpg.Pool, name: str
) -> None:
    await _holders(db_pool, HOLDERS)
    async with db_pool.acquire() as conn:
        for keys in ([b"\x00" * 32], [_index(HOLDERS - 1)]):  # unknown, and known late in id order
            plan = await _generic_plan(conn, Q[name], keys)
            assert "holders_citizen_id_index" in plan, plan
            assert "Filter: (citizen_id_index" not in plan, plan
            assert "Rows Removed by Filter" not in plan, plan
        await conn.execute("RESET plan_cache_mode")


async def test_under_two_index_keys_the_oldest_holder_is_the_one(db_pool: asyncpg.Pool) -> None:
    await _holders(db_pool, 10)
    ids = {
        n: await db_pool.fetchval("SELECT id FROM holders WHERE citizen_id_index = $1", _index(n))
        for n in (3, 7)
    }
    for name in ("holder_by_citizen_id", "holder_by_citizen_id_unlocked"):
        async with db_pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(Q[name], [_index(7), _index(3)])
            assert row is not None and row["id"] == ids[3]
            assert await conn.fetchrow(Q[name], [b"\x00" * 32]) is None
