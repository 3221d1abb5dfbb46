"""The counter page (``/counter``): a clerk looks a holder up, applies, watches the card
being made, hands it over, and runs the other counter services.

Every form goes through the API's own request schemas (``issuance.api.schemas``)
and the same services; the API's idempotency record guards the services that
order a card (the form's hidden ``form_key`` is the key), so a form sent twice
orders one card.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import date, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response, StreamingResponse

from issuance.api import views
from issuance.api.deps import Ctx
from issuance.api.idempotency import Outcome, idempotent
from issuance.api.schemas import HolderIn, InfoChangeIn, decode_photo
from issuance.domain.cards import ReplaceReason
from issuance.domain.counter_services import Service
from issuance.domain.roles import Operation
from issuance.runtime import Runtime
from issuance.services import cards, changes, fees, pins
from issuance.services.common import AuditAction, Purpose
from issuance.store import Operator, Store
from issuance.web.progress import STAGE_LABELS, Snapshot, Stage, watch
from issuance.web.render import (
    FIELD_LABELS,
    PageRoute,
    error_message,
    field_errors,
    fragment,
    page,
    validation_errors,
)
from issuance.web.session import CSRF_FIELD, FORM_LIMIT, PersonDep, csrf_guard
from sscard_core.card_data import CardData, Gender
from sscard_core.errors import FieldError, InputError, SscardError

router = APIRouter(prefix="/counter", route_class=PageRoute, dependencies=[Depends(csrf_guard)])
HOLDER_FIELDS = (
    "citizen_id",
    "name",
    "gender",
    "birth_date",
    "ethnicity",
    "birthplace",
    "phone",
    "address",
)
INFO_FIELDS = ("name", "phone", "address")
ETHNICITIES = [
    (1, "汉族"),
    (2, "蒙古族"),
    (3, "回族"),
    (4, "藏族"),
    (5, "维吾尔族"),
    (6, "苗族"),
    (7, "彝族"),
    (8, "壮族"),
    (9, "布依族"),
    (10, "朝鲜族"),
    (11, "满族"),
]
GENDERS = [(Gender.MALE.value, "男"), (Gender.FEMALE.value, "女")]
PREVIEW_NUMBER = "A00000000"


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


def _ctx(request: Request, op: Operator, key: str | None) -> Ctx:
    rt = _rt(request)
    return Ctx(request, op, rt.store, rt.queue, key)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _digest(request: Request, form: FormData) -> bytes:
    """The form's identity for the idempotency record (the CSRF token left out)."""
    h = hashlib.sha256(request.url.path.encode())
    for name, value in sorted((k, str(v)) for k, v in form.multi_items() if k != CSRF_FIELD):
        h.update(b"\0" + name.encode() + b"\0" + value.encode())
    return h.digest()


def _form_key(form: FormData) -> str | None:
    key = _text(form, "form_key")
    return key if 8 <= len(key) <= 64 and key.isalnum() else None


def _blank(**context: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "values": {},
        "errors": {},
        "genders": GENDERS,
        "ethnicities": ETHNICITIES,
        "services": list(Service),
        "form_key": secrets.token_hex(16),
        "stage_labels": STAGE_LABELS,
    }
    base.update(context)
    return base


@router.get("", include_in_schema=False)
async def counter(request: Request, me: PersonDep) -> Response:
    return await page(request, "counter.html", **_blank())


async def _holder_view(request: Request, me: Operator, citizen_id: str) -> dict[str, Any]:
    """The holder and their cards, read as ``POST /v1/holders/lookup`` reads them (audited)."""
    async with _rt(request).store.connected() as db:
        holder = await changes.scoped_holder(db, me, Operation.READ_HOLDER, citizen_id, lock=False)
        held = await db.cards_of_holder_audited(
            holder.id, me, Purpose.QUERY_STATUS.value, AuditAction.READ.value
        )
    return {"holder": views.holder(holder), "cards": [views.card(c) for c in held]}


