"""The bureau's pages (``/bureau``): banks and where each stands in its onboarding with its
第六条 deadline (overdue ones flagged), the next decision a bureau administrator may take,
each bank's share of outlets issuing on the spot against 70 % (第五条(四)) as an inline
SVG chart, and outlets with their filings to acknowledge or return.

Evaluations, interviews, incidents and the audit search are in
:mod:`issuance.web.bureau_records`. Every page reads and decides through the services the
API uses (:mod:`issuance.services.oversight`, :mod:`issuance.services.outlets`); a refusal
comes back as a Chinese sentence above the form.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from issuance.domain.banks import EXIT_GROUNDS, NEXT_STAGES, BankStage, ExitGround
from issuance.domain.roles import Operation, may
from issuance.runtime import Runtime
from issuance.services import directory, evaluation, oversight
from issuance.services import outlets as filing_service
from issuance.store import Operator, Store
from issuance.web.render import PageRoute, error_message, page
from issuance.web.session import PersonDep, csrf_guard, pages_store
from sscard_core.errors import FieldError, SscardError

router = APIRouter(prefix="/bureau", route_class=PageRoute, dependencies=[Depends(csrf_guard)])
STAGE_LABELS = {
    BankStage.APPLIED: "已提交申请", BankStage.UNDER_REVIEW: "审核中",
    BankStage.APPROVED: "已批准", BankStage.REJECTED: "未予批准",
    BankStage.SYSTEM_INTEGRATION: "系统对接中", BankStage.ACCEPTANCE: "验收中",
    BankStage.AGREEMENT_SIGNED: "已签订协议", BankStage.PUBLISHED: "已向社会公布",
    BankStage.ACTIVE: "合作中（可制卡）", BankStage.SUSPENDED: "已暂停", BankStage.EXITED: "已退出",
}  # fmt: skip
GROUND_LABELS = {
    ExitGround.BREACH: "违反协议或规定", ExitGround.TWO_FAILED_YEARS: "连续两年考核不合格",
    ExitGround.MAJOR_RISK: "发生重大风险", ExitGround.MUTUAL_TERMINATION: "双方协商解除",
    ExitGround.NON_RENEWAL: "协议到期不再续签",
}  # fmt: skip
PARTY_LABELS = {"bureau": "人社局", "bank": "银行"}
FILING_KINDS = {"add": "新增", "change": "变更", "close": "撤销"}
FILING_STATUS = {"filed": "待处理", "acknowledged": "已确认", "returned": "已退回"}
DONE = {
    "decided": "决定已记录",
    "conditions": "第四条条件已记录",
    "terminated": "已终止合作（第十条）",
    "acknowledged": "备案已确认，网点信息已更新",
    "returned": "备案已退回",
}
LABELS: dict[str, Any] = {
    "stage_labels": {s.value: t for s, t in STAGE_LABELS.items()},
    "party_labels": PARTY_LABELS,
    "filing_kinds": FILING_KINDS,
    "filing_status": FILING_STATUS,
}


def rt_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


def text(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def day(form: FormData, name: str) -> date:
    """A date field (年-月-日); a FieldError naming it otherwise."""
    try:
        return date.fromisoformat(text(form, name, 10))
    except ValueError:
        raise FieldError(name, "a date as YYYY-MM-DD", code="invalid_date") from None


def documents(form: FormData) -> tuple[str, ...]:
    """The documents field: one reference a line."""
    return tuple(line for line in text(form, "documents", 20_000).splitlines() if line.strip())


def done_of(request: Request) -> str | None:
    return DONE.get(request.query_params.get("done", ""))


Act = Callable[[Store, FormData], Awaitable[str]]
Show = Callable[[int, str, dict[str, str]], Awaitable[Response]]


async def act(request: Request, run: Act, back: str, show: Show) -> Response:
    """Run a form's decision: on success back to ``back`` (``?done=``), else the page again
    with the refusal in Chinese and the form's values kept."""
    form = await request.form()
    try:
        done = await run(rt_of(request).store, form)
    except SscardError as exc:
        status = exc.http_status if 400 <= exc.http_status < 500 else 409
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
        return await show(status, error_message(exc), values)
    return RedirectResponse(f"{back}?done={done}", status_code=303)


# --- overview -------------------------------------------------------------------------------


def _on(request: Request) -> date | None:
    try:
        return date.fromisoformat(request.query_params.get("on", ""))
    except ValueError:
        return None


