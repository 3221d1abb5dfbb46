"""The bureau's side over HTTP: banks' lifecycle and deadlines, outlet filings and the 70 %
rule, and the public list of cooperating banks (no login).

Decisions are a bureau administrator's (403 for anyone else); the bureau auditor reads
every bank, a bank administrator reads and files for the bank's own. Writes take an
optional ``Idempotency-Key`` like the counter services.
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import Field

from issuance.api.bureau_schemas import (
    BankOut,
    BanksOut,
    FilingOut,
    FilingsOut,
    LogOut,
    OutletsOut,
    OverdueOut,
    PublicBanksOut,
    ShareOut,
)
from issuance.api.deps import CtxDep, StoreDep
from issuance.api.direct import DirectRoute
from issuance.api.idempotency import Outcome, idempotent, render
from issuance.api.schemas import Strict, text
from issuance.domain.banks import BankStage, FilingKind
from issuance.domain.roles import Operation
from issuance.services import outlets as filing_service
from issuance.services import oversight as bureau
from issuance.services.common import check
from issuance.services.outlets import InstantShare, OutletForm
from issuance.services.oversight import BankView, DeadlineView
from issuance.store import Store
from issuance.store.oversight import FilingRow, OutletRow

router = APIRouter(route_class=DirectRoute)
BUREAU: list[str | Enum] = ["bureau"]
PUBLIC: list[str | Enum] = ["public"]
BankCode = Annotated[str, Path(min_length=2, max_length=6, pattern=r"^[A-Z0-9]+$")]
Doc = Annotated[str, text(200, 1)]
Documents = Annotated[list[Doc], Field(max_length=50)]
Note = Annotated[str, text(1000)]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "the bank's state or the rules forbid this (names the clause)"}
}


# --- bodies -------------------------------------------------------------------------------------


class BankApplicationIn(Strict):
    code: Annotated[str, text(6, 2)]
    name: Annotated[str, text(100, 1)]
    applied_on: date
    documents: Documents = Field(default_factory=list)
    note: Note = ""


class ConditionsIn(Strict):
    pboc_review_ref: Annotated[str, text(200, 1)]
    pboc_reviewed_on: date
    remote_activation_committed: bool
    documents: Documents = Field(default_factory=list)


class DecisionIn(Strict):
    stage: BankStage
    decided_on: date
    documents: Documents = Field(default_factory=list)
    note: Note = ""


class OutletFormIn(Strict):
    code: Annotated[str, text(32, 2)]
    name: Annotated[str, text(100, 1)]
    district: Annotated[str, text(6, 6)]
    address: Annotated[str, text(200, 1)]
    opening_hours: Annotated[str, text(200, 1)]
    services: Annotated[list[Annotated[str, text(32, 1)]], Field(min_length=1, max_length=20)]
    instant: bool = False
    security_terminal: bool = False
    psam_serial: Annotated[str, text(64, 1)] | None = None
    activation_only: bool = False

    def to_form(self) -> OutletForm:
        return OutletForm(
            self.code, self.name, self.district, self.address, self.opening_hours,
            tuple(self.services), self.instant, self.security_terminal, self.psam_serial,
            self.activation_only,
        )  # fmt: skip


class FilingIn(Strict):
    kind: Literal["add", "change", "close"]
    outlet: OutletFormIn | None = None
    code: Annotated[str, text(32, 2)] | None = None
    filed_on: date | None = None


class FilingDecisionIn(Strict):
    note: Note = ""


# --- views --------------------------------------------------------------------------------------


def deadline_view(d: DeadlineView | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"stage": d.stage, "clause": d.clause, "owed_by": d.owed_by, "due": d.due,
            "overdue": d.overdue, "error": d.error}  # fmt: skip


def bank_view(v: BankView) -> dict[str, Any]:
    b = v.bank
    return {
        "code": b.code, "name": b.name, "institution_code": b.institution_code,
        "stage": b.stage, "registered_as_existing": b.registered_as_existing,
        "may_order": b.stage == BankStage.ACTIVE.value, "exit_ground": b.exit_ground,
        "conditions": {"pboc_review_ref": b.pboc_review_ref,
                       "pboc_reviewed_on": b.pboc_reviewed_on,
                       "remote_activation_committed": b.remote_activation_committed,
                       "met": v.conditions_met},
        "deadline": deadline_view(v.deadline),
        "decisions": [
            {"id": d.id, "from_stage": d.from_stage, "to_stage": d.to_stage,
             "decided_on": d.decided_on, "decided_by": d.decided_by, "documents": d.documents,
             "note": d.note, "ground": d.ground, "at": d.at}
            for d in v.decisions
        ],
    }  # fmt: skip


def share_view(s: InstantShare) -> dict[str, Any]:
    return {"bank": s.bank, "instant": s.instant, "open": s.open,
            "percent": round(float(s.ratio) * 100, 1), "meets_rule": s.meets_rule,
            "required_percent": 70}  # fmt: skip


def outlet_view(o: OutletRow) -> dict[str, Any]:
    return dict(o.__dict__)


def filing_view(f: FilingRow) -> dict[str, Any]:
    out = dict(f.__dict__)
    out["instant_share_after"] = (
        None if not f.open_after else round(100 * (f.instant_after or 0) / f.open_after, 1)
    )
    return out


# --- the public list ------------------------------------------------------------------------------


@router.get("/public/banks", tags=PUBLIC, response_model=PublicBanksOut)
async def public_banks(store: StoreDep) -> Response:
    """第六条(四), 第七条: the published cooperating banks and their open outlets (address,
    hours, services, instant issuance). No login."""
    banks = await bureau.public_list(store)
    return render(200, {"banks": [b.__dict__ for b in banks]})


# --- banks ------------------------------------------------------------------------------


@router.post(
    "/v1/bureau/banks", status_code=201, tags=BUREAU, responses=CONFLICT, response_model=BankOut
)
async def register_application(body: BankApplicationIn, ctx: CtxDep) -> Response:
    """第六条(一): record a bank's written application (a bureau administrator)."""
    new = bureau.NewBank(body.code, body.name, body.applied_on, tuple(body.documents), body.note)

    async def run(tx: Store) -> Outcome:
        return 201, bank_view(await bureau.register_application(tx, ctx.op, new))

    return await idempotent(ctx, run)