@router.post("/lookup", include_in_schema=False)
async def lookup(request: Request, me: PersonDep) -> Response:
    form = await request.form()
    citizen_id = _text(form, "lookup_citizen_id")
    try:
        found = await _holder_view(request, me, citizen_id[:40])
    except SscardError as exc:
        errors = {"lookup_citizen_id": error_message(exc)}
        return await page(
            request,
            "counter.html",
            422 if isinstance(exc, InputError) else 404,
            **_blank(lookup_errors=errors, lookup_value=citizen_id),
        )
    return await page(request, "counter.html", **_blank(found=found, lookup_value=citizen_id))


def _holder_values(form: FormData) -> dict[str, str]:
    return {name: _text(form, name) for name in HOLDER_FIELDS}


def _holder_in(values: dict[str, str]) -> HolderIn:
    data: dict[str, Any] = {k: v for k, v in values.items() if v != ""}
    return HolderIn.model_validate(data)


def _photo(form: FormData, errors: dict[str, str]) -> bytes | None:
    value = _text(form, "photo")
    if not value:
        errors.setdefault("photo", "请上传或拍摄照片")
        return None
    try:
        return decode_photo(value.split(",", 1)[-1])
    except FieldError:
        errors.setdefault("photo", "照片数据无效，请重新选择")
        return None


@router.post("/apply", include_in_schema=False, openapi_extra=FORM_LIMIT)
async def apply(request: Request, me: PersonDep) -> Response:
    """申领 from the form: the API's checks, then the card is ordered and watched."""
    form = await request.form()
    values = _holder_values(form)
    errors: dict[str, str] = {}
    holder: HolderIn | None = None
    try:
        holder = _holder_in(values)
    except ValidationError as exc:
        errors.update(validation_errors(exc))
    photo = _photo(form, errors)
    wait = _text(form, "wait") == "on"
    if holder is None or photo is None:
        return await _apply_refused(request, values, errors, form)
    application = cards.Application(holder.to_input(), photo, wait)
    ctx = _ctx(request, me, _form_key(form))

    async def run(tx: Store) -> Outcome:
        return 201, views.card(await cards.apply(tx, ctx.queue, me, application, ctx.key))

    try:
        response = await idempotent(ctx, run, digest=_digest(request, form))
    except InputError as exc:
        return await _apply_refused(request, values, field_errors(exc), form)
    number = orjson.loads(bytes(response.body))["card_number"]
    return RedirectResponse(f"/counter/cards/{number}", status_code=303)


async def _apply_refused(
    request: Request, values: dict[str, str], errors: dict[str, str], form: FormData
) -> Response:
    context = _blank(
        values=values,
        errors=errors,
        form_key=_text(form, "form_key"),
        photo=_text(form, "photo"),
        wait=_text(form, "wait") == "on",
    )
    return await page(request, "counter.html", 422, **context)


def _preview_data(values: dict[str, str]) -> CardData:
    h = _holder_in(values)
    today = date.today()
    return CardData(
        card_number=PREVIEW_NUMBER,
        card_identifier="110100" + "0" * 10,
        card_type="3",
        issuing_institution="110100000000",
        issue_date=today,
        expiry_date=today.replace(year=today.year + 10),
        citizen_id=h.citizen_id,
        name=h.name,
        gender=h.gender,
        ethnicity=h.ethnicity,
        birthplace=h.birthplace,
        birth_date=h.birth_date,
    )


def _render_preview(data: CardData, photo: bytes) -> bytes:
    from intake.photo import load_photo
    from printers.documents.face import preview_png, render_face

    return preview_png(render_face(data, load_photo(photo).image))


@router.post("/preview", include_in_schema=False, openapi_extra=FORM_LIMIT)
async def preview(request: Request, me: PersonDep) -> Response:
    """The card face the form would print (PNG), drawn by the printer's own face renderer."""
    form = await request.form()
    errors: dict[str, str] = {}
    photo = _photo(form, errors)
    try:
        data = _preview_data(_holder_values(form))
    except ValidationError as exc:
        errors.update(validation_errors(exc))
        data = None
    if data is None or photo is None:
        return _preview_refused(errors)
    try:
        png = await asyncio.to_thread(_render_preview, data, photo)
    except SscardError as exc:
        return _preview_refused(field_errors(exc))
    return Response(png, media_type="image/png")


