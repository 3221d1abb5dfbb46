"""Schema migrations: numbered ``migrations/NNNN_name.sql`` files and a full ``schema.sql``.

A fresh database gets ``schema.sql`` in one transaction and every migration is
recorded as applied; a database that has some migrations gets the missing ones,
each in its own transaction, in order. A test checks that both paths give the
same schema. Concurrent ``migrate`` runs are serialised by an advisory lock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from sscard_core.connect import database_errors

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_ID = 0x5C_CA_2D  # any constant shared by every sscard process

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration shipped with sscard, in order."""
    folder = resources.files("issuance.db").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    return found


def full_schema() -> str:
    return resources.files("issuance.db").joinpath("schema.sql").read_text(encoding="utf-8")


async def applied_versions(conn: asyncpg.Connection) -> set[int]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return set()
    return {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}


async def _record(conn: asyncpg.Connection, items: list[Migration]) -> None:
    await conn.executemany(
        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
        [(m.version, m.name) for m in items],
    )


async def migrate(conn: asyncpg.Connection, *, use_schema: bool = True) -> list[Migration]:
    """Bring the database up to date; returns what was applied.

    ``use_schema=False`` applies the numbered migrations one by one even on a
    fresh database (the test that schema.sql and the migrations agree).
    """
    with database_errors():
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
        try:
            return await _migrate_locked(conn, use_schema)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)


async def _migrate_locked(conn: asyncpg.Connection, use_schema: bool) -> list[Migration]:
    done = await applied_versions(conn)
    pending = [m for m in migrations() if m.version not in done]
    if not pending:
        return []
    if not done and use_schema:
        async with conn.transaction():
            await conn.execute(_LEDGER)
            await conn.execute(full_schema())
            await _record(conn, pending)
        return pending
    for m in pending:
        async with conn.transaction():
            await conn.execute(_LEDGER)
            await conn.execute(m.sql)
            await _record(conn, [m])
    return pending