@router.get("/v1/bureau/banks", tags=BUREAU, response_model=BanksOut)
async def list_banks(ctx: CtxDep, on: date | None = None) -> Response:
    """Every bank with its stage, decisions and current deadline (a bank's own for its
    administrators)."""
    views = await bureau.list_banks(ctx.store, ctx.op, on)
    return render(200, {"banks": [bank_view(v) for v in views]})


@router.get("/v1/bureau/banks/{code}", tags=BUREAU, response_model=BankOut)
async def get_bank(code: BankCode, ctx: CtxDep, on: date | None = None) -> Response:
    return render(200, bank_view(await bureau.bank_view(ctx.store, ctx.op, code, on)))


@router.post(
    "/v1/bureau/banks/{code}/conditions", tags=BUREAU, responses=CONFLICT, response_model=BankOut
)
async def record_conditions(code: BankCode, body: ConditionsIn, ctx: CtxDep) -> Response:
    """第四条: the PBOC conformity review (with its reference) and the commitment to
    nationwide remote activation, recorded before approval."""
    c = bureau.Conditions(body.pboc_review_ref, body.pboc_reviewed_on,
                          body.remote_activation_committed, tuple(body.documents))  # fmt: skip

    async def run(tx: Store) -> Outcome:
        return 200, bank_view(await bureau.record_conditions(tx, ctx.op, code, c))

    return await idempotent(ctx, run)


@router.post(
    "/v1/bureau/banks/{code}/decisions", tags=BUREAU, responses=CONFLICT, response_model=BankOut
)
async def decide(code: BankCode, body: DecisionIn, ctx: CtxDep) -> Response:
    """One step of the lifecycle (under review, approved, rejected, system integration,
    acceptance, agreement signed, published, active, suspended), decided by a bureau
    administrator with its date and the documents it refers to."""
    d = bureau.Decision(body.stage, body.decided_on, tuple(body.documents), body.note)

    async def run(tx: Store) -> Outcome:
        return 200, bank_view(await bureau.decide(tx, ctx.op, code, d))

    return await idempotent(ctx, run)


