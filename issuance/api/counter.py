"""The counter services over HTTP (``/v1/...``): parse → service → response.

Writes take an optional ``Idempotency-Key`` and run, with the key's record,
in one transaction (see :mod:`issuance.api.idempotency`). Reads of personal
data are audited by the services. A holder's citizen ID travels in request
bodies, never in URLs (which end up in logs).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from issuance.api import views
from issuance.api.deps import Ctx, CtxDep, OperatorDep, StoreDep
from issuance.api.direct import DirectRoute
from issuance.api.idempotency import Outcome, idempotent, render
from issuance.api.schemas import (
    ApplyIn,
    BankChangeIn,
    CardOut,
    FeeScheduleIn,
    HolderCardsOut,
    HolderLookupIn,
    HomeVisitIn,
    HomeVisitOut,
    InfoChangeIn,
    InfoChangeOut,
    LossIn,
    PinIn,
    PinJobOut,
    QuoteOut,
    ReorderIn,
    ReplaceIn,
    StatusOut,
    WithdrawalOut,
    decode_photo,
)
from issuance.domain.counter_services import Service
from issuance.domain.disclosure import Need, disclosed
from issuance.domain.fees import FeeItem, FeeSchedule
from issuance.domain.roles import Operation
from issuance.services import cards, changes, fees, pins
from issuance.services.common import AuditAction, Purpose, audit, check
from issuance.store import Store
from printers.documents.receipt import receipt_pdf
from sscard_core.errors import FieldError, InputError

router = APIRouter(prefix="/v1", route_class=DirectRoute)
CardNumber = Annotated[str, Path(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9]+$")]
BankCode = Annotated[str, Path(min_length=2, max_length=6, pattern=r"^[A-Z0-9]+$")]
COUNTER: list[str | Enum] = ["counter"]
FEES: list[str | Enum] = ["fees"]


class PinNotAccepted(InputError):
    code = "pin_not_accepted"


@router.post("/applications", status_code=201, response_model=CardOut, tags=COUNTER)
async def apply(body: ApplyIn, ctx: CtxDep) -> Response:
    """申领: holder data and photo → holder record, a card in production and its job."""
    application = body.to_application()

    async def run(tx: Store) -> Outcome:
        return 201, views.card(await cards.apply(tx, ctx.queue, ctx.op, application, ctx.key))

    return await idempotent(ctx, run)


@router.get("/cards/{number}", response_model=StatusOut, tags=COUNTER)
async def card_status(number: CardNumber, ctx: CtxDep) -> Response:
    """应用状态查询: the card's state and its production progress."""
    return render(200, views.status(await cards.status(ctx.store, ctx.op, number)))


@router.post("/cards/{number}/replace", status_code=201, response_model=CardOut, tags=COUNTER)
async def replace(number: CardNumber, body: ReplaceIn, ctx: CtxDep) -> Response:
    """换卡: a new card for a damaged or expired one (the old one is superseded)."""
    photo = body.photo_bytes()

    async def run(tx: Store) -> Outcome:
        card = await cards.replace(
            tx, ctx.queue, ctx.op, number, body.reason, photo=photo, wait=body.wait,
            request_key=ctx.key,
        )  # fmt: skip
        return 201, views.card(card)

    return await idempotent(ctx, run)


@router.post("/cards/{number}/reissue", status_code=201, response_model=CardOut, tags=COUNTER)
async def reissue(number: CardNumber, body: ReorderIn, ctx: CtxDep) -> Response:
    """补卡: a new card for a formally lost one."""
    photo = body.photo_bytes()

    async def run(tx: Store) -> Outcome:
        card = await cards.reissue(
            tx, ctx.queue, ctx.op, number, photo=photo, wait=body.wait, request_key=ctx.key
        )
        return 201, views.card(card)

    return await idempotent(ctx, run)


@router.post("/cards/{number}/loss", response_model=CardOut, tags=COUNTER)
async def report_loss(number: CardNumber, body: LossIn, ctx: CtxDep) -> Response:
    """挂失: temporary or formal."""

    async def run(tx: Store) -> Outcome:
        return 200, views.card(await cards.report_loss(tx, ctx.op, number, body.kind))

    return await idempotent(ctx, run)


async def _one_step(ctx: Ctx, number: str, step: cards.CardStep) -> Response:
    async def run(tx: Store) -> Outcome:
        return 200, views.card(await cards.one_step(tx, ctx.op, number, step))

    return await idempotent(ctx, run)