@router.get("", include_in_schema=False)
async def bureau(request: Request, me: PersonDep) -> Response:
    directory.check_bureau(me)
    store = pages_store(request)
    views = await oversight.list_banks(rt_of(request).store, me, _on(request))
    shares = await directory.bank_shares(store, me)
    pending = await filing_service.filings(rt_of(request).store, me, status="filed")
    return await page(
        request, "bureau.html", banks=views, shares=shares, pending=len(pending), **LABELS
    )


# --- one bank: its decisions and the next one -------------------------------------------------


async def _bank_page(
    request: Request, me: Operator, code: str, status: int = 200, *, error: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    view = await oversight.bank_view(rt_of(request).store, me, code[:6], _on(request))
    current = BankStage(view.bank.stage)
    following = sorted(NEXT_STAGES.get(current, frozenset()), key=list(BankStage).index)
    return await page(
        request, "bureau_bank.html", status, view=view, error=error, done=done_of(request),
        values=values or {},
        next_stages=[s for s in following if s is not BankStage.EXITED],
        may_exit=BankStage.EXITED in following,
        takes_conditions=current in (BankStage.APPLIED, BankStage.UNDER_REVIEW),
        grounds=[(g.value, f"{GROUND_LABELS[g]}（{EXIT_GROUNDS[g].clause}）") for g in ExitGround],
        manages=may(me.role, Operation.MANAGE_BANKS), **LABELS,
    )  # fmt: skip


@router.get("/banks/{code}", include_in_schema=False)
async def bank_page(request: Request, code: str, me: PersonDep) -> Response:
    return await _bank_page(request, me, code)


def _stage(form: FormData) -> BankStage:
    try:
        return BankStage(text(form, "stage", 32))
    except ValueError:
        raise FieldError("stage", "choose the next step", code="choose_stage") from None


@router.post("/banks/{code}/{what}", include_in_schema=False)
async def bank_action(request: Request, code: str, what: str, me: PersonDep) -> Response:
    code = code[:6]

    async def run(store: Store, form: FormData) -> str:
        if what not in ("decide", "conditions", "terminate"):
            raise FieldError("action", "unknown action", code="unknown_action")
        if what == "conditions":
            c = oversight.Conditions(
                text(form, "pboc_review_ref", 200), day(form, "pboc_reviewed_on"),
                form.get("remote_activation") == "on", documents(form),
            )  # fmt: skip
            await oversight.record_conditions(store, me, code, c)
            return "conditions"
        if what == "terminate":
            try:
                ground = ExitGround(text(form, "ground", 32))
            except ValueError:
                raise FieldError("ground", "choose a ground", code="choose_ground") from None
            t = oversight.Termination(ground, day(form, "decided_on"), documents(form),
                                      text(form, "note", 1000))  # fmt: skip
            await evaluation.terminate(store, me, code, t)
            return "terminated"
        d = oversight.Decision(
            _stage(form), day(form, "decided_on"), documents(form), text(form, "note", 1000)
        )
        await oversight.decide(store, me, code, d)
        return "decided"

    async def show(status: int, error: str, values: dict[str, str]) -> Response:
        return await _bank_page(request, me, code, status, error=error, values=values)

    return await act(request, run, f"/bureau/banks/{code}", show)


# --- outlets and their filings ---------------------------------------------------------------


async def _filings_page(
    request: Request, me: Operator, status: int = 200, error: str | None = None
) -> Response:
    directory.check_bureau(me)
    store = rt_of(request).store
    found = await filing_service.filings(store, me)
    return await page(
        request, "bureau_filings.html", status, error=error, done=done_of(request),
        pending=[f for f in found if f.status == "filed"],
        decided=[f for f in found if f.status != "filed"][:50],
        outlets=await directory.outlet_views(pages_store(request)),
        reviews=may(me.role, Operation.REVIEW_FILINGS), **LABELS,
    )  # fmt: skip


@router.get("/filings", include_in_schema=False)
async def filings_page(request: Request, me: PersonDep) -> Response:
    return await _filings_page(request, me)


@router.post("/filings/{filing_id}/{what}", include_in_schema=False)
async def filing_action(request: Request, filing_id: int, what: str, me: PersonDep) -> Response:
    async def run(store: Store, form: FormData) -> str:
        if what not in ("acknowledge", "return"):
            raise FieldError("action", "unknown action", code="unknown_action")
        acknowledge = what == "acknowledge"
        note = text(form, "note", 1000)
        await filing_service.decide(store, me, filing_id, acknowledge=acknowledge, note=note)
        return "acknowledged" if acknowledge else "returned"

    async def show(status: int, error: str, values: dict[str, str]) -> Response:
        return await _filings_page(request, me, status, error)

    return await act(request, run, "/bureau/filings", show)
