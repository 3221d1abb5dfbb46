"""The bureau's repository: named queries of ``oversight.sql`` over the counter store's pool
or connection (``OversightStore(store.executor)`` joins the store's transaction).

Rows come back as the frozen dataclasses below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from issuance.domain.roles import Role
from issuance.store.records import Operator
from issuance.store.store import Executor
from sscard_core.errors import ConflictError
from sscard_core.queries import load_queries

Q = load_queries("issuance.store", "oversight.sql")


@dataclass(frozen=True)
class BankRow:
    code: str
    name: str
    institution_code: str
    stage: str
    registered_as_existing: bool
    pboc_review_ref: str | None
    pboc_reviewed_on: date | None
    remote_activation_committed: bool
    exit_ground: str | None
    created_at: datetime


@dataclass(frozen=True)
class DecisionRow:
    id: int
    bank: str
    from_stage: str | None
    to_stage: str
    decided_on: date
    decided_by: int | None
    documents: list[str]
    note: str
    ground: str | None
    at: datetime


@dataclass(frozen=True)
class OutletRow:
    code: str
    bank: str
    name: str
    district: str
    address: str
    can_issue_instantly: bool
    has_security_terminal: bool
    psam_serial: str | None
    open: bool
    opening_hours: str
    services: list[str]
    activation_only: bool


@dataclass(frozen=True)
class FilingRow:
    id: int
    outlet: str
    bank: str
    kind: str
    filed_on: date
    outlet_as_filed: dict[str, Any]
    at: datetime
    status: str
    filed_by: int | None
    decided_by: int | None
    decided_at: datetime | None
    decision_note: str
    instant_after: int | None
    open_after: int | None
    below_instant_share: bool


@dataclass(frozen=True)
class EvaluationRow:
    bank: str
    year: int
    cards_issued: int
    satisfaction_percent: int
    complaints: int
    publicity: int
    security_rules: int
    technical_support: int
    scores: dict[str, int]
    total: Decimal
    passed: bool
    rules: dict[str, Any]
    evaluated_on: date
    evaluated_by: int
    interviews: int


@dataclass(frozen=True)
class IncidentRow:
    id: int
    bank: str
    outlet: str | None
    kind: str
    severity: str
    description: str
    occurred_at: datetime
    reported_at: datetime
    closed_at: datetime | None
    resolution: str
    recorded_by: int
    closed_by: int | None


@dataclass(frozen=True)
class VisitRow:
    id: int
    bank: str
    outlet: str
    service: str
    appointment_at: datetime
    address: str
    status: str
    outcome: str
    card_number: str
    job_id: int | None
    created_at: datetime
    updated_at: datetime | None


def _filing(row: asyncpg.Record) -> FilingRow:
    values = dict(row)
    values["outlet_as_filed"] = orjson.loads(values["outlet_as_filed"])
    return FilingRow(**values)


def _evaluation(row: asyncpg.Record) -> EvaluationRow:
    values = dict(row)
    values["scores"] = orjson.loads(values["scores"])
    values["rules"] = orjson.loads(values["rules"])
    return EvaluationRow(**values)


class OversightStore:
    """Named queries of the bureau's side, on a pool or on one (transaction's) connection."""

    def __init__(self, executor: Executor) -> None:
        self._db = executor

    # --- banks and decisions ---------------------------------------------------------------

    async def bank(self, code: str, *, lock: bool = False) -> BankRow | None:
        row = await self._db.fetchrow(Q["bank_for_update" if lock else "bank"], code)
        return None if row is None else BankRow(**dict(row))

    async def banks(self) -> list[BankRow]:
        return [BankRow(**dict(r)) for r in await self._db.fetch(Q["banks"])]

    async def set_stage(self, code: str, stage: str, exit_ground: str | None = None) -> None:
        await self._db.execute(Q["set_bank_stage"], code, stage, exit_ground)

    async def set_conditions(
        self, code: str, reference: str, reviewed_on: date, remote_activation: bool
    ) -> None:
        await self._db.execute(
            Q["set_bank_conditions"], code, reference, reviewed_on, remote_activation
        )

    async def insert_decision(
        self, bank: str, from_stage: str | None, to_stage: str, *, decided_on: date,
        decided_by: int | None, documents: Sequence[str], note: str, ground: str | None = None,
    ) -> int:  # fmt: skip
        args = (bank, from_stage, to_stage, decided_on, decided_by, list(documents), note, ground)
        return int(await self._db.fetchval(Q["insert_decision"], *args))

    async def decisions(self, bank: str) -> list[DecisionRow]:
        return [DecisionRow(**dict(r)) for r in await self._db.fetch(Q["decisions_of_bank"], bank)]

    async def order_gate(self, bank: str, outlet: str | None) -> tuple[str, bool] | None:
        """(the bank's stage, whether the outlet only activates cards), None without a bank."""
        row = await self._db.fetchrow(Q["order_gate"], bank, outlet)
        return None if row is None else (row["stage"], bool(row["activation_only"]))

    async def log(
        self, operator: int | None, bank: str | None, action: str, subject: str,
        details: dict[str, Any],
    ) -> None:  # fmt: skip
        text = orjson.dumps(details, default=str).decode()
        await self._db.execute(Q["insert_log"], operator, bank, action, subject, text)

    async def read_log(self, bank: str | None, limit: int = 200) -> list[dict[str, Any]]:
        rows = await self._db.fetch(Q["log"], bank, limit)
        return [{**dict(r), "details": orjson.loads(r["details"])} for r in rows]

    async def operator_named(self, name: str) -> Operator | None:
        row = await self._db.fetchrow(Q["operator_by_name"], name)
        if row is None:
            return None
        return Operator(row["id"], row["name"], Role(row["role"]), row["bank"], row["outlet"])

    # --- outlets and filings -----------------------------------------------------------------

    async def outlets_of_bank(self, bank: str) -> list[OutletRow]:
        return [OutletRow(**dict(r)) for r in await self._db.fetch(Q["outlets_of_bank"], bank)]

    async def outlet(self, code: str) -> OutletRow | None:
        row = await self._db.fetchrow(Q["outlet_for_update"], code)
        return None if row is None else OutletRow(**dict(row))

    async def insert_outlet(self, o: OutletRow) -> None:
        try:
            await self._db.execute(Q["insert_outlet"], *_outlet_args(o))
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(f"outlet {o.code} exists", code="outlet_exists") from exc

    async def update_outlet(self, o: OutletRow) -> None:
        args = _outlet_args(o)
        await self._db.execute(Q["update_outlet"], args[0], *args[2:])

    async def insert_filing(
        self, o: OutletRow, kind: str, *, filed_on: date, filed_by: int, after: tuple[int, int],
        below: bool,
    ) -> int:  # fmt: skip
        filed = orjson.dumps(o.__dict__).decode()
        args = (o.code, o.bank, kind, filed_on, filed, filed_by, after[0], after[1], below)
        return int(await self._db.fetchval(Q["insert_filing"], *args))

    async def filing(self, filing_id: int) -> FilingRow | None:
        row = await self._db.fetchrow(Q["filing_for_update"], filing_id)
        return None if row is None else _filing(row)

    async def filings(
        self, bank: str | None, outlet: str | None = None, status: str | None = None
    ) -> list[FilingRow]:
        return [_filing(r) for r in await self._db.fetch(Q["filings"], bank, outlet, status)]

    async def pending_filing(self, outlet: str) -> int | None:
        found = await self._db.fetchval(Q["pending_filing_of_outlet"], outlet)
        return None if found is None else int(found)

    async def decide_filing(
        self, filing_id: int, status: str, *, operator: int, note: str, after: tuple[int, int],
        below: bool,
    ) -> None:  # fmt: skip
        await self._db.execute(
            Q["decide_filing"], filing_id, status, operator, note, after[0], after[1], below
        )

    async def public_outlets(self, stages: Sequence[str]) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._db.fetch(Q["public_outlets"], list(stages))]

    # --- spot checks, imports, evaluations, interviews ---------------------------------------

    async def insert_spot_check(
        self, bank: str, outlet: str | None, *, on: date, findings: str, ok: bool, op: int
    ) -> int:
        args = (bank, outlet, on, findings, ok, op)
        return int(await self._db.fetchval(Q["insert_spot_check"], *args))

    async def spot_checks(self, bank: str | None) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._db.fetch(Q["spot_checks"], bank)]

    async def existing_tickets(self, tickets: Sequence[str]) -> set[str]:
        rows = await self._db.fetch(Q["existing_tickets"], list(tickets))
        return {r["ticket"] for r in rows}

    async def known_outlets(self, codes: Sequence[str]) -> dict[str, str]:
        """Outlet code → its bank, for the codes that exist."""
        rows = await self._db.fetch(Q["known_outlets"], list(codes))
        return {r["code"]: r["bank"] for r in rows}

    async def insert_complaints(
        self, rows: Sequence[tuple[str, date, str, str | None, str]]
    ) -> None:
        columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[]] * 5
        await self._db.execute(Q["insert_complaints"], *columns)

    async def upsert_satisfaction(self, rows: Sequence[tuple[int, str, str, int, int]]) -> None:
        columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[]] * 5
        await self._db.execute(Q["upsert_satisfaction"], *columns)

    async def cards_issued(self, bank: str, start: datetime, end: datetime) -> int:
        return int(await self._db.fetchval(Q["cards_issued"], bank, start, end))

    async def satisfaction(self, bank: str, year: int) -> tuple[int, int]:
        row = await self._db.fetchrow(Q["satisfaction"], bank, year)
        assert row is not None
        return int(row["surveyed"]), int(row["satisfied"])

    async def complaints(self, bank: str, start: date, end: date) -> int:
        return int(await self._db.fetchval(Q["complaints"], bank, start, end))

    async def insert_evaluation(self, values: Sequence[Any]) -> bool:
        return await self._db.fetchval(Q["insert_evaluation"], *values) is not None

    async def evaluations(self, bank: str | None, year: int | None = None) -> list[EvaluationRow]:
        return [_evaluation(r) for r in await self._db.fetch(Q["evaluations"], bank, year)]

    async def insert_interview(
        self, bank: str, year: int, *, held_on: date, attendees: str, summary: str, op: int
    ) -> int:
        args = (bank, year, held_on, attendees, summary, op)
        return int(await self._db.fetchval(Q["insert_interview"], *args))

    async def interviews(self, bank: str | None) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._db.fetch(Q["interviews"], bank)]

    # --- incidents and home visits -----------------------------------------------------------

    async def insert_incident(self, values: Sequence[Any]) -> int:
        return int(await self._db.fetchval(Q["insert_incident"], *values))

    async def close_incident(self, incident: int, at: datetime, resolution: str, op: int) -> bool:
        found = await self._db.fetchval(Q["close_incident"], incident, at, resolution, op)
        return found is not None

    async def incident(self, incident: int) -> IncidentRow | None:
        row = await self._db.fetchrow(Q["incident"], incident)
        return None if row is None else IncidentRow(**dict(row))

    async def incidents(self, bank: str | None, open_only: bool) -> list[IncidentRow]:
        rows = await self._db.fetch(Q["incidents"], bank, open_only)
        return [IncidentRow(**dict(r)) for r in rows]

    async def insert_visit(self, values: Sequence[Any]) -> int:
        return int(await self._db.fetchval(Q["insert_visit"], *values))

    async def visits(self, bank: str | None, status: str | None) -> list[VisitRow]:
        return [VisitRow(**dict(r)) for r in await self._db.fetch(Q["visits"], bank, status)]

    async def visit(self, visit_id: int) -> tuple[str, str] | None:
        """(bank, status) of the visit, locked."""
        row = await self._db.fetchrow(Q["visit_for_update"], visit_id)
        return None if row is None else (row["bank"], row["status"])

    async def set_visit_status(self, visit_id: int, status: str, outcome: str) -> None:
        await self._db.execute(Q["set_visit_status"], visit_id, status, outcome)


def _outlet_args(o: OutletRow) -> tuple[Any, ...]:
    return (
        o.code, o.bank, o.name, o.district, o.address, o.can_issue_instantly,
        o.has_security_terminal, o.psam_serial, o.open, o.opening_hours, list(o.services),
        o.activation_only,
    )  # fmt: skip