@router.post("/cards/{number}/loss/cancel", response_model=CardOut, tags=COUNTER)
async def cancel_loss(number: CardNumber, ctx: CtxDep) -> Response:
    """解挂: lift a temporary loss."""
    return await _one_step(ctx, number, cards.CANCEL_LOSS)


@router.post("/cards/{number}/cancel", response_model=CardOut, tags=COUNTER)
async def cancel(number: CardNumber, ctx: CtxDep) -> Response:
    """注销 (supervisors)."""
    return await _one_step(ctx, number, cards.CANCEL)


@router.post("/cards/{number}/hand-over", response_model=CardOut, tags=COUNTER)
async def hand_over(number: CardNumber, ctx: CtxDep) -> Response:
    """领卡: a ready card is handed to the holder."""
    return await _one_step(ctx, number, cards.HAND_OVER)


@router.get(
    "/cards/{number}/receipt.pdf",
    tags=COUNTER,
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def receipt(number: CardNumber, ctx: CtxDep) -> Response:
    """领卡回执: the handover receipt of a card handed over, as a PDF (audited; own bank only)."""
    pdf = receipt_pdf(await cards.receipt(ctx.store, ctx.op, number))
    disposition = f'inline; filename="receipt-{number}.pdf"'
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})


@router.post("/cards/{number}/activate", response_model=CardOut, tags=COUNTER)
async def activate(number: CardNumber, ctx: CtxDep) -> Response:
    """启用 at any outlet of the issuing bank (another bank's card is a 404, like a missing one)."""

    async def run(tx: Store) -> Outcome:
        return 200, views.card(await cards.activate(tx, ctx.op, number))

    return await idempotent(ctx, run)


def _refuse_pins(body: PinIn | None) -> None:
    """A field whose name mentions a PIN (pin, new_pin, PIN...) refuses the whole request."""
    names = () if body is None else (body.model_extra or {})
    if any("pin" in name.lower() for name in names):
        raise PinNotAccepted(
            "PINs are entered on the PIN pad at the device, never sent to the API", field="pin"
        )


async def _pin(ctx: Ctx, number: str, operation: pins.PinOperation, body: PinIn | None) -> Response:
    _refuse_pins(body)

    async def run(tx: Store) -> Outcome:
        job = await pins.pin_job(tx, ctx.queue, ctx.op, number, operation, request_key=ctx.key)
        body = {"job_id": job.job_id, "card_number": job.card_number,
                "operation": job.operation.value, "site": job.site}  # fmt: skip
        return 202, body

    return await idempotent(ctx, run)


@router.post("/cards/{number}/pin-change", status_code=202, response_model=PinJobOut, tags=COUNTER)
async def pin_change(number: CardNumber, ctx: CtxDep, body: PinIn | None = None) -> Response:
    """密码修改: a job for the counter's PIN pad (a body carrying a PIN is refused)."""
    return await _pin(ctx, number, pins.PinOperation.CHANGE, body)


@router.post("/cards/{number}/pin-reset", status_code=202, response_model=PinJobOut, tags=COUNTER)
async def pin_reset(number: CardNumber, ctx: CtxDep, body: PinIn | None = None) -> Response:
    """密码重置: a job for the counter's PIN pad (a body carrying a PIN is refused)."""
    return await _pin(ctx, number, pins.PinOperation.RESET, body)


@router.post("/cards/{number}/withdrawals", response_model=WithdrawalOut, tags=FEES)
async def withdrawal(number: CardNumber, ctx: CtxDep) -> Response:
    """One inter-bank cash withdrawal: counted, with its fee (five a month are free)."""

    async def run(tx: Store) -> Outcome:
        w = await fees.record_withdrawal(tx, ctx.op, number)
        body = {"card_number": w.card_number, "month": w.month.isoformat(),
                "withdrawals_before": w.withdrawals_before, "fee_fen": w.fee_fen}  # fmt: skip
        return 200, body

    return await idempotent(ctx, run)


