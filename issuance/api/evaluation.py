"""The bureau's evaluation over HTTP (第九条, 第十条): spot checks, CSV imports of surveys
and 12345 complaints, the yearly evaluation and its PDF report, interviews and exit; the
incidents register (第五条(八)); home visits for every counter service."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field

from issuance.api.bureau import CONFLICT, BankCode, Doc, Note, bank_view
from issuance.api.bureau_schemas import (
    BankOut,
    EvaluationOut,
    EvaluationsOut,
    ImportedOut,
    IncidentOut,
    IncidentsOut,
    InterviewOut,
    InterviewsOut,
    SpotCheckOut,
    SpotChecksOut,
    VisitBookedOut,
    VisitsOut,
)
from issuance.api.deps import CtxDep
from issuance.api.direct import DirectRoute
from issuance.api.idempotency import Outcome, digest_of, idempotent, render
from issuance.api.schemas import Strict, text
from issuance.domain.banks import ExitGround
from issuance.domain.counter_services import Service
from issuance.services import evaluation, incidents
from issuance.services import oversight as bureau
from issuance.store import Store
from issuance.store.oversight import EvaluationRow, IncidentRow, VisitRow
from sscard_core.errors import PayloadTooLarge

router = APIRouter(route_class=DirectRoute)
BUREAU: list[str | Enum] = ["bureau"]
INCIDENTS: list[str | Enum] = ["incidents"]
VISITS: list[str | Enum] = ["counter"]
Id = Annotated[int, Path(ge=1, le=2**62)]
Year = Annotated[int, Path(ge=2000, le=2100)]
ROWS_REJECTED: dict[int | str, dict[str, Any]] = {
    413: {"description": "the file is over its size cap (read no further)"},
    422: {"description": "rows refused: each error names its line and field; nothing imported"},
}


class SpotCheckIn(Strict):
    bank: Annotated[str, text(6, 2)]
    outlet: Annotated[str, text(32, 2)] | None = None
    checked_on: date
    findings: Annotated[str, text(4000, 1)]
    satisfactory: bool


class EvaluationIn(Strict):
    bank: Annotated[str, text(6, 2)]
    year: Annotated[int, Field(ge=2000, le=2100)]
    publicity: Annotated[int, Field(ge=0, le=100)]
    security_rules: Annotated[int, Field(ge=0, le=100)]
    technical_support: Annotated[int, Field(ge=0, le=100)]
    evaluated_on: date


class InterviewIn(Strict):
    bank: Annotated[str, text(6, 2)]
    year: Annotated[int, Field(ge=2000, le=2100)]
    held_on: date
    attendees: Annotated[str, text(1000, 1)]
    summary: Annotated[str, text(4000, 1)]


class ExitIn(Strict):
    ground: ExitGround
    decided_on: date
    documents: Annotated[list[Doc], Field(min_length=1, max_length=50)]
    note: Note = ""


class IncidentIn(Strict):
    bank: Annotated[str, text(6, 2)] | None = None
    outlet: Annotated[str, text(32, 2)] | None = None
    kind: incidents.IncidentKind
    severity: incidents.Severity
    description: Annotated[str, text(4000, 1)]
    occurred_at: datetime
    reported_at: datetime


class CloseIn(Strict):
    resolution: Annotated[str, text(4000, 1)]
    closed_at: datetime | None = None


class VisitIn(Strict):
    citizen_id: Annotated[str, text(40, 1)]
    service: Service
    appointment_at: datetime
    address: Annotated[str, text(200, 1)]


class VisitOutcomeIn(Strict):
    status: incidents.VisitStatus
    outcome: Annotated[str, text(1000, 1)]


def evaluation_view(row: EvaluationRow) -> dict[str, Any]:
    out = dict(row.__dict__)
    out["total"] = float(row.total)
    out["interview_required"] = not row.passed
    out["interview_recorded"] = row.interviews > 0
    return out


def incident_view(row: IncidentRow) -> dict[str, Any]:
    return {**row.__dict__, "open": row.closed_at is None}


def visit_view(row: VisitRow) -> dict[str, Any]:
    return dict(row.__dict__)


# --- spot checks, imports, evaluations, interviews, exit ----------------------------------------


@router.post("/v1/bureau/spot-checks", status_code=201, tags=BUREAU, response_model=SpotCheckOut)
async def spot_check(body: SpotCheckIn, ctx: CtxDep) -> Response:
    """第九条: an unannounced spot check and its findings."""
    c = evaluation.SpotCheck(body.bank, body.outlet, body.checked_on, body.findings,
                             body.satisfactory)  # fmt: skip

    async def run(tx: Store) -> Outcome:
        return 201, await evaluation.record_spot_check(tx, ctx.op, c)

    return await idempotent(ctx, run)


@router.get("/v1/bureau/spot-checks", tags=BUREAU, response_model=SpotChecksOut)
async def list_spot_checks(
    ctx: CtxDep, bank: Annotated[str | None, Query(max_length=6)] = None
) -> Response:
    return render(200, {"spot_checks": await evaluation.spot_checks(ctx.store, ctx.op, bank)})


async def _csv(request: Request) -> tuple[bytes, bytes]:
    """The body (capped before it is read past the cap) and the request's digest."""
    limit = evaluation.MAX_IMPORT_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the file is over {limit} bytes", limit=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the file is over {limit} bytes", limit=limit)
        chunks.append(chunk)
    data = b"".join(chunks)
    digest = digest_of(request)
    digest.update(data)
    return data, digest.digest()


