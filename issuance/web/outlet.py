"""The outlet page (``/outlet``, supervisors): printers and their faults, the queue, jobs
in doubt with the evidence and the reconcile decision, dead jobs, today's cards."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from issuance.runtime import Runtime
from issuance.services import directory, dispatch, jobs
from issuance.store import Operator, OutletRecord
from issuance.web.render import PageRoute, error_message, page
from issuance.web.session import PersonDep, csrf_guard, pages_store
from sscard_core.errors import FieldError, Forbidden, SscardError
from sscard_core.messages import Reconciliation

router = APIRouter(prefix="/outlet", route_class=PageRoute, dependencies=[Depends(csrf_guard)])
DONE = {
    "cleared": "故障已清除",
    "reconciled": "已核对处理",
    "redriven": "已重新提交",
    "cancelled": "任务已取消，卡片作废",
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


async def _show(request: Request, me: Operator, status: int = 200, **extra: object) -> Response:
    outlet = await _outlet(request, me)
    desk = await directory.desk(pages_store(request), me, outlet)
    done = DONE.get(request.query_params.get("done", ""))
    return await page(
        request, "outlet.html", status, desk=desk, outcomes=OUTCOMES, done=done, **extra
    )


@router.get("", include_in_schema=False)
async def outlet_page(request: Request, me: PersonDep) -> Response:
    return await _show(request, me)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def _act(request: Request, me: Operator, action: str, form: FormData) -> str:
    rt = _rt(request)
    store = rt.store
    if action == "clear":
        await dispatch.clear_printer(
            store, me, (await _outlet(request, me)).code, _text(form, "printer")[:64]
        )
        return "cleared"
    job_id = int(_text(form, "job") or "0")
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


@router.post("/{action}", include_in_schema=False)
async def outlet_action(request: Request, action: str, me: PersonDep) -> Response:
    form = await request.form()
    try:
        done = await _act(request, me, action[:20], form)
    except ValueError:
        return await _show(request, me, 422, error="请选择核对结论")
    except SscardError as exc:
        message = "请填写原因" if getattr(exc, "code", "") == "required" else error_message(exc)
        return await _show(request, me, 409, error=message)
    return RedirectResponse(f"/outlet?done={done}", status_code=303)
