"""Test fixtures shared by every suite.

Database tests run against a real PostgreSQL: ``SSCARD_DATABASE_URL`` when it
is set, otherwise an embedded server started once for the session. The schema
is migrated once into a template database; each test gets its own copy
(``CREATE DATABASE ... TEMPLATE``), so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from issuance.db.migrate import migrate
from issuance.db.server import start_embedded
from issuance.vault import FileMasterKey, Vault
from sscard_core.connect import with_database


@contextmanager
def embedded_server() -> Iterator[Any]:
    """An embedded server in its own directory (not under pytest's tmp, whose
    permissions pytest resets: the server runs as another user)."""
    folder = Path(tempfile.mkdtemp(prefix="sscard-pg-"))
    server = start_embedded(folder / "pgdata")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    external = os.environ.get("SSCARD_DATABASE_URL")
    if external:
        yield external
        return
    with embedded_server() as server:
        yield server.get_uri()


async def _create_template(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(with_database(admin_dsn, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()
    finally:
        await admin.close()


async def _admin(admin_dsn: str, sql: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Run admin work on a private loop in a thread, away from the tests' own loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def template_db(pg_admin_dsn: str) -> Iterator[str]:
    name = f"sscard_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _run(_create_template(pg_admin_dsn, name))
    yield name
    _run(_admin(pg_admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def db_dsn(pg_admin_dsn: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated database for one test (a copy of the template)."""
    name = f"sscard_t_{uuid.uuid4().hex[:12]}"
    _run(_admin(pg_admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    yield with_database(pg_admin_dsn, name)
    _run(_admin(pg_admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def db_pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(db_dsn, min_size=1, max_size=12)
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture
async def db_vault(db_pool: asyncpg.Pool) -> Vault:
    """The data keys of the test's database, under a master key made for the test."""
    return await Vault.load(db_pool, FileMasterKey(os.urandom(32)))