@router.post("/holders/lookup", response_model=HolderCardsOut, tags=COUNTER)
async def read_holder(body: HolderLookupIn, op: OperatorDep, store: StoreDep) -> Response:
    """A holder's record and cards (a read of personal data: audited)."""
    whole = disclosed(op.role, body.purpose)
    action = AuditAction.READ_UNMASKED if whole else AuditAction.READ
    async with store.connected() as db:  # a read: no locks, no transaction; audited first
        holder = await changes.scoped_holder(
            db, op, Operation.READ_HOLDER, body.citizen_id, lock=False
        )
        # the cards and the read's audit row in one statement, before anything is answered
        held = await db.cards_of_holder_audited(
            holder.id, op, Purpose(body.purpose.value).value, action.value
        )
    body_out = {"holder": views.holder(holder, whole), "cards": [views.card(c) for c in held]}
    return render(200, body_out)


@router.post("/holders/info-change", response_model=InfoChangeOut, tags=COUNTER)
async def info_change(body: InfoChangeIn, ctx: CtxDep) -> Response:
    """信息变更: a printed or chip field orders a replacement card; others update the record."""
    fields = body.model_dump(exclude={"citizen_id", "photo"})
    photo = None if body.photo is None else decode_photo(body.photo)
    change = changes.InfoChange(**fields, photo=photo)

    async def run(tx: Store) -> Outcome:
        r = await changes.change_info(
            tx, ctx.queue, ctx.op, body.citizen_id, change, request_key=ctx.key
        )
        whole = disclosed(ctx.op.role, Need.CHANGE_INFO)
        if whole:
            await audit(tx, ctx.op, Purpose.CHANGE_INFO, r.holder.id, AuditAction.READ_UNMASKED)
        out = {"holder": views.holder(r.holder, whole), "changed": [f.value for f in r.changed],
               "card": None if r.card is None else views.card(r.card)}  # fmt: skip
        return 200, out

    return await idempotent(ctx, run)


@router.post("/holders/bank-change", status_code=201, response_model=CardOut, tags=COUNTER)
async def bank_change(body: BankChangeIn, ctx: CtxDep) -> Response:
    """A new card from this bank; the old bank's card is cancelled when the new one is activated."""
    photo = body.photo_bytes()

    async def run(tx: Store) -> Outcome:
        card = await changes.change_bank(
            tx, ctx.queue, ctx.op, body.citizen_id, photo=photo, wait=body.wait,
            request_key=ctx.key,
        )  # fmt: skip
        return 201, views.card(card)

    return await idempotent(ctx, run)


@router.post("/home-visits", status_code=201, response_model=HomeVisitOut, tags=COUNTER)
async def home_visit(body: HomeVisitIn, ctx: CtxDep) -> Response:
    """上门服务: an application whose card the outlet's mobile kit makes at the appointment."""
    visit = changes.HomeVisit(body.to_application(), body.appointment_at, body.visit_address)

    async def run(tx: Store) -> Outcome:
        visit_id, card = await changes.home_visit(tx, ctx.queue, ctx.op, visit, request_key=ctx.key)
        return 201, {"visit_id": visit_id, "card": views.card(card)}

    return await idempotent(ctx, run)


@router.get("/fees/quote", response_model=QuoteOut, tags=FEES)
async def fee_quote(
    ctx: CtxDep,
    service: Annotated[Service, Query()],
    bank: Annotated[str | None, Query(min_length=2, max_length=6, pattern=r"^[A-Z0-9]+$")] = None,
    delivered: bool = False,
    expedited: bool = False,
) -> Response:
    """What a counter service costs, item by item, waivers shown (第五条(五))."""
    q = await fees.quote(
        ctx.store, ctx.op, service, bank=bank, delivered=delivered, expedited=expedited
    )
    return render(200, views.quote(q))


def _schedule(bank: str, body: FeeScheduleIn) -> FeeSchedule:
    try:
        amounts = {FeeItem(k): v for k, v in body.amounts.items()}
    except ValueError as exc:
        raise FieldError("amounts", f"unknown fee item: {exc}", code="unknown_fee_item") from exc
    return FeeSchedule(bank, amounts, body.free_withdrawals_per_month)


@router.put("/banks/{code}/fee-schedule", status_code=204, tags=FEES)
async def upload_fee_schedule(code: BankCode, body: FeeScheduleIn, ctx: CtxDep) -> Response:
    """A bank's fee schedule; one that breaks a waiver is refused naming the clause (422)."""
    check(ctx.op, Operation.MANAGE_FEES, code)
    schedule = _schedule(code, body)

    async def run(tx: Store) -> Outcome:
        await fees.upload_schedule(tx, ctx.op, schedule)
        return 204, None

    return await idempotent(ctx, run)
