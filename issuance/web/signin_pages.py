"""``/signin`` (name and password, or a one-time link) and ``/signout``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from issuance.domain.roles import ALL_BANKS, Role
from issuance.runtime import Runtime
from issuance.services import signin
from issuance.services.signin import SESSION_LIFETIME
from issuance.web.render import PageRoute, error_message, page
from issuance.web.session import (
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    csrf_guard,
    current_session,
    pages_store,
    set_cookie,
)
from sscard_core.errors import AuthError, Forbidden, TooManyAttempts

router = APIRouter(route_class=PageRoute, dependencies=[Depends(csrf_guard)])
HOME: dict[str, str] = {  # a role's first page; every account that sees every bank: /bureau
    Role.CLERK: "/counter",
    Role.SUPERVISOR: "/outlet",
    Role.BANK_ADMIN: "/batches",
    **dict.fromkeys(ALL_BANKS, "/bureau"),
}


def _next(value: object, role: Role) -> str:
    """Where to go after sign-in: a local path only, else the role's home page."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//"):
        return value
    return HOME.get(role, "/")


def _signed_in(request: Request, made: signin.NewSession, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    max_age = int(SESSION_LIFETIME.total_seconds())
    set_cookie(response, request, SESSION_COOKIE, made.token, max_age)
    response.delete_cookie(PRESESSION_COOKIE, path="/")
    return response


@router.get("/signin", include_in_schema=False)
async def signin_form(request: Request) -> Response:
    return await page(request, "signin.html", next=request.query_params.get("next", ""))


@router.post("/signin", include_in_schema=False)
async def signin_post(request: Request) -> Response:
    form = await request.form()
    name = str(form.get("name", ""))
    rt: Runtime = request.app.state.rt
    attempt = signin.Attempt(
        name, str(form.get("password", "")), str(form.get("totp", "")).strip() or None,
        request.client.host if request.client is not None else "unknown",
    )  # fmt: skip
    try:
        made = await signin.sign_in(
            rt.store, pages_store(request), attempt, rt.settings.credentials
        )
    except (AuthError, Forbidden, TooManyAttempts) as exc:
        return await page(
            request,
            "signin.html",
            401,
            next=form.get("next", ""),
            name=name,
            errors={"password": error_message(exc)},
        )
    return _signed_in(request, made, _next(form.get("next"), made.operator.role))


@router.get("/signin/link/{token}", include_in_schema=False)
async def signin_link(request: Request, token: str) -> Response:
    """A one-time link asks for a click (a POST), so link previewers do not use it up."""
    return await page(request, "signin_link.html", token=token)


@router.post("/signin/link/{token}", include_in_schema=False)
async def signin_link_post(request: Request, token: str) -> Response:
    try:
        made = await signin.sign_in_with_link(pages_store(request), token)
    except AuthError as exc:
        return await page(request, "signin.html", 401, errors={"form": error_message(exc)})
    return _signed_in(request, made, HOME.get(made.operator.role, "/"))


@router.post("/signout", include_in_schema=False)
async def signout(request: Request) -> Response:
    if await current_session(request) is not None:
        await signin.sign_out(pages_store(request), request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
