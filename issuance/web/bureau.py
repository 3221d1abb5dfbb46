"""The bureau's pages (``/bureau``): banks and their outlets, each bank's share of outlets
issuing on the spot against 70 % (第五条(四)) as an inline SVG chart, and audit search."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from issuance.services import directory
from issuance.store.pages import AuditFilter
from issuance.web.render import PageRoute, page
from issuance.web.session import PersonDep, csrf_guard, pages_store

router = APIRouter(prefix="/bureau", route_class=PageRoute, dependencies=[Depends(csrf_guard)])
PURPOSES = [
    "apply",
    "replace",
    "reissue",
    "activate",
    "hand_over",
    "report_loss",
    "cancel_loss",
    "cancel",
    "query_status",
    "pin_change",
    "pin_reset",
    "change_info",
    "home_visit",
    "change_bank",
    "withdrawal",
    "production",
    "reconcile",
    "cancel_job",
]


def _day(value: str | None) -> datetime | None:
    try:
        return None if not value else datetime.combine(date.fromisoformat(value), time(), UTC)
    except ValueError:
        return None


@router.get("", include_in_schema=False)
async def bureau(request: Request, me: PersonDep) -> Response:
    store = pages_store(request)
    shares = await directory.bank_shares(store, me)
    outlets = await directory.outlet_views(store)
    filings = await directory.recent_filings(store, me)
    return await page(request, "bureau.html", shares=shares, outlets=outlets, filings=filings)


@router.get("/audit", include_in_schema=False)
async def audit(request: Request, me: PersonDep) -> Response:
    q = request.query_params
    until = _day(q.get("until"))
    operator = (q.get("operator") or "")[:64] or None
    purpose = q.get("purpose")
    f = AuditFilter(
        bank=q.get("bank") or None,
        operator=operator,
        purpose=purpose if purpose in PURPOSES else None,
        since=_day(q.get("since")),
        until=None if until is None else until + timedelta(days=1),
    )
    rows = await directory.audit_search(pages_store(request), me, f)
    banks = await directory.banks(pages_store(request))
    return await page(request, "audit.html", rows=rows, f=f, q=q, purposes=PURPOSES, banks=banks)
