"""Test fixtures shared by every suite.

Database tests run against a real PostgreSQL: ``SSCARD_DATABASE_URL`` when it
is set, otherwise an embedded server started once for the session. The schema
is migrated once into a template database; each test gets its own copy
(``CREATE DATABASE ... TEMPLATE``), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from issuance.db.connect import with_database
from issuance.db.migrate import migrate
from issuance.db.server import start_embedded


@pytest.fixture(scope="session")
def pg_admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("SSCARD_DATABASE_URL")
    if external:
        yield external
        return
    server = start_embedded(Path(tmp_path_factory.mktemp("pg")) / "pgdata")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
async def template_db(pg_admin_dsn: str) -> str:
    name = f"sscard_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(with_database(pg_admin_dsn, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()
    finally:
        await admin.close()
    return name


@pytest.fixture
async def db_dsn(pg_admin_dsn: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"sscard_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    finally:
        await admin.close()
    yield with_database(pg_admin_dsn, name)
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def db_pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(db_dsn, min_size=1, max_size=12)
    assert pool is not None
    yield pool
    await pool.close()