@router.get("/v1/bureau/overdue", tags=BUREAU, response_model=OverdueOut)
async def overdue(ctx: CtxDep, on: date | None = None) -> Response:
    """第六条 steps past their deadline, whichever side owes them."""
    steps = await bureau.overdue(ctx.store, ctx.op, on)
    return render(200, {"overdue": [
        {"bank": s.bank, "name": s.name, **(deadline_view(s.deadline) or {})} for s in steps
    ]})  # fmt: skip


@router.get("/v1/bureau/log", tags=BUREAU, response_model=LogOut)
async def decision_log(
    ctx: CtxDep, bank: Annotated[str | None, Query(max_length=6)] = None
) -> Response:
    """The oversight trail: every decision and record, newest first."""
    check(ctx.op, Operation.READ_OVERSIGHT, bank)
    rows = await bureau.oversight(ctx.store).read_log(ctx.op.bank or bank)
    return render(200, {"log": rows})


# --- outlets, filings, the 70 % rule ------------------------------------------------------------


@router.get("/v1/bureau/banks/{code}/outlets", tags=BUREAU, response_model=OutletsOut)
async def bank_outlets(code: BankCode, ctx: CtxDep) -> Response:
    rows = await filing_service.outlets(ctx.store, ctx.op, code)
    return render(200, {"outlets": [outlet_view(o) for o in rows]})


@router.get("/v1/bureau/banks/{code}/instant-share", tags=BUREAU, response_model=ShareOut)
async def instant_share(code: BankCode, ctx: CtxDep) -> Response:
    """第五条(四): the share of the bank's open outlets in Beijing that issue instantly."""
    return render(200, share_view(await filing_service.instant_share(ctx.store, ctx.op, code)))


@router.post(
    "/v1/bureau/banks/{code}/filings", status_code=201, tags=BUREAU, responses=CONFLICT,
    response_model=FilingOut,
)  # fmt: skip
async def file_outlet(code: BankCode, body: FilingIn, ctx: CtxDep) -> Response:
    """第七条: a bank administrator files an outlet's opening, change or closing. The filing
    is flagged when it would leave the bank below 70 % instant-issue outlets."""
    form = None if body.outlet is None else body.outlet.to_form()
    kind = FilingKind(body.kind)

    async def run(tx: Store) -> Outcome:
        filing = await filing_service.file(
            tx, ctx.op, code, kind, form, code=body.code, filed_on=body.filed_on
        )
        return 201, filing_view(filing)

    return await idempotent(ctx, run)


@router.get("/v1/bureau/filings", tags=BUREAU, response_model=FilingsOut)
async def list_filings(
    ctx: CtxDep,
    bank: Annotated[str | None, Query(max_length=6)] = None,
    outlet: Annotated[str | None, Query(max_length=32)] = None,
    status: Literal["filed", "acknowledged", "returned"] | None = None,
) -> Response:
    """Filings, newest first; an outlet's filings are its history."""
    rows = await filing_service.filings(ctx.store, ctx.op, bank=bank, outlet=outlet, status=status)
    return render(200, {"filings": [filing_view(f) for f in rows]})


@router.post(
    "/v1/bureau/filings/{filing_id}/acknowledge", tags=BUREAU, responses=CONFLICT,
    response_model=FilingOut,
)  # fmt: skip
async def acknowledge(
    filing_id: Annotated[int, Path(ge=1, le=2**62)], body: FilingDecisionIn, ctx: CtxDep
) -> Response:
    """The bureau acknowledges a filing: the outlet's live record changes."""

    async def run(tx: Store) -> Outcome:
        found = await filing_service.decide(tx, ctx.op, filing_id, acknowledge=True,
                                            note=body.note)  # fmt: skip
        return 200, filing_view(found)

    return await idempotent(ctx, run)


@router.post(
    "/v1/bureau/filings/{filing_id}/return", tags=BUREAU, responses=CONFLICT,
    response_model=FilingOut,
)  # fmt: skip
async def return_filing(
    filing_id: Annotated[int, Path(ge=1, le=2**62)], body: FilingDecisionIn, ctx: CtxDep
) -> Response:
    """The bureau returns a filing with its reason; nothing changes."""

    async def run(tx: Store) -> Outcome:
        found = await filing_service.decide(tx, ctx.op, filing_id, acknowledge=False,
                                            note=body.note)  # fmt: skip
        return 200, filing_view(found)

    return await idempotent(ctx, run)
