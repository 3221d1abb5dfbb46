"""Operators' credentials and the audit trail over HTTP.

* ``POST /v1/sessions`` (no token): sign in with name, password and, where
  needed, a TOTP code → ``{"token", "expires_at", "operator"}``; 401
  ``bad_credentials`` / ``totp_required`` / ``bad_totp``, 403
  ``totp_not_enrolled``, 429 ``too_many_attempts``.
* ``DELETE /v1/sessions/current``: sign out (the calling token is revoked).
* ``POST /v1/operators/me/token/rotate``: a new token, the calling one revoked.
* ``POST /v1/operators/{name}/tokens/revoke``: a bank administrator revokes
  every token of one of the bank's operators.
* ``POST /v1/operators/me/password``, ``/me/totp`` and ``/me/totp/confirm``.
* ``GET /v1/audit`` (keyset pages) and ``GET /v1/audit.csv`` (streamed).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from issuance.api import views
from issuance.api.deps import CtxDep, runtime
from issuance.api.direct import DirectRoute
from issuance.api.idempotency import render
from issuance.api.operators import OperatorCache
from issuance.api.schemas import (
    AuditPageOut,
    AuditQueryIn,
    AuditSearchIn,
    PasswordIn,
    RevokedOut,
    SignInIn,
    TokenOut,
    TotpConfirmIn,
    TotpOut,
)
from issuance.services import audit, credentials

router = APIRouter(prefix="/v1", route_class=DirectRoute)
OPERATORS: list[str | Enum] = ["operators"]
AUDIT: list[str | Enum] = ["audit"]
Name = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")]


def _cache(request: Request) -> OperatorCache:
    cache: OperatorCache = request.app.state.operators
    return cache


SIGN_IN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "bad_credentials, totp_required or bad_totp"},
    403: {"description": "totp_not_enrolled: the role needs a second factor"},
    429: {"description": "too_many_attempts for this operator or address"},
}


@router.post(
    "/sessions", response_model=TokenOut, status_code=201, tags=OPERATORS,
    responses=SIGN_IN_ERRORS,
)  # fmt: skip
async def sign_in(body: SignInIn, request: Request) -> Response:
    """Sign in: a bearer token that expires (see ``SSCARD_TOKEN_TTL_HOURS``)."""
    rt = await runtime(request)
    address = request.client.host if request.client is not None else "unknown"
    done = await credentials.sign_in(
        rt.store, body.name, body.password, body.totp_code, address=address,
        policy=rt.settings.credentials,
    )  # fmt: skip
    return render(201, views.token(done.token, done.operator))


@router.delete("/sessions/current", status_code=204, tags=OPERATORS)
async def sign_out(ctx: CtxDep) -> Response:
    """Sign out: the calling token is revoked at once."""
    await credentials.sign_out(ctx.store, ctx.op)
    _cache(ctx.request).clear()
    return Response(status_code=204)


@router.post("/operators/me/token/rotate", response_model=TokenOut, tags=OPERATORS)
async def rotate(ctx: CtxDep) -> Response:
    """A new token with a fresh lifetime; the calling one is revoked."""
    policy = (await runtime(ctx.request)).settings.credentials
    issued = await credentials.rotate(ctx.store, ctx.op, policy)
    _cache(ctx.request).clear()
    return render(200, views.token(issued, ctx.op))


@router.post("/operators/{name}/tokens/revoke", response_model=RevokedOut, tags=OPERATORS)
async def revoke(name: Name, ctx: CtxDep) -> Response:
    """A bank administrator revokes every token of one of the bank's operators, at once."""
    revoked = await credentials.revoke_operator(ctx.store, ctx.op, name)
    _cache(ctx.request).clear()
    return render(200, {"revoked": revoked})


@router.post("/operators/me/password", status_code=204, tags=OPERATORS)
async def change_password(body: PasswordIn, ctx: CtxDep) -> Response:
    """Change one's own sign-in password (the current one is checked)."""
    await credentials.change_password(ctx.store, ctx.op, body.current, body.new)
    return Response(status_code=204)


@router.post("/operators/me/totp", response_model=TotpOut, tags=OPERATORS)
async def begin_totp(ctx: CtxDep) -> Response:
    """Start enrolling a TOTP second factor: the secret and its ``otpauth://`` URI."""
    enrolment = await credentials.begin_totp(ctx.store, ctx.op)
    return render(200, {"secret": enrolment.secret, "uri": enrolment.uri})


@router.post("/operators/me/totp/confirm", status_code=204, tags=OPERATORS)
async def confirm_totp(body: TotpConfirmIn, ctx: CtxDep) -> Response:
    """Confirm the enrolment with a code: sign-in needs a code from now on."""
    await credentials.confirm_totp(ctx.store, ctx.op, body.code, datetime.now(UTC))
    return Response(status_code=204)


@router.get("/audit", response_model=AuditPageOut, tags=AUDIT)
async def search_audit(ctx: CtxDep, q: Annotated[AuditSearchIn, Query()]) -> Response:
    """Audit records by holder (citizen ID), card, operator (name) and time, oldest first;
    ``next_after`` is the ``after`` of the next page (null on the last)."""
    bank = audit.scope(ctx.op)
    page = await audit.search(ctx.store, q.to_query(), bank=bank, after=q.after, limit=q.limit)
    return render(200, views.audit_page(page))


@router.get(
    "/audit.csv", tags=AUDIT, response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)  # fmt: skip
async def export_audit(ctx: CtxDep, q: Annotated[AuditQueryIn, Query()]) -> Response:
    """The matching audit records as CSV, streamed (same filters as ``/v1/audit``)."""
    lines = await audit.export_csv(ctx.store, q.to_query(), bank=audit.scope(ctx.op))
    headers = {"Content-Disposition": 'attachment; filename="audit.csv"'}
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=headers)