CSV_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
}


@router.post("/v1/bureau/imports/complaints", tags=BUREAU, responses=ROWS_REJECTED,
             openapi_extra=CSV_BODY, response_model=ImportedOut)  # fmt: skip
async def import_complaints(request: Request, ctx: CtxDep) -> Response:
    """12345 complaints as CSV: ``ticket,received_on,bank,outlet,summary``."""
    data, digest = await _csv(request)

    async def run(tx: Store) -> Outcome:
        done = await evaluation.import_complaints(tx, ctx.op, data)
        return 200, done.__dict__

    return await idempotent(ctx, run, digest=digest)


@router.post("/v1/bureau/imports/survey", tags=BUREAU, responses=ROWS_REJECTED,
             openapi_extra=CSV_BODY, response_model=ImportedOut)  # fmt: skip
async def import_survey(request: Request, ctx: CtxDep) -> Response:
    """Satisfaction surveys as CSV: ``year,bank,outlet,surveyed,satisfied``."""
    data, digest = await _csv(request)

    async def run(tx: Store) -> Outcome:
        done = await evaluation.import_survey(tx, ctx.op, data)
        return 200, done.__dict__

    return await idempotent(ctx, run, digest=digest)


@router.post(
    "/v1/bureau/evaluations", status_code=201, tags=BUREAU, responses=CONFLICT,
    response_model=EvaluationOut,
)  # fmt: skip
async def evaluate(body: EvaluationIn, ctx: CtxDep) -> Response:
    """第九条: the yearly evaluation, in the first quarter of the next year; cards issued,
    satisfaction and complaints come from the database, the three scores from the body."""
    s = evaluation.BureauScores(body.bank, body.year, body.publicity, body.security_rules,
                                body.technical_support, body.evaluated_on)  # fmt: skip

    async def run(tx: Store) -> Outcome:
        return 201, evaluation_view(await evaluation.run_evaluation(tx, ctx.op, s))

    return await idempotent(ctx, run)


