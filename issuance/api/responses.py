"""JSON responses through orjson, and errors as machine-readable bodies.

* :class:`sscard_core.errors.SscardError` → its ``http_status`` and ``to_dict()``.
* A request that does not match its schema → 422 ``{"code": "invalid_input",
  "message", "errors": [{"field", "code", "message"}]}``, one entry per field.
* Starlette's own errors (a body that cannot be parsed: 400 ``malformed_body``;
  an unknown path: 404) → ``{"code", "message"}`` too.
* A value PostgreSQL refuses (out of range, bad encoding) that slipped past
  the schema → 422 ``invalid_input`` too: bad input is never a 500.
* The database unreachable (a refused or lost connection, wherever it surfaces)
  → 503 ``database_unavailable`` with ``Retry-After``, in the same error shape.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sscard_core.connect import CONNECTION_ERRORS
from sscard_core.errors import DatabaseError, SscardError

LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


class OrjsonResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


RETRY_AFTER_SECONDS = 2


def error_response(exc: SscardError) -> Response:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if exc.http_status == 503 else None
    return OrjsonResponse(exc.to_dict(), status_code=exc.http_status, headers=headers)


async def unavailable_handler(_request: Request, exc: Exception) -> Response:
    """A lost or refused database connection that no query wrapper converted: 503, never 500."""
    error = DatabaseError(f"database unavailable: {type(exc).__name__}", detail=type(exc).__name__)
    return error_response(error)


async def sscard_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SscardError)
    return error_response(exc)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or "body"


async def validation_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field(e.get("loc", ())), "code": str(e.get("type", "invalid")),
         "message": str(e.get("msg", ""))}
        for e in exc.errors()
    ]  # fmt: skip
    body = {"code": "invalid_input", "message": "the request is not valid", "errors": errors}
    return OrjsonResponse(body, status_code=422)


async def data_error_handler(_request: Request, exc: Exception) -> Response:
    body = {"code": "invalid_input", "message": f"a value was refused: {type(exc).__name__}"}
    return OrjsonResponse(body, status_code=422)


HTTP_CODES = {400: "malformed_body", 404: "not_found", 405: "method_not_allowed"}


async def http_error_handler(_request: Request, exc: Exception) -> Response:
    """Starlette's and FastAPI's own errors (an unparsable body, an unknown path) in the one
    error shape; an sscard error raised while the body was read keeps its own answer."""
    assert isinstance(exc, HTTPException)
    if isinstance(exc.__cause__, SscardError):
        return error_response(exc.__cause__)
    code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    body = {"code": code, "message": str(exc.detail)}
    return OrjsonResponse(body, status_code=exc.status_code, headers=exc.headers)


EXCEPTION_HANDLERS = {
    HTTPException: http_error_handler,
    SscardError: sscard_error_handler,
    RequestValidationError: validation_error_handler,
    asyncpg.DataError: data_error_handler,
    **dict.fromkeys(CONNECTION_ERRORS, unavailable_handler),
}
