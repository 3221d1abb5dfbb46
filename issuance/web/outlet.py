"""The outlet page (``/outlet``, supervisors): printers and their faults, the queue, jobs
in doubt with the journal's evidence, the evidence a card that may exist calls for and the
reconcile decision, dead jobs, today's cards and the outlet's card stock.

The printers, the queue and the jobs in doubt are pushed by the server as Server-Sent
Events (``/outlet/events``, one event per part, sent only when that part changed): the
browser holds one connection open and never polls.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response, StreamingResponse

from issuance.runtime import Runtime
from issuance.services import directory, dispatch, jobs, stock
from issuance.store import Operator, OutletRecord
from issuance.web.progress import KEEPALIVE_SECONDS, sse
from issuance.web.render import PageRoute, error_message, fragment, page
from issuance.web.session import PersonDep, csrf_guard, current_session, pages_store
from sscard_core.errors import FieldError, Forbidden, SscardError
from sscard_core.messages import Reconciliation

router = APIRouter(prefix="/outlet", route_class=PageRoute, dependencies=[Depends(csrf_guard)])
WATCH_SECONDS = 0.5  # how often the server re-reads the desk for an open page
LIVE_PARTS = {"printers": "_outlet_printers.html", "queue": "_outlet_queue.html",
              "doubt": "_outlet_doubt.html"}  # fmt: skip
DONE = {
    "cleared": "故障已清除",
    "reconciled": "已核对处理",
    "redriven": "已重新提交",
    "cancelled": "任务已取消，卡片作废",
    "evidence_made": "证据已登记：卡片完好，已转为待领卡",
    "evidence_absent": "证据已登记：确认无此卡，任务转为失败任务，可重新提交或取消",
}
OUTCOMES = [
    (Reconciliation.MADE.value, "已制成（卡片完好，交付）"),
    (Reconciliation.NOT_STARTED.value, "未开始（重新制卡）"),
    (Reconciliation.FAILED.value, "已损坏（转为失败任务）"),
]


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


async def _outlet(request: Request, me: Operator) -> OutletRecord:
    found = None if me.outlet is None else await _rt(request).store.outlet(me.outlet)
    if found is None:
        raise Forbidden("this account works at no outlet", code="no_outlet")
    return found


async def _stock(request: Request, me: Operator, code: str) -> stock.OutletStock | None:
    """The outlet's card stock, or None where this account may not see it."""
    try:
        return await stock.outlet_stock(_rt(request).store, me, code)
    except Forbidden:
        return None


def parts(desk: directory.Desk, csrf: str) -> dict[str, str]:
    """The live parts of the page as HTML (the page and the stream render them alike)."""
    return {
        name: fragment(t, desk=desk, csrf=csrf, outcomes=OUTCOMES) for name, t in LIVE_PARTS.items()
    }


def digest(html: str) -> str:
    return hashlib.sha256(html.encode()).hexdigest()[:16]


async def _csrf(request: Request) -> str:
    found = await current_session(request)
    return "" if found is None else found.csrf


async def _show(request: Request, me: Operator, status: int = 200, **extra: object) -> Response:
    outlet = await _outlet(request, me)
    desk = await directory.desk(pages_store(request), me, outlet)
    done = DONE.get(request.query_params.get("done", ""))
    shown = parts(desk, await _csrf(request))
    seen = ",".join(f"{k}:{digest(v)}" for k, v in shown.items())
    return await page(
        request, "outlet.html", status, desk=desk, done=done, parts=shown, seen=seen,
        stock=await _stock(request, me, outlet.code), **extra,
    )  # fmt: skip


@router.get("", include_in_schema=False)
async def outlet_page(request: Request, me: PersonDep) -> Response:
    return await _show(request, me)


# --- live parts ---------------------------------------------------------------------------


Render = Callable[[], Awaitable[dict[str, str]]]
Gone = Callable[[], Awaitable[bool]]