@router.get("/v1/bureau/evaluations", tags=BUREAU, response_model=EvaluationsOut)
async def list_evaluations(
    ctx: CtxDep,
    bank: Annotated[str | None, Query(max_length=6)] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    rows = await evaluation.evaluations(ctx.store, ctx.op, bank, year)
    return render(200, {"evaluations": [evaluation_view(r) for r in rows]})


@router.get(
    "/v1/bureau/evaluations/{code}/{year}/report.pdf", tags=BUREAU,
    responses={200: {"content": {"application/pdf": {}}, "description": "the report"}},
)  # fmt: skip
async def evaluation_report(code: BankCode, year: Year, ctx: CtxDep) -> Response:
    """The bank's yearly evaluation report as a PDF."""
    pdf = await evaluation.report_pdf(ctx.store, ctx.op, code, year)
    return Response(pdf, media_type="application/pdf")


@router.post(
    "/v1/bureau/interviews", status_code=201, tags=BUREAU, responses=CONFLICT,
    response_model=InterviewOut,
)  # fmt: skip
async def interview(body: InterviewIn, ctx: CtxDep) -> Response:
    """约谈 after an unqualified evaluation."""
    i = evaluation.Interview(body.bank, body.year, body.held_on, body.attendees, body.summary)

    async def run(tx: Store) -> Outcome:
        return 201, await evaluation.record_interview(tx, ctx.op, i)

    return await idempotent(ctx, run)


@router.get("/v1/bureau/interviews", tags=BUREAU, response_model=InterviewsOut)
async def list_interviews(
    ctx: CtxDep, bank: Annotated[str | None, Query(max_length=6)] = None
) -> Response:
    return render(200, {"interviews": await evaluation.interviews(ctx.store, ctx.op, bank)})


@router.post(
    "/v1/bureau/banks/{code}/exit", tags=BUREAU, responses=CONFLICT, response_model=BankOut
)
async def terminate(code: BankCode, body: ExitIn, ctx: CtxDep) -> Response:
    """第十条: terminate on a ground of the first list (breach, two unqualified years in a
    row, major risk) or record the agreed end (second list); the bank orders no more cards."""
    t = bureau.Termination(body.ground, body.decided_on, tuple(body.documents), body.note)

    async def run(tx: Store) -> Outcome:
        return 200, bank_view(await evaluation.terminate(tx, ctx.op, code, t))

    return await idempotent(ctx, run)


# --- incidents ----------------------------------------------------------------


@router.post("/v1/incidents", status_code=201, tags=INCIDENTS, response_model=IncidentOut)
async def report_incident(body: IncidentIn, ctx: CtxDep) -> Response:
    """第五条(八): record an incident (device, security, personal data, service outage)."""
    bank = body.bank or ctx.op.bank or ""
    i = incidents.NewIncident(bank, body.outlet, body.kind, body.severity, body.description,
                              body.occurred_at, body.reported_at)  # fmt: skip

    async def run(tx: Store) -> Outcome:
        return 201, incident_view(await incidents.report(tx, ctx.op, i))

    return await idempotent(ctx, run)


@router.post(
    "/v1/incidents/{incident_id}/close", tags=INCIDENTS, responses=CONFLICT,
    response_model=IncidentOut,
)  # fmt: skip
async def close_incident(incident_id: Id, body: CloseIn, ctx: CtxDep) -> Response:
    async def run(tx: Store) -> Outcome:
        closed = await incidents.close(tx, ctx.op, incident_id, body.resolution, body.closed_at)
        return 200, incident_view(closed)

    return await idempotent(ctx, run)


@router.get("/v1/incidents", tags=INCIDENTS, response_model=IncidentsOut)
async def list_incidents(
    ctx: CtxDep,
    bank: Annotated[str | None, Query(max_length=6)] = None,
    open_only: bool = False,
) -> Response:
    """Incidents, newest first; ``open_only`` lists those not yet closed."""
    rows = await incidents.incidents(ctx.store, ctx.op, bank=bank, open_only=open_only)
    return render(200, {"incidents": [incident_view(r) for r in rows]})


# --- home visits ----------------------------------------------------------------


@router.post(
    "/v1/home-visits/services", status_code=201, tags=VISITS, response_model=VisitBookedOut
)
async def book_visit(body: VisitIn, ctx: CtxDep) -> Response:
    """上门服务 for a counter service other than an application (activation, loss report,
    PIN reset, information change...), against the person's current card."""
    v = incidents.VisitBooking(body.citizen_id, body.service, body.appointment_at, body.address)

    async def run(tx: Store) -> Outcome:
        return 201, {"id": await incidents.book(tx, ctx.op, v)}

    return await idempotent(ctx, run)


@router.get("/v1/home-visits", tags=VISITS, response_model=VisitsOut)
async def list_visits(
    ctx: CtxDep,
    bank: Annotated[str | None, Query(max_length=6)] = None,
    status: incidents.VisitStatus | None = None,
) -> Response:
    """Home visits by appointment, with service, status and outcome."""
    rows = await incidents.visits(ctx.store, ctx.op, bank=bank, status=status)
    return render(200, {"visits": [visit_view(r) for r in rows]})


@router.post("/v1/home-visits/{visit_id}/outcome", status_code=204, tags=VISITS,
             responses=CONFLICT)  # fmt: skip
async def visit_outcome(visit_id: Id, body: VisitOutcomeIn, ctx: CtxDep) -> Response:
    async def run(tx: Store) -> Outcome:
        await incidents.finish(tx, ctx.op, visit_id, body.status, body.outcome)
        return 204, None

    return await idempotent(ctx, run)
