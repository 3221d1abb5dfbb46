"""What the foreign-key checks cost the database when a batch writes its rows.

Each row a batch inserts is checked against the rows its foreign keys name: one
index look-up (and a key-share lock) per key and row, run by PostgreSQL's
referential-integrity triggers. This benchmark writes the batch's card events as
the batch does (one ``INSERT ... SELECT unnest($1)`` of 10,000 rows, three
foreign keys: card, operator, outlet) and measures the database backend's CPU,
alternately with the checks and without them. "Without" switches the triggers
off for the transaction (``session_replication_role = replica``, which needs a
superuser; the rows are rolled back): a measurement only, never a setting.

Printed with ``-s``: the backend's core-seconds per round and the share of the
statement's cost that the checks take. Run with
``pytest benchmarks/bench_foreign_keys.py --benchmark-enable -s``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import asyncpg
import psutil
import pytest

from benchmarks.bench_batches import _fresh_batch, _Line
from issuance.store.store import Q

ROUNDS = 5


async def _backend_cpu(conn: asyncpg.Connection, pid: int) -> float:
    await conn.fetchval("SELECT 1")  # the statement before has been answered in full
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def _one_round(conn: asyncpg.Connection, pid: int, args: tuple[object, ...],
                     *, checked: bool) -> float:  # fmt: skip
    """The backend's CPU for inserting the events (rolled back)."""
    async with conn.transaction():
        if not checked:
            await conn.execute("SET LOCAL session_replication_role = replica")
        before = await _backend_cpu(conn, pid)
        await conn.execute(Q["insert_events_bulk"], *args)
        raise _Rollback(await _backend_cpu(conn, pid) - before)  # and the rows roll back


class _Rollback(Exception):
    def __init__(self, spent: float) -> None:
        super().__init__()
        self.spent = spent


async def _measure(dsn: str, operator: int, outlet: str | None) -> dict[bool, list[float]]:
    conn = await asyncpg.connect(dsn)
    try:
        if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            pytest.skip("switching the triggers off needs a superuser")
        pid = int(await conn.fetchval("SELECT pg_backend_pid()"))
        cards = [int(r["id"]) for r in await conn.fetch("SELECT id FROM cards ORDER BY id")]
        args = (cards, "order", None, "requested", operator, outlet, datetime.now(UTC))
        spent: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(ROUNDS):
            for checked in (True, False):
                try:
                    await _one_round(conn, pid, args, checked=checked)
                except _Rollback as done:
                    spent[checked].append(done.spent)
        return spent
    finally:
        await conn.close()


def test_what_the_foreign_keys_of_10000_card_events_cost(db_dsn: str, tmp_path: Path) -> None:
    line = _Line(db_dsn)
    try:
        line.submit(*_fresh_batch(tmp_path, 700))  # 10,000 cards, with their holders and photos
        operator, outlet = line.op.id, line.op.outlet
    finally:
        line.close()
    spent = asyncio.run(_measure(db_dsn, operator, outlet))
    with_checks, without = median(spent[True]), median(spent[False])
    assert with_checks > 0
    print(f"\n10,000 card events (3 foreign keys), backend core-s, {ROUNDS} rounds each:")
    print("  with the checks:    " + ", ".join(f"{s:.3f}" for s in spent[True]))
    print("  without the checks: " + ", ".join(f"{s:.3f}" for s in spent[False]))
    print(f"  the checks take {1 - without / with_checks:.0%} of the statement's cost "
          f"(medians), {(with_checks - without) / 30_000 * 1e6:.1f} µs a check")  # fmt: skip
