"""Connections: the pool, and the boundary where asyncpg's errors become sscard's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from sscard_core.errors import DatabaseError

# Errors that mean "the server went away or is not ready": worth reconnecting.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    ConnectionError,
    OSError,
)


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn a lost or refused connection into DatabaseError (other errors pass through)."""
    try:
        yield
    except CONNECTION_ERRORS as exc:
        raise DatabaseError(f"database unavailable: {exc}", detail=type(exc).__name__) from exc


async def keep_session(_conn: asyncpg.Connection) -> None:
    """Reset nothing when a connection goes back to the pool.

    asyncpg's default reset runs ``pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL`` on every release: a round trip per request. sscard
    changes no session state on pooled connections (no SET, LISTEN, cursors or
    session advisory locks: those use connections of their own), and asyncpg
    still rolls back a transaction left open before calling this.
    """


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections are recycled when idle and not reset on release."""
    with database_errors():
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            max_inactive_connection_lifetime=60.0,
            # the server bounds each statement; no client-side timer per query
            server_settings={"statement_timeout": "60s"},
            reset=keep_session,
        )
    if pool is None:  # pragma: no cover - asyncpg returns None only when not awaited
        raise DatabaseError("could not create a connection pool")
    return pool


def with_database(dsn: str, name: str) -> str:
    """The DSN of database ``name`` on the same server as ``dsn``."""
    base, _, query = dsn.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}" + (f"?{query}" if query else "")
