"""The service's own database role: every table's rows, but the audit trail only appended to.

``sscard db grant-service ROLE`` gives an existing role what the service
needs and no more: it may read and write every table except the audit trail,
which it may only read and insert into (the chain head moves through a
``SECURITY DEFINER`` trigger). Run the service as that role (in
``SSCARD_DATABASE_URL``) and keep the owner's role for migrations; the
append-only triggers hold for every role, the owner included.
"""

from __future__ import annotations

import re

import asyncpg

from sscard_core.errors import FieldError, NotFound

ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
APPEND_ONLY = ("audit_log", "audit_chain_head", "audit_pending")


def _statements(role: str) -> list[str]:
    r = f'"{role}"'
    tables = ", ".join(APPEND_ONLY)
    return [
        f"GRANT USAGE ON SCHEMA public TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {r}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {tables} FROM {r}",
        f"REVOKE INSERT ON audit_chain_head FROM {r}",
    ]


async def grant_service(conn: asyncpg.Connection, role: str) -> None:
    """Grant ``role`` the service's privileges (it must exist: roles belong to the cluster)."""
    if not ROLE.fullmatch(role):
        raise FieldError("role", "must be a lower-case PostgreSQL identifier")
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role):
        raise NotFound(f"no database role {role}: CREATE ROLE it first", resource="role")
    async with conn.transaction():
        for statement in _statements(role):
            await conn.execute(statement)
