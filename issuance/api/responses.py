"""JSON responses through orjson, and errors as machine-readable bodies."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from issuance.errors import SscardError


class OrjsonResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def error_response(exc: SscardError) -> Response:
    return OrjsonResponse(exc.to_dict(), status_code=exc.http_status)


async def sscard_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SscardError)
    return error_response(exc)
