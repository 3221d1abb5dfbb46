"""schema.sql and the numbered migrations must produce the same schema."""

from __future__ import annotations

import uuid

import asyncpg

from issuance.db.migrate import migrate, migrations
from sscard_core.connect import with_database

CATALOG = """
SELECT 'column' AS kind, table_name || '.' || column_name AS name,
       data_type || ' null=' || is_nullable || ' default=' || coalesce(column_default, '') AS def
FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'constraint', conrelid::regclass || '.' || conname, pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'storage', a.attrelid::regclass || '.' || a.attname, a.attstorage::text
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0
  AND a.attstorage <> t.typstorage
UNION ALL
SELECT 'sequence', sequencename, data_type::text FROM pg_sequences WHERE schemaname = 'public'
UNION ALL
SELECT 'function', p.proname, pg_get_functiondef(p.oid)
FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
UNION ALL
SELECT 'type', t.typname, t.typtype::text FROM pg_type t
WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd', 'c')
  AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)
ORDER BY 1, 2, 3
"""


async def _schema(admin_dsn: str, *, use_schema: bool) -> list[tuple[str, str, str]]:
    name = f"sscard_m_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await asyncpg.connect(with_database(admin_dsn, name))
        try:
            applied = await migrate(conn, use_schema=use_schema)
            assert [m.version for m in applied] == [m.version for m in migrations()]
            rows = await conn.fetch(CATALOG)
            assert await migrate(conn) == []  # idempotent
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
    return [(r["kind"], r["name"], r["def"]) for r in rows]


async def test_schema_sql_matches_migrations(pg_admin_dsn: str) -> None:
    from_migrations = await _schema(pg_admin_dsn, use_schema=False)
    from_schema = await _schema(pg_admin_dsn, use_schema=True)
    assert from_migrations, "the catalog query found nothing"
    assert from_schema == from_migrations


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [m.version for m in migrations()]
    assert versions == list(range(1, len(versions) + 1))
