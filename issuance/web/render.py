"""Templates, Chinese messages for errors, and the route class that turns errors into pages.

Templates only show what the services return: every rule (who may do what,
what a field accepts, what a card's state allows) is decided by the service
layer, and its errors come back here to be worded in Chinese beside their
field.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from issuance.domain.cards import CardStatus
from issuance.domain.identity import BeijingDistrict
from issuance.domain.roles import Operation, may
from issuance.services.directory import BEIJING
from issuance.web.session import (
    PRESESSION_COOKIE,
    PRESESSION_SECONDS,
    SignInNeeded,
    current_session,
    presession_token,
    set_cookie,
)
from sscard_core.errors import BatchRejected, FieldError, FieldProblem, SscardError

env = Environment(
    loader=PackageLoader("issuance.web", "templates"),
    autoescape=select_autoescape(["html"]),
    enable_async=False,
    trim_blocks=True,
    lstrip_blocks=True,
)
DISTRICTS = [(d.value, d.label) for d in BeijingDistrict]
env.globals["districts"] = DISTRICTS
env.globals["beijing"] = BEIJING
env.globals["reads_audit"] = lambda role: may(role, Operation.AUDIT_READ)
env.globals["status_labels"] = {s.value: s.info.label_zh for s in CardStatus}
env.globals["step_labels"] = {
    "idle": "未开始",
    "fed": "已进卡",
    "encoding": "写入芯片",
    "printing": "打印卡面",
    "ejecting": "出卡",
}

# Service error codes → what the counter reads.
CODE_MESSAGES: dict[str, str] = {
    "citizen_id_length": "公民身份号码应为 18 位",
    "citizen_id_characters": "公民身份号码应为 17 位数字加 1 位数字或 X",
    "citizen_id_region": "公民身份号码的地区码不存在",
    "citizen_id_birth_date": "公民身份号码中的出生日期无效",
    "citizen_id_check_digit": "公民身份号码校验位错误",
    "birth_date_mismatch": "出生日期与公民身份号码不一致",
    "gender_mismatch": "性别与公民身份号码不一致",
    "name_empty": "姓名不能为空",
    "name_too_long": "姓名过长，卡面放不下",
    "name_characters": "姓名含有不允许的字符",
    "name_mixed_scripts": "姓名不能混用中文和拉丁字母",
    "name_latin_not_allowed": "此处不接受拉丁字母姓名",
    "name_dot_position": "间隔号“·”只能位于两段姓名之间",
    "unprintable_character": "姓名中有卡面字库无法打印的字",
    "invalid_photo": "照片无法使用（应为 JPEG 或 PNG 证件照）",
    "photo_too_small": "照片分辨率过低",
    "holder_at_other_bank": "此人的社保卡在其他银行：请办理银行变更",
    "not_found": "未找到（本行无此记录）",
    "transition_forbidden": "卡片当前状态不允许此项业务",
    "forbidden": "您的角色无权办理此项业务",
    "no_outlet": "此账号未关联开放的网点",
    "job_not_cancellable": "此任务当前状态不可取消：请先核对处理",
    "job_not_dead": "只有失败任务才能重新提交",
    "pin_not_accepted": "密码只能在密码键盘上输入",
    "bad_credentials": "用户名或密码错误",
    "bad_totp": "动态口令错误或已使用过",
    "totp_required": "此账号登录需要动态口令",
    "totp_not_enrolled": "此账号须先开通动态口令（sscard operator totp enrol）",
    "too_many_attempts": "登录失败次数过多，请稍后再试",
    "link_refused": "登录链接无效、已使用或已过期",
    "idempotency_key_reused": "此表单已提交过，请刷新后重试",
    "batch_rejected": "批量文件有错误，未受理任何记录",
    "csrf_refused": "表单的安全令牌缺失或已过期：请返回并刷新页面后重新提交",
    "payload_too_large": "上传的内容超过了允许的大小",
    "card_may_exist": "此任务的卡片可能已经制成：请先登记证据（芯片读出或确认无此卡）",
    "evidence_mismatch": "读出的芯片不是此任务的卡片：请核对卡号和卡识别码",
    "job_not_in_doubt": "此任务当前不在待核对或失败状态，无需登记证据",
    "choose_evidence": "请选择查找结果：找到卡片或确认无此卡",
    "calendar_unknown": "节假日日历尚未收录该年份，无法计算工作日期限：请人工核对",
    "conditions_missing": "尚未记录第四条条件（人民银行合规审核、全国异地激活），不能批准",
    "not_under_review": "第四条条件只能在申请审核期间记录",
    "use_exit": "退出合作须按第十条选择事由办理终止",
    "choose_stage": "请选择进入的环节",
    "choose_ground": "请选择终止事由",
    "choose_one": "请从列表中选择",
    "invalid_date": "日期格式应为 年-月-日，如 2026-01-31",
    "invalid_datetime": "请填写日期和时间",
    "invalid_year": "请填写年度",
    "filing_decided": "此备案已经处理过",
    "outlet_closed": "该网点已撤销，备案不能确认",
    "interview_not_required": "该银行该年度考核合格，无需约谈",
    "evaluation_exists": "该银行该年度已经考核",
    "closed": "此事件已结案",
    "naive_datetime": "时间须带时区",
    "unknown_action": "未知的操作",
}
FIELD_LABELS = {
    "citizen_id": "公民身份号码",
    "name": "姓名",
    "gender": "性别",
    "birth_date": "出生日期",
    "ethnicity": "民族",
    "birthplace": "籍贯",
    "photo": "照片",
    "phone": "电话",
    "address": "地址",
}
FIELD_MESSAGES = {
    "ethnicity": "民族代码应为 1 到 56",
    "birthplace": "籍贯应为六位行政区划代码",
    "note": "退回备案须写明原因（最多 1000 字）",
    "documents": "依据文件每行一个文号，每个 1 到 200 字，最多 50 个；终止合作至少一个",
    "decided_on": "决定日期不能早于上一项决定",
    "pboc_review_ref": "请填写人民银行合规审核文号（最多 200 字）",
    "description": "请填写事件经过（1 到 4000 字）",
    "reported_at": "报告时间不能早于发生时间",
    "outlet": "该银行没有这个网点",
    "resolution": "请填写处理结果（1 到 4000 字）",
    "attendees": "请填写参加人员",
    "summary": "请填写约谈纪要",
    "held_on": "约谈日期不能早于考核日期",
    "citizen_id": "公民身份号码格式不正确",
    "card_number": "卡号格式不正确",
}


def _validation_message(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "必填"
    if kind == "string_too_short":
        return "不能为空" if ctx.get("min_length") == 1 else f"至少 {ctx.get('min_length')} 个字符"
    if kind == "string_too_long":
        return f"过长，最多 {ctx.get('max_length')} 个字符"
    if kind.startswith("date") or kind.startswith("datetime"):
        return "日期格式应为 年-月-日，如 1990-01-31"
    if kind.startswith("int") or kind in ("greater_than_equal", "less_than_equal"):
        return "应为范围内的整数"
    if kind in ("enum", "literal_error"):
        return "请从列表中选择"
    return "格式不正确"


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "holder")]
    return parts[-1] if parts else "form"


def validation_errors(exc: ValidationError) -> dict[str, str]:
    """Field → Chinese message, one per field, from the API's own schema errors."""
    out: dict[str, str] = {}
    for e in exc.errors():
        field = _field_of(e.get("loc", ()))
        message = FIELD_MESSAGES.get(field) or _validation_message(e)
        out.setdefault(field, message)
    return out


