"""``sscard db``: the schema and the job history."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import asyncpg
from rich.console import Console

from issuance.cli.common import run
from issuance.config import Settings
from issuance.db.migrate import migrate
from issuance.db.roles import grant_service
from issuance.db.server import DatabaseServer
from issuance.runtime import Runtime
from sscard_core.connect import database_errors

out = Console(highlight=False)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="database schema and maintenance")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    m = dbsub.add_parser("migrate", help="apply the schema migrations")
    m.set_defaults(func=lambda a: run(_migrate()))
    p = dbsub.add_parser(
        "prune-history", help="forget finished jobs and kept idempotent answers past their time"
    )
    p.add_argument("--days", type=int, default=180, help="keep finished jobs this many days")
    p.add_argument(
        "--answer-days", type=int, default=7,
        help="keep answers for Idempotency-Key retries this many days (default 7)",
    )  # fmt: skip
    p.set_defaults(func=lambda a: run(_prune(a.days, a.answer_days)))
    g = dbsub.add_parser(
        "grant-service", help="give a role the service's privileges (the audit trail: insert only)"
    )
    g.add_argument("role", help="an existing PostgreSQL role")
    g.set_defaults(func=lambda a: run(_grant(a.role)))


async def _grant(role: str) -> int:
    async with DatabaseServer(Settings.from_env()) as server:
        with database_errors():
            conn = await asyncpg.connect(server.dsn)
        try:
            await grant_service(conn, role)
        finally:
            await conn.close()
    out.print(f"role {role} may use every table; the audit trail only by SELECT and INSERT")
    return 0


async def _migrate() -> int:
    async with DatabaseServer(Settings.from_env()) as server:
        with database_errors():
            conn = await asyncpg.connect(server.dsn)
        try:
            applied = await migrate(conn)
        finally:
            await conn.close()
    for m in applied:
        out.print(f"applied {m.version:04d}_{m.name}")
    out.print("schema is up to date" if not applied else f"{len(applied)} migration(s) applied")
    return 0


async def _prune(days: int, answer_days: int) -> int:
    now = datetime.now(UTC)
    total = 0
    async with Runtime(Settings.from_env()) as rt:
        while n := await rt.queue.prune_history(now - timedelta(days=days)):
            total += n
        answers = await rt.store.prune_idempotency(now - timedelta(days=answer_days))
    out.print(f"forgot {total} finished job(s) older than {days} days")
    out.print(f"forgot {answers} idempotent answer(s) older than {answer_days} days")
    return 0
