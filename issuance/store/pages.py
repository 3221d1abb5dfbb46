"""The statements behind the pages (``pages.sql``): sign-in, sessions and read-only views.

Tokens (session cookies, sign-in links) are stored only as their SHA-256, like
bearer tokens. Rows come back as frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from issuance.domain.roles import Role
from issuance.store.records import BatchRecord, Operator, OutletRecord, PrinterRecord
from issuance.store.store import token_digest
from sscard_core.connect import database_errors
from sscard_core.queries import load_queries

Q = load_queries("issuance.store", "pages.sql")


@dataclass(frozen=True)
class SessionRow:
    operator: Operator
    csrf: str
    expires_at: datetime


@dataclass(frozen=True)
class BankRow:
    code: str
    name: str
    institution_code: str


@dataclass(frozen=True)
class SiteMade:
    site: str
    made: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class SiteJob:
    id: int
    kind: str
    state: str
    step: str
    attempts: int
    max_attempts: int
    enqueued_at: datetime
    updated_at: datetime
    lease_owner: str | None
    last_error: str | None
    card_number: str | None
    card_status: str | None


@dataclass(frozen=True)
class MadeCard:
    card_number: str
    status: str
    at: datetime


@dataclass(frozen=True)
class JobEvidence:
    """What the service knows of a job in doubt: its card's events, spoiled bodies and the
    prints whose card may exist (attempt, card number, worker, announced at)."""

    events: tuple[tuple[str, str | None, str, datetime, str], ...]
    spoiled: tuple[tuple[str | None, str, datetime], ...]
    prints: tuple[tuple[int, str, str, datetime], ...] = ()


def _operator(row: asyncpg.Record) -> Operator:
    bank, outlet = row["bank"], row["outlet"]
    return Operator(row["id"], row["name"], Role(row["role"]), bank, outlet)


class PagesStore:
    """Named queries of ``pages.sql`` over the pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._db = pool

    # --- operators, passwords, links, sessions ------------------------------------------

    async def operator_by_name(self, name: str) -> Operator | None:
        with database_errors():
            row = await self._db.fetchrow(Q["operator_by_name"], name)
        return None if row is None else _operator(row)

    async def operator_by_id(self, operator_id: int) -> Operator | None:
        with database_errors():
            row = await self._db.fetchrow(Q["operator_by_id"], operator_id)
        return None if row is None else _operator(row)

    async def insert_link(self, token: str, operator_id: int, expires_at: datetime) -> None:
        with database_errors():
            await self._db.execute(Q["insert_link"], token_digest(token), operator_id, expires_at)

    async def use_link(self, token: str) -> int | None:
        with database_errors():
            value = await self._db.fetchval(Q["use_link"], token_digest(token))
        return None if value is None else int(value)

    async def insert_session(
        self, token: str, operator_id: int, csrf: str, expires_at: datetime
    ) -> None:
        with database_errors():
            await self._db.execute(
                Q["insert_session"], token_digest(token), operator_id, csrf, expires_at
            )

    async def touch_session(self, token: str, idle: timedelta) -> SessionRow | None:
        with database_errors():
            row = await self._db.fetchrow(Q["touch_session"], token_digest(token), idle)
        if row is None:
            return None
        return SessionRow(_operator(row), row["csrf"], row["expires_at"])

    async def delete_session(self, token: str) -> None:
        with database_errors():
            await self._db.execute(Q["delete_session"], token_digest(token))

    async def prune_sessions(self, idle: timedelta) -> None:
        with database_errors():
            await self._db.execute(Q["prune_sessions"], idle)

    # --- directory, queues, printers ---------------------------------------------------

    async def banks(self) -> list[BankRow]:
        with database_errors():
            rows = await self._db.fetch(Q["banks"])
        return [BankRow(r["code"], r["name"], r["institution_code"]) for r in rows]

    async def outlets(self) -> list[OutletRecord]:
        with database_errors():
            rows = await self._db.fetch(Q["outlets"])
        return [OutletRecord(**dict(r)) for r in rows]

    async def site_depths(self) -> dict[str, int]:
        with database_errors():
            rows = await self._db.fetch(Q["site_depths"])
        return {r["site"]: int(r["jobs"]) for r in rows}

    async def site_made_since(self, since: datetime) -> dict[str, SiteMade]:
        with database_errors():
            rows = await self._db.fetch(Q["site_made_since"], since)
        return {r["site"]: SiteMade(r["site"], r["made"], r["first"], r["last"]) for r in rows}

    async def printers(self) -> list[PrinterRecord]:
        with database_errors():
            rows = await self._db.fetch(Q["printers_all"])
        return [PrinterRecord(r["site"], r["name"], r["status"], r["fault"]) for r in rows]

    async def jobs_of_sites(self, sites: list[str], limit: int = 200) -> list[SiteJob]:
        with database_errors():
            rows = await self._db.fetch(Q["jobs_of_site"], sites, limit)
        return [SiteJob(**dict(r)) for r in rows]

    async def made_today(self, outlet: str, since: datetime) -> list[MadeCard]:
        with database_errors():
            rows = await self._db.fetch(Q["made_today"], outlet, since)
        return [MadeCard(r["card_number"], r["status"], r["at"]) for r in rows]

    async def evidence(self, job_id: int) -> JobEvidence:
        with database_errors():
            events = await self._db.fetch(Q["events_of_job_card"], job_id)
            spoiled = await self._db.fetch(Q["spoiled_of_job"], job_id)
            prints = await self._db.fetch(Q["open_prints_of_job"], job_id)
        return JobEvidence(
            tuple(
                (e["action"], e["from_status"], e["to_status"], e["at"], e["note"]) for e in events
            ),
            tuple((s["printer"], s["reason"], s["at"]) for s in spoiled),
            tuple((p["attempt"], p["card_number"], p["worker"], p["announced_at"]) for p in prints),
        )

    async def batches_of_bank(self, bank: str | None, limit: int = 20) -> list[BatchRecord]:
        with database_errors():
            rows = await self._db.fetch(Q["batches_of_bank"], bank, limit)
        return [BatchRecord(**dict(r)) for r in rows]