def _preview_refused(errors: dict[str, str]) -> Response:
    named = {FIELD_LABELS.get(k, k): v for k, v in errors.items()}
    body = orjson.dumps({"errors": [f"{k}：{v}" for k, v in named.items()]})
    return Response(body, 422, media_type="application/json")


# --- one card: its progress, and the services on it ---------------------------------------


@router.get("/cards/{number}", include_in_schema=False)
async def card_page(request: Request, number: str, me: PersonDep) -> Response:
    rt = _rt(request)
    view = await cards.status(rt.store, me, number[:20])
    context = _blank(
        card=views.card(view.card),
        state=views.status(view),
        done=DONE_LABELS.get(request.query_params.get("done", ""), ""),
        quote=None,
    )
    return await page(request, "card.html", **context)


def _progress_html(snap: Snapshot, at: datetime) -> str:
    return fragment(
        "_progress.html", snap=snap, at=at, stages=list(Stage), stage_labels=STAGE_LABELS
    )


@router.get("/cards/{number}/events", include_in_schema=False)
async def card_events(request: Request, number: str, me: PersonDep) -> Response:
    """The card's production as Server-Sent Events (see :mod:`issuance.web.progress`)."""
    rt = _rt(request)
    view = await cards.status(rt.store, me, number[:20])  # scope and audit
    stream = watch(
        rt.store, rt.queue, view.card.card_number, _progress_html, request.is_disconnected
    )
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


STEPS: dict[str, cards.CardStep] = {
    "hand-over": cards.HAND_OVER,
    "cancel-loss": cards.CANCEL_LOSS,
}
DONE_LABELS = {
    "ordered": "已受理，正在制卡",
    "hand-over": "已领卡",
    "cancel-loss": "已解挂",
    "activate": "已启用",
    "loss": "已挂失",
    "pin-change": "已发往密码键盘：请持卡人在键盘上输入新密码",
    "pin-reset": "已发往密码键盘：请持卡人在键盘上设置密码",
}


async def _card_action(request: Request, me: Operator, number: str, action: str) -> str:
    """Run one service on the card; returns the card number to show next."""
    rt, form = _rt(request), await request.form()
    store = rt.store
    if action in STEPS:
        await cards.one_step(store, me, number, STEPS[action])
    elif action == "activate":
        await cards.activate(store, me, number)
    elif action == "loss":
        kind = cards.LossKind(_text(form, "kind") or "temporary")
        await cards.report_loss(store, me, number, kind)
    elif action in ("pin-change", "pin-reset"):
        operation = pins.PinOperation.CHANGE if action == "pin-change" else pins.PinOperation.RESET
        await pins.pin_job(store, rt.queue, me, number, operation, request_key=_form_key(form))
    else:
        return await _reorder(request, me, number, action, form)
    return number


async def _reorder(request: Request, me: Operator, number: str, action: str, form: FormData) -> str:
    ctx = _ctx(request, me, _form_key(form))
    wait = _text(form, "wait") == "on"

    async def run(tx: Store) -> Outcome:
        if action == "replace":
            reason = ReplaceReason(_text(form, "reason") or ReplaceReason.DAMAGED.value)
            if reason not in cards.REPLACE_REASONS:
                raise FieldError("reason", "must be damaged or expired")
            card = await cards.replace(
                tx, ctx.queue, me, number, reason, wait=wait, request_key=ctx.key
            )
        elif action == "reissue":
            card = await cards.reissue(tx, ctx.queue, me, number, wait=wait, request_key=ctx.key)
        else:
            raise FieldError("action", "unknown service", code="unknown_service")
        return 201, views.card(card)

    response = await idempotent(ctx, run, digest=_digest(request, form))
    return str(orjson.loads(bytes(response.body))["card_number"])


@router.post("/cards/{number}/{action}", include_in_schema=False)
async def card_action(request: Request, number: str, action: str, me: PersonDep) -> Response:
    try:
        shown = await _card_action(request, me, number[:20], action[:20])
    except (SscardError, ValueError) as exc:
        message = error_message(exc) if isinstance(exc, SscardError) else "请从列表中选择"
        rt = _rt(request)
        view = await cards.status(rt.store, me, number[:20])
        context = _blank(
            card=views.card(view.card),
            state=views.status(view),
            action_error=message,
            failed_action=action,
            quote=None,
        )
        return await page(request, "card.html", 409, **context)
    done = "ordered" if shown != number else action
    return RedirectResponse(f"/counter/cards/{shown}?done={done}", status_code=303)


