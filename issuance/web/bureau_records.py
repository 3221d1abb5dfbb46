"""The bureau's records (``/bureau/...``): yearly evaluations with their scores and the
interviews (约谈) an unqualified year calls for (第九条), the incidents register
(第五条(八)), and the audit search with its CSV export.

Each page calls the service the API calls: :mod:`issuance.services.evaluation`,
:mod:`issuance.services.incidents` and :func:`issuance.services.audit.search` (scoped by
role as ``GET /v1/audit`` is).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TypeVar

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response, StreamingResponse

from issuance.domain.roles import Operation, may
from issuance.services import audit, directory, evaluation, incidents
from issuance.services.common import AuditAction
from issuance.services.directory import BEIJING
from issuance.store import Operator, Store
from issuance.web.bureau import act, day, rt_of, text
from issuance.web.render import PageRoute, error_message, page
from issuance.web.session import PersonDep, csrf_guard, pages_store
from sscard_core.errors import FieldError, SscardError

router = APIRouter(prefix="/bureau", route_class=PageRoute, dependencies=[Depends(csrf_guard)])
KIND_LABELS = {
    incidents.IncidentKind.DEVICE: "设备故障", incidents.IncidentKind.SECURITY: "安全事件",
    incidents.IncidentKind.PERSONAL_DATA: "个人信息泄露",
    incidents.IncidentKind.SERVICE_OUTAGE: "服务中断",
}  # fmt: skip
SEVERITY_LABELS = {
    incidents.Severity.LOW: "低", incidents.Severity.MEDIUM: "中",
    incidents.Severity.HIGH: "高", incidents.Severity.CRITICAL: "特别重大",
}  # fmt: skip
E = TypeVar("E", bound=StrEnum)
DONE = {"interview": "约谈已记录", "incident": "事件已登记", "closed": "事件已结案"}


# --- evaluations and interviews ----------------------------------------------------------------


async def _evaluations_page(
    request: Request, me: Operator, status: int = 200, error: str | None = None
) -> Response:
    directory.check_bureau(me)
    store = rt_of(request).store
    rows = await evaluation.evaluations(store, me, None)
    return await page(
        request, "bureau_evaluations.html", status, error=error,
        done=DONE.get(request.query_params.get("done", "")),
        rows=rows, owed=[r for r in rows if not r.passed and r.interviews == 0],
        interviews=await evaluation.interviews(store, me, None),
        banks=await directory.banks(pages_store(request)),
        evaluates=may(me.role, Operation.EVALUATE_BANK),
    )  # fmt: skip


@router.get("/evaluations", include_in_schema=False)
async def evaluations_page(request: Request, me: PersonDep) -> Response:
    return await _evaluations_page(request, me)


@router.get("/evaluations/{code}/{year}/report.pdf", include_in_schema=False)
async def evaluation_pdf(request: Request, code: str, year: int, me: PersonDep) -> Response:
    pdf = await evaluation.report_pdf(rt_of(request).store, me, code[:6], year)
    return Response(pdf, media_type="application/pdf")


def _year(form: FormData) -> int:
    value = text(form, "year", 4)
    if not value.isdigit():
        raise FieldError("year", "a year", code="invalid_year")
    return int(value)


@router.post("/interviews", include_in_schema=False)
async def record_interview(request: Request, me: PersonDep) -> Response:
    async def run(store: Store, form: FormData) -> str:
        i = evaluation.Interview(
            text(form, "bank", 6), _year(form), day(form, "held_on"),
            text(form, "attendees", 1000), text(form, "summary", 4000),
        )  # fmt: skip
        await evaluation.record_interview(store, me, i)
        return "interview"

    async def show(status: int, error: str, values: dict[str, str]) -> Response:
        return await _evaluations_page(request, me, status, error)

    return await act(request, run, "/bureau/evaluations", show)


# --- incidents ----------------------------------------------------------------------------------


async def _incidents_page(
    request: Request, me: Operator, status: int = 200, error: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    directory.check_bureau(me)
    rows = await incidents.incidents(rt_of(request).store, me)
    return await page(
        request, "bureau_incidents.html", status, error=error,
        done=DONE.get(request.query_params.get("done", "")), rows=rows,
        banks=await directory.banks(pages_store(request)),
        kinds=[(k.value, t) for k, t in KIND_LABELS.items()],
        severities=[(s.value, t) for s, t in SEVERITY_LABELS.items()],
        kind_labels={k.value: t for k, t in KIND_LABELS.items()},
        severity_labels={s.value: t for s, t in SEVERITY_LABELS.items()},
        records=may(me.role, Operation.REPORT_INCIDENT), values=values or {},
        now=datetime.now(BEIJING).strftime("%Y-%m-%dT%H:%M"),
    )  # fmt: skip


@router.get("/incidents", include_in_schema=False)
async def incidents_page(request: Request, me: PersonDep) -> Response:
    return await _incidents_page(request, me)


def moment(form: FormData, name: str) -> datetime:
    """A ``datetime-local`` field, read as Beijing time."""
    try:
        return datetime.fromisoformat(text(form, name, 19)).replace(tzinfo=BEIJING)
    except ValueError:
        raise FieldError(name, "a date and time", code="invalid_datetime") from None


def _choice(kind: type[E], form: FormData, name: str) -> E:
    try:
        return kind(text(form, name, 32))
    except ValueError:
        raise FieldError(name, "choose one", code="choose_one") from None


@router.post("/incidents", include_in_schema=False)
async def record_incident(request: Request, me: PersonDep) -> Response:
    async def run(store: Store, form: FormData) -> str:
        i = incidents.NewIncident(
            text(form, "bank", 6), text(form, "outlet", 32) or None,
            _choice(incidents.IncidentKind, form, "kind"),
            _choice(incidents.Severity, form, "severity"), text(form, "description", 4000),
            moment(form, "occurred_at"), moment(form, "reported_at"),
        )  # fmt: skip
        await incidents.report(store, me, i)
        return "incident"

    async def show(status: int, error: str, values: dict[str, str]) -> Response:
        return await _incidents_page(request, me, status, error, values)

    return await act(request, run, "/bureau/incidents", show)


@router.post("/incidents/{incident_id}/close", include_in_schema=False)
async def close_incident(request: Request, incident_id: int, me: PersonDep) -> Response:
    async def run(store: Store, form: FormData) -> str:
        await incidents.close(store, me, incident_id, text(form, "resolution", 4000), None)
        return "closed"

    async def show(status: int, error: str, values: dict[str, str]) -> Response:
        return await _incidents_page(request, me, status, error)

    return await act(request, run, "/bureau/incidents", show)


# --- the audit search -------------------------------------------------------------------------


def _day(value: str, field: str, shift: int = 0) -> datetime | None:
    if not value:
        return None
    try:
        start = datetime.combine(date.fromisoformat(value), time(), BEIJING)
    except ValueError:
        raise FieldError(field, "a date as YYYY-MM-DD", code="invalid_date") from None
    return (start + timedelta(days=shift)).astimezone(UTC)


def _query(request: Request) -> audit.AuditQuery:
    q = request.query_params
    action = (q.get("action") or "")[:32]
    return audit.AuditQuery(
        citizen_id=(q.get("citizen_id") or "").strip()[:18] or None,
        card_number=(q.get("card_number") or "").strip()[:32] or None,
        operator=(q.get("operator") or "").strip()[:64] or None,
        since=_day(q.get("since", ""), "since"),
        until=_day(q.get("until", ""), "until", shift=1),
        action=action if action.isidentifier() else None,
    )


def _after(request: Request) -> int:
    value = request.query_params.get("after", "0")
    return int(value) if value.isdigit() and len(value) < 19 else 0


@router.get("/audit", include_in_schema=False)
async def audit_page(request: Request, me: PersonDep) -> Response:
    bank = audit.scope(me)
    q, error, found = request.query_params, None, None
    try:
        found = await audit.search(
            rt_of(request).store, _query(request), bank=bank, after=_after(request)
        )
    except SscardError as exc:
        error = error_message(exc)
    export = request.url.replace(path="/bureau/audit.csv").remove_query_params("after")
    following = None
    if found is not None and found.next_after is not None:
        following = request.url.include_query_params(after=found.next_after)
    return await page(
        request, "audit.html", 422 if error else 200, found=found, q=q, error=error,
        export=str(export.path) + ("?" + export.query if export.query else ""),
        following=None if following is None else f"{following.path}?{following.query}",
        actions=[a.value for a in AuditAction],
    )  # fmt: skip


@router.get("/audit.csv", include_in_schema=False)
async def audit_csv(request: Request, me: PersonDep) -> Response:
    """The same search as CSV (what ``GET /v1/audit.csv`` streams)."""
    lines = await audit.export_csv(rt_of(request).store, _query(request), bank=audit.scope(me))
    headers = {"Content-Disposition": 'attachment; filename="audit.csv"'}
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=headers)
