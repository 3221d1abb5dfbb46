"""What the audit trail's hash chain costs: one audit row, and the 10,000 rows a batch writes.

    pytest benchmarks/bench_audit.py --benchmark-enable

Both run with the chain's insert trigger (``chained``) and, for comparison,
with the chain triggers switched off on a copy of the table's rules
(``plain``): the difference is the trigger's work (advisory lock, the previous
hash, the canonical text and its SHA-256).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest
import uvloop

SINGLE = (
    "INSERT INTO audit_log (operator, bank, purpose, action, detail)"
    " VALUES ($1, 'BK', 'query_status', 'read', 'bench')"
)
BULK = (
    "INSERT INTO audit_log (operator, bank, purpose, action)"
    " SELECT $1, 'BK', 'batch_manifest', 'read' FROM generate_series(1, $2)"
)
PLAIN = (
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain;"
    " ALTER TABLE audit_log DISABLE TRIGGER audit_log_head;"
    " ALTER TABLE audit_log ALTER COLUMN prev_hash DROP NOT NULL;"
    " ALTER TABLE audit_log ALTER COLUMN hash DROP NOT NULL;"
    " ALTER TABLE audit_log DROP CONSTRAINT audit_log_prev_hash_length;"
    " ALTER TABLE audit_log DROP CONSTRAINT audit_log_hash_length;"
    " ALTER TABLE audit_log ALTER COLUMN id SET DEFAULT nextval('audit_log_seq')"
)


@pytest.fixture(params=["chained", "plain"])
def audited(
    request: pytest.FixtureRequest, db_dsn: str
) -> Iterator[tuple[asyncio.AbstractEventLoop, asyncpg.Connection, int]]:
    loop = uvloop.new_event_loop()
    conn = loop.run_until_complete(asyncpg.connect(db_dsn))
    bank = (
        "INSERT INTO banks (code, name, institution_code, stage)"
        " VALUES ('BK', 'b', '110000000001', 'active')"
    )
    loop.run_until_complete(conn.execute(bank))
    operator = "INSERT INTO operators (name, role, bank) VALUES ('o', 'clerk', 'BK') RETURNING id"
    op = loop.run_until_complete(conn.fetchval(operator))
    if request.param == "plain":
        loop.run_until_complete(conn.execute(PLAIN))
    yield loop, conn, int(op)
    loop.run_until_complete(conn.close())
    loop.close()


def test_one_audit_row(benchmark, audited) -> None:  # type: ignore[no-untyped-def]
    loop, conn, op = audited
    benchmark(lambda: loop.run_until_complete(conn.execute(SINGLE, op)))


def test_a_batch_of_10000_audit_rows(benchmark, audited) -> None:  # type: ignore[no-untyped-def]
    loop, conn, op = audited
    benchmark.pedantic(
        lambda: loop.run_until_complete(conn.execute(BULK, op, 10_000)), rounds=5, iterations=1
    )