# --- holder services: information change, bank change; fees ------------------------------


@router.post("/holders/info-change", include_in_schema=False, openapi_extra=FORM_LIMIT)
async def info_change(request: Request, me: PersonDep) -> Response:
    form = await request.form()
    citizen_id = _text(form, "citizen_id")
    fields = {n: _text(form, n) for n in INFO_FIELDS if _text(form, n)}
    try:
        body = InfoChangeIn.model_validate({"citizen_id": citizen_id, **fields})
        change = changes.InfoChange(**body.model_dump(exclude={"citizen_id", "photo"}), photo=None)
        rt = _rt(request)
        result = await changes.change_info(
            rt.store, rt.queue, me, body.citizen_id, change, request_key=_form_key(form)
        )
    except ValidationError as exc:
        return await _holder_refused(request, me, citizen_id, validation_errors(exc))
    except SscardError as exc:
        return await _holder_refused(request, me, citizen_id, field_errors(exc))
    if result.card is not None:
        return RedirectResponse(f"/counter/cards/{result.card.card_number}?done=ordered", 303)
    found = await _holder_view(request, me, citizen_id)
    note = (
        "已更新：" + "、".join(FIELD_LABELS.get(f.value, f.value) for f in result.changed)
        if result.changed
        else "无变化"
    )
    return await page(
        request, "counter.html", **_blank(found=found, lookup_value=citizen_id, holder_note=note)
    )


async def _holder_refused(
    request: Request, me: Operator, citizen_id: str, errors: dict[str, str]
) -> Response:
    try:
        found: dict[str, Any] | None = await _holder_view(request, me, citizen_id[:40])
    except SscardError:
        found = None
    context = _blank(found=found, lookup_value=citizen_id, holder_errors=errors)
    return await page(request, "counter.html", 422, **context)


@router.post("/holders/bank-change", include_in_schema=False)
async def bank_change(request: Request, me: PersonDep) -> Response:
    form = await request.form()
    citizen_id = _text(form, "citizen_id")[:40]
    ctx = _ctx(request, me, _form_key(form))

    async def run(tx: Store) -> Outcome:
        card = await changes.change_bank(
            tx,
            ctx.queue,
            me,
            citizen_id,
            photo=None,
            wait=_text(form, "wait") == "on",
            request_key=ctx.key,
        )
        return 201, views.card(card)

    try:
        response = await idempotent(ctx, run, digest=_digest(request, form))
    except SscardError as exc:
        context = _blank(lookup_value=citizen_id, lookup_errors={"bank_change": error_message(exc)})
        return await page(request, "counter.html", 409, **context)
    number = orjson.loads(bytes(response.body))["card_number"]
    return RedirectResponse(f"/counter/cards/{number}?done=ordered", status_code=303)


@router.get("/fees", include_in_schema=False)
async def fee_quote(request: Request, me: PersonDep) -> Response:
    """收费标准: what a service costs at this bank, waivers shown."""
    try:
        service = Service(request.query_params.get("service", Service.APPLY.value))
    except ValueError:
        service = Service.APPLY
    q = await fees.quote(
        _rt(request).store,
        me,
        service,
        delivered=request.query_params.get("delivered") == "on",
        expedited=request.query_params.get("expedited") == "on",
    )
    return await page(request, "fees.html", **_blank(quote=views.quote(q), service=service))


@router.get("/cards/{number}/receipt.pdf", include_in_schema=False)
async def receipt(request: Request, number: str, me: PersonDep) -> Response:
    """领卡回执: the PDF the holder signs, as ``GET /v1/cards/{number}/receipt.pdf`` serves it."""
    from printers.documents.receipt import receipt_pdf

    made = await cards.receipt(_rt(request).store, me, number[:20])
    pdf = await asyncio.to_thread(receipt_pdf, made)
    return Response(pdf, media_type="application/pdf")