def problem_message(p: FieldProblem) -> str:
    return CODE_MESSAGES.get(p.code) or FIELD_MESSAGES.get(p.field) or f"无效：{p.message}"


def error_message(exc: SscardError) -> str:
    """An error as a sentence for the page."""
    if isinstance(exc, FieldError):
        return problem_message(exc.problem)
    return CODE_MESSAGES.get(exc.code) or CODE_MESSAGES.get(
        type(exc).__name__.lower(), f"未能办理：{exc.message}"
    )


def field_errors(exc: SscardError) -> dict[str, str]:
    """Field → Chinese message for an input error (the whole form under ``form``)."""
    if isinstance(exc, FieldError):
        return {exc.problem.field: problem_message(exc.problem)}
    if isinstance(exc, BatchRejected):
        return {p.field: problem_message(p) for p in exc.problems}
    return {"form": error_message(exc)}


async def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """A page: the template with the person, their CSRF token and the context."""
    found = await current_session(request)
    csrf = found.csrf if found else presession_token(request)
    body = env.get_template(template).render(
        request=request, me=None if found is None else found.operator, csrf=csrf, **context
    )
    response = HTMLResponse(body, status_code=status)
    if found is None:
        set_cookie(response, request, PRESESSION_COOKIE, csrf, PRESESSION_SECONDS)
    return response


def fragment(template: str, **context: Any) -> str:
    return env.get_template(template).render(**context)


ERROR_TITLES = {
    401: "请先登录",
    403: "操作被拒绝",
    404: "未找到",
    409: "无法办理",
    413: "文件过大",
    422: "输入有误",
}


class PageRoute(APIRoute):
    """A page route: sscard errors become an HTML page (sign-in needed: a redirect)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded:
                target = request.url.path if request.method == "GET" else "/"
                return RedirectResponse(f"/signin?next={target}", status_code=303)
            except SscardError as exc:
                status = exc.http_status if 400 <= exc.http_status < 500 else 500
                title = ERROR_TITLES.get(status, "出错了")
                return await page(
                    request, "error.html", status, title=title, message=error_message(exc)
                )

        return run
