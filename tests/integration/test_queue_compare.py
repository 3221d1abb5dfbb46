"""``sscard bench queue --compare pgqueuer``: both queues run one shape on scratch databases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from issuance.db.migrate import migrate
from issuance.tools import queue_compare as qc
from sscard_core.connect import with_database

SHAPE = qc.Shape(seconds=1.0, dequeue=2, enqueue=1, batch=50)


@pytest.fixture
async def scratch(pg_admin_dsn: str) -> AsyncIterator[str]:
    name = f"sscard_cmp_t_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(pg_admin_dsn, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_pgqueuer_processes_jobs_in_its_benchmark_shape(scratch: str) -> None:
    rate = await qc.pgqueuer_throughput(scratch, SHAPE)
    assert rate > 0
    conn = await asyncpg.connect(scratch)
    try:
        assert await conn.fetchval("SELECT to_regclass('pgqueuer') IS NOT NULL")
    finally:
        await conn.close()


async def test_sscard_completes_jobs_in_the_same_shape(scratch: str) -> None:
    conn = await asyncpg.connect(scratch)
    try:
        await migrate(conn)
        rate = await qc.sscard_throughput(scratch, SHAPE)
        completed = await conn.fetchval("SELECT count(*) FROM card_jobs_history")
    finally:
        await conn.close()
    assert rate > 0 and completed > 0


def test_the_ratio_is_ours_over_theirs() -> None:
    assert qc.Round(pgqueuer_jobs_per_s=5000, sscard_jobs_per_s=12500).ratio == 2.5
