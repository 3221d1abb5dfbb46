"""Where roles exist, the service's role may only read and insert into the audit trail."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from issuance.db.roles import grant_service
from issuance.domain.roles import Role
from issuance.services import admin, audit
from issuance.store import Store
from issuance.vault import FileMasterKey, Vault
from sscard_core.errors import NotFound


def _as(dsn: str, role: str) -> str:
    parts = urlsplit(dsn)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


@pytest.fixture
async def service_role(db_dsn: str) -> AsyncIterator[str]:
    role = f"sscard_svc_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(db_dsn)
    await conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        await grant_service(conn, role)
        yield role
    finally:
        await conn.execute(f'DROP OWNED BY "{role}"')
        await conn.execute(f'DROP ROLE "{role}"')
        await conn.close()


async def test_the_service_role_appends_but_cannot_change_the_trail(
    db_dsn: str, service_role: str
) -> None:
    owner = await asyncpg.create_pool(db_dsn, min_size=1, max_size=2)
    assert owner is not None
    try:
        vault = await Vault.load(owner, FileMasterKey(os.urandom(32)))
        await admin.create_bank(Store(owner, vault), "BKA", "Bank A", active=True)
        made = await admin.create_operator(Store(owner, vault), "auditor", Role.BUREAU_AUDITOR)
    finally:
        await owner.close()
    pool = await asyncpg.create_pool(_as(db_dsn, service_role), min_size=1, max_size=2)
    assert pool is not None
    try:
        store = Store(pool, vault)
        op = await store.operator_by_token(made.token)
        assert op is not None
        await store.audit(op, "security", None, "sign_in")
        await store.audit(op, "security", None, "sign_out")
        assert (await audit.verify(store)).checked == 2
        for sql in ("UPDATE audit_log SET detail = 'x'", "DELETE FROM audit_log",
                    "TRUNCATE audit_log", "UPDATE audit_chain_head SET last_id = 99"):  # fmt: skip
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await pool.execute(sql)
    finally:
        await pool.close()


async def test_granting_to_a_missing_role_is_refused(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        with pytest.raises(NotFound):
            await grant_service(conn, "no_such_role_here")
    finally:
        await conn.close()