async def live(render: Render, gone: Gone, seen: dict[str, str]) -> AsyncIterator[bytes]:
    """An event per part whenever its HTML changed from what the page shows (``seen``: each
    part's digest), and a comment now and then."""
    last = dict(seen)
    quiet = 0.0
    while not await gone():
        current = await render()
        now = {k: digest(v) for k, v in current.items()}
        changed = [k for k in now if last.get(k) != now[k]]
        for name in changed:
            yield sse(name, current[name])
            last[name] = now[name]
        quiet = 0.0 if changed else quiet + WATCH_SECONDS
        if quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield b": keep-alive\n\n"
        await asyncio.sleep(WATCH_SECONDS)


@router.get("/events", include_in_schema=False)
async def outlet_events(request: Request, me: PersonDep) -> Response:
    """The desk's printers, queue and jobs in doubt as Server-Sent Events."""
    outlet = await _outlet(request, me)
    csrf = await _csrf(request)

    async def render() -> dict[str, str]:
        return parts(await directory.desk(pages_store(request), me, outlet), csrf)

    await render()  # scope checked before the stream starts
    pairs = (p.partition(":") for p in request.query_params.get("seen", "")[:200].split(","))
    seen = {k: v for k, _, v in pairs if k in LIVE_PARTS}
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    stream = live(render, request.is_disconnected, seen)
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


# --- decisions -------------------------------------------------------------------------------


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _evidence(form: FormData) -> dispatch.Evidence:
    try:
        kind = dispatch.EvidenceKind(_text(form, "kind"))
    except ValueError:
        raise FieldError("kind", "choose what was found", code="choose_evidence") from None
    note = _text(form, "note")[:2000]
    printer = _text(form, "printer")[:64] or None
    if kind is dispatch.EvidenceKind.NO_CARD:
        return dispatch.Evidence(kind, note, None, printer)
    read_back = {
        "card_number": _text(form, "card_number")[:32],
        "card_identifier": _text(form, "card_identifier")[:64],
    }
    return dispatch.Evidence(kind, note, read_back, printer)


async def _act(request: Request, me: Operator, action: str, form: FormData) -> str:
    rt = _rt(request)
    store = rt.store
    if action == "clear":
        await dispatch.clear_printer(
            store, me, (await _outlet(request, me)).code, _text(form, "printer")[:64]
        )
        return "cleared"
    job_id = int(_text(form, "job") or "0")
    if action == "evidence":
        found = _evidence(form)
        await dispatch.record_evidence(store, rt.queue, me, job_id, found)
        made = found.kind is dispatch.EvidenceKind.CARD_READ
        return "evidence_made" if made else "evidence_absent"
    if action == "reconcile":
        outcome = Reconciliation(_text(form, "outcome"))
        note = _text(form, "note")[:2000]
        await dispatch.reconcile(store, rt.queue, me, job_id, outcome=outcome, note=note)
        return "reconciled"
    if action == "redrive":
        await jobs.redrive(store, rt.queue, me, job_id)
        return "redriven"
    if action == "cancel":
        reason = _text(form, "reason")[:500]
        if not reason:
            raise FieldError("reason", "a reason is required", code="required")
        await jobs.cancel(store, rt.queue, me, job_id, reason=reason)
        return "cancelled"
    raise FieldError("action", "unknown action", code="unknown_action")


def refusal(exc: SscardError) -> str:
    """A refusal in Chinese; a card that may exist says which card and what to do."""
    if exc.code == "card_may_exist":
        f = exc.fields
        return (
            f"卡号 {f.get('card_number')} 的卡片可能已经制成（第 {f.get('attempt')} 次制卡，"
            f"{f.get('worker')}）：登记证据之前不能核对、重新提交或取消。请在出卡口和废卡箱查找"
            "这张卡：找到后用读卡器读出芯片，登记读出的卡号和卡识别码；确认没有这张卡时登记“确认无此卡”。"
        )
    return "请填写原因" if exc.code == "required" else error_message(exc)


@router.post("/{action}", include_in_schema=False)
async def outlet_action(request: Request, action: str, me: PersonDep) -> Response:
    form = await request.form()
    try:
        done = await _act(request, me, action[:20], form)
    except ValueError:
        return await _show(request, me, 422, error="请选择核对结论")
    except SscardError as exc:
        return await _show(request, me, 409, error=refusal(exc))
    return RedirectResponse(f"/outlet?done={done}", status_code=303)
