"""The signed-in person behind a page request, and the CSRF check of every unsafe request.

The session cookie (``sscard_session``) is HttpOnly, SameSite=Strict, path
``/``, and Secure whenever the page was served over https (behind a TLS proxy,
run uvicorn with ``--proxy-headers`` so that the scheme is seen). Every POST,
PUT, PATCH and DELETE to a page carries the session's CSRF token, in the form
field ``csrf`` or the ``X-CSRF-Token`` header (htmx and XMLHttpRequest send the
header); a missing or wrong token is a 403 page. A form body longer than
:data:`FORM_BODY_LIMIT` is refused (413) before it is read. Before sign-in, the sign-in
form's token is a random value in a short-lived cookie (double submit).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from issuance.runtime import Runtime
from issuance.services import signin
from issuance.store import Operator
from issuance.store.pages import PagesStore, SessionRow
from sscard_core.errors import PayloadTooLarge, SscardError

SESSION_COOKIE = "sscard_session"
PRESESSION_COOKIE = "sscard_presession"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
PRESESSION_SECONDS = 3600
# A page's form (the largest: an application with its photo as base64) is read whole: it may not
# be longer than this, declared in Content-Length before it is read. A batch upload streams
# through the API's receiver with its own cap instead.
FORM_BODY_LIMIT = 4 * 1024 * 1024
STREAMED_UPLOADS = frozenset({"/batches/upload"})
# The routes' own declaration of their body limit, as the HTTP layer reads it from every route
# (``openapi_extra``): page routes read their forms themselves, so FastAPI sees no body field.
LIMIT_KEY = "x-body-limit"
FORM_LIMIT = {LIMIT_KEY: FORM_BODY_LIMIT}


class SignInNeeded(SscardError):
    """No live session: the page sends the person to the sign-in form."""

    code = "sign_in_needed"
    http_status = 401


class CsrfRefused(SscardError):
    """An unsafe request without the session's CSRF token."""

    code = "csrf_refused"
    http_status = 403


def pages_store(request: Request) -> PagesStore:
    rt: Runtime = request.app.state.rt
    return PagesStore(rt.pool)


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )


async def current_session(request: Request) -> SessionRow | None:
    """The live session of this request (looked up once per request)."""
    if hasattr(request.state, "session"):
        found: SessionRow | None = request.state.session
        return found
    token = request.cookies.get(SESSION_COOKIE, "")
    found = await signin.session(pages_store(request), token) if token else None
    request.state.session = found
    return found


async def person(request: Request) -> Operator:
    found = await current_session(request)
    if found is None:
        raise SignInNeeded("please sign in")
    return found.operator


def presession_token(request: Request) -> str:
    """The sign-in form's token: the cookie's, or a new one the response must set."""
    token = request.cookies.get(PRESESSION_COOKIE) or getattr(request.state, "presession", None)
    if not token or len(token) > 100:
        token = secrets.token_urlsafe(24)
    request.state.presession = token
    return token


async def _sent_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        await request.body()  # kept, so the form and the idempotency digest can both read it
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def check_length(request: Request) -> None:
    """Refuse a page's form body over :data:`FORM_BODY_LIMIT` before reading it (413)."""
    if request.url.path in STREAMED_UPLOADS:
        return
    declared = request.headers.get("content-length")
    if declared is None and "transfer-encoding" not in request.headers:
        return  # no body
    if declared is None or not declared.isdigit() or int(declared) > FORM_BODY_LIMIT:
        raise PayloadTooLarge(
            f"a page's form may be at most {FORM_BODY_LIMIT} bytes, declared in Content-Length",
            limit=FORM_BODY_LIMIT,
        )


async def csrf_guard(request: Request) -> None:
    """Refuse an unsafe request whose body is too long (413) or whose CSRF token is missing
    or wrong (403 page)."""
    if request.method in SAFE_METHODS:
        return
    check_length(request)
    found = await current_session(request)
    expected = found.csrf if found else request.cookies.get(PRESESSION_COOKIE, "")
    sent = await _sent_token(request)
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused("this form's security token is missing or out of date")


PersonDep = Annotated[Operator, Depends(person)]
