"""Security terminals and PSAM cards over HTTP (a bank's administrators; readers see them).

* ``POST /v1/terminals`` ``{"serial", "model", "outlet"}``; ``POST
  /v1/terminals/{serial}/state`` ``{"state"}``.
* ``POST /v1/psams`` ``{"serial", "bank"}`` (received); ``POST
  /v1/psams/{serial}/{action}`` ``{"terminal"?, "note"?}`` with action install,
  suspend, resume, revoke or destroy (409 ``psam_transition_forbidden``).
* ``GET /v1/psams/{serial}`` (the PSAM and every move) and ``GET
  /v1/outlets/{code}/security-modules`` (an outlet's terminals and PSAMs).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from issuance.api.deps import CtxDep
from issuance.api.direct import DirectRoute
from issuance.api.idempotency import render
from issuance.api.schemas import PsamIn, PsamMoveIn, TerminalIn, TerminalStateIn
from issuance.domain.psam import PsamAction
from issuance.services import psams
from issuance.store import PsamMove, PsamRecord, TerminalRecord

router = APIRouter(prefix="/v1", route_class=DirectRoute)
TAGS: list[str | Enum] = ["security modules"]
SerialPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
OutletPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{2,32}$")]


def terminal_view(t: TerminalRecord) -> dict[str, Any]:
    return {"serial": t.serial, "model": t.model, "outlet": t.outlet, "state": t.state,
            "registered_at": t.registered_at}  # fmt: skip


def psam_view(p: PsamRecord) -> dict[str, Any]:
    return {"serial": p.serial, "bank": p.bank, "terminal": p.terminal, "outlet": p.outlet,
            "state": p.state, "updated_at": p.updated_at}  # fmt: skip


def move_view(m: PsamMove) -> dict[str, Any]:
    return {"action": m.action, "from": m.from_state, "to": m.to_state, "terminal": m.terminal,
            "operator": m.operator, "by": m.actor, "note": m.note, "at": m.at}  # fmt: skip


@router.post("/terminals", status_code=201, tags=TAGS)
async def register_terminal(body: TerminalIn, ctx: CtxDep) -> Response:
    """Register a security terminal at an outlet of the caller's bank."""
    t = await psams.register_terminal(ctx.store, ctx.op, body.serial, body.model, body.outlet)
    return render(201, terminal_view(t))


@router.post("/terminals/{serial}/state", tags=TAGS)
async def terminal_state(serial: SerialPath, body: TerminalStateIn, ctx: CtxDep) -> Response:
    """Put a terminal in or out of service, or retire it."""
    return render(200, terminal_view(await psams.set_terminal_state(
        ctx.store, ctx.op, serial, body.state)))  # fmt: skip


@router.post("/psams", status_code=201, tags=TAGS)
async def receive_psam(body: PsamIn, ctx: CtxDep) -> Response:
    """Record a PSAM card the bank has received."""
    return render(201, psam_view(await psams.receive_psam(ctx.store, ctx.op, body.serial,
                                                          body.bank)))  # fmt: skip


@router.post("/psams/{serial}/{action}", tags=TAGS)
async def move_psam(
    serial: SerialPath, action: PsamAction, body: PsamMoveIn, ctx: CtxDep
) -> Response:
    """Install (in ``terminal``), suspend, resume, revoke or destroy a PSAM card."""
    moved = await psams.move_psam(
        ctx.store, ctx.op, serial, action, terminal=body.terminal, note=body.note
    )
    return render(200, psam_view(moved))


@router.get("/psams/{serial}", tags=TAGS)
async def show_psam(serial: SerialPath, ctx: CtxDep) -> Response:
    """A PSAM card and every move it made, with dates and who."""
    psam, moves = await psams.history(ctx.store, ctx.op, serial)
    return render(200, {**psam_view(psam), "moves": [move_view(m) for m in moves]})


@router.get("/outlets/{code}/security-modules", tags=TAGS)
async def outlet_modules(code: OutletPath, ctx: CtxDep) -> Response:
    """An outlet's security terminals and the PSAM cards in them."""
    found = await psams.of_outlet(ctx.store, ctx.op, code)
    return render(200, {"outlet": found.outlet,
                        "terminals": [terminal_view(t) for t in found.terminals],
                        "psams": [psam_view(p) for p in found.psams]})  # fmt: skip
