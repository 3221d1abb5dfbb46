"""Blank card bodies over HTTP (:mod:`issuance.services.stock`).

* ``POST /v1/stock/requests`` ``{"kind", "outlet", "to_outlet"?, "lot", "quantity", "note"?}``
  (receipt, transfer or destruction, pending) → the request.
* ``POST /v1/stock/requests/{id}/confirm`` (a second, different operator: 409
  ``same_operator``) and ``/cancel``.
* ``GET /v1/outlets/{code}/stock``: balance, pending requests, recent reconciliations.
* ``POST /v1/outlets/{code}/stock/reconciliations`` ``{"day", "counted"}``: the
  day's figures and its exceptions.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from issuance.api.deps import CtxDep
from issuance.api.direct import DirectRoute
from issuance.api.idempotency import render
from issuance.api.schemas import ReconcileStockIn, StockRequestIn
from issuance.services import stock
from issuance.store import ReconciliationRecord, StockRequestRecord

router = APIRouter(prefix="/v1", route_class=DirectRoute)
TAGS: list[str | Enum] = ["card stock"]
RequestId = Annotated[int, Path(ge=1, le=2**63 - 1)]
OutletPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{2,32}$")]


def request_view(r: StockRequestRecord) -> dict[str, Any]:
    return {
        "id": r.id, "kind": r.kind, "bank": r.bank, "outlet": r.outlet, "to_outlet": r.to_outlet,
        "lot": r.lot, "quantity": r.quantity, "note": r.note, "state": r.state,
        "requested_by": r.requested_by_name, "requested_at": r.requested_at,
        "decided_by": r.decided_by_name, "decided_at": r.decided_at,
    }  # fmt: skip


def reconciliation_view(r: ReconciliationRecord) -> dict[str, Any]:
    return {
        "outlet": r.outlet, "day": r.day, "opening": r.opening, "received": r.received,
        "issued": r.issued, "spoiled": r.spoiled, "destroyed": r.destroyed,
        "expected": r.expected, "counted": r.counted, "fed": r.fed,
        "exceptions": r.exceptions, "reconciled_by": r.reconciled_by,
    }  # fmt: skip


@router.post("/stock/requests", status_code=201, tags=TAGS)
async def request_change(body: StockRequestIn, ctx: CtxDep) -> Response:
    """Ask for a receipt, transfer or destruction of blank bodies (pending a second operator)."""
    r = stock.StockRequest(body.kind, body.outlet, body.lot, body.quantity, body.to_outlet,
                           body.note)  # fmt: skip
    return render(201, request_view(await stock.request(ctx.store, ctx.op, r)))


@router.post("/stock/requests/{request_id}/confirm", tags=TAGS)
async def confirm(request_id: RequestId, ctx: CtxDep) -> Response:
    """A second, different operator confirms: the bodies move."""
    decided = await stock.decide(ctx.store, ctx.op, request_id, stock.Decision.CONFIRM)
    return render(200, request_view(decided))


@router.post("/stock/requests/{request_id}/cancel", tags=TAGS)
async def cancel(request_id: RequestId, ctx: CtxDep) -> Response:
    """Give up a pending request."""
    decided = await stock.decide(ctx.store, ctx.op, request_id, stock.Decision.CANCEL)
    return render(200, request_view(decided))


@router.get("/outlets/{code}/stock", tags=TAGS)
async def outlet_stock(code: OutletPath, ctx: CtxDep) -> Response:
    """The outlet's blank bodies, its pending requests and its recent reconciliations."""
    s = await stock.outlet_stock(ctx.store, ctx.op, code)
    return render(200, {
        "outlet": s.outlet, "balance": s.balance,
        "pending": [request_view(r) for r in s.pending],
        "reconciliations": [reconciliation_view(r) for r in s.reconciliations],
    })  # fmt: skip


@router.post("/outlets/{code}/stock/reconciliations", status_code=201, tags=TAGS)
async def reconcile(code: OutletPath, body: ReconcileStockIn, ctx: CtxDep) -> Response:
    """Close the outlet's day against the supervisor's count; differences are exceptions."""
    done = await stock.reconcile(ctx.store, ctx.op, code, body.day, body.counted)
    return render(201, reconciliation_view(done))
