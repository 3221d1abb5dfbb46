"""The OpenAPI document, completed with what the lean request context and the doors add:
the bearer scheme on every operation but ``/health``, the ``Idempotency-Key`` header on
every write that honours it, each operation's body limit (``x-body-limit``,
:mod:`issuance.api.doors`), and every error status the API answers, each with the one
error shape (``Error``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from issuance.api.doors import LIMIT_KEY, flat_routes

WRITES = {"post", "put", "patch", "delete"}
PUBLIC = {"/health"}
PUBLIC_PREFIX = "/public/"  # the public lists: no login
NO_TOKEN = {"/v1/sessions"}  # sign-in: every error status, but no bearer token
# Writes that take no Idempotency-Key: repeating them is harmless (a heartbeat, a
# printer's state or its clearing, a lookup) or must not replay an old answer (a claim).
KEYLESS_WRITES = frozenset(
    {
        ("post", "/v1/agent/claim"),
        ("post", "/v1/agent/jobs/{job_id}/heartbeat"),
        ("put", "/v1/agent/printers/{name}"),
        ("post", "/v1/outlets/{code}/printers/{name}/clear"),
        ("post", "/v1/holders/lookup"),
        # credentials: an answer holding a token or a secret is never kept for a replay
        ("delete", "/v1/sessions/current"),
        ("post", "/v1/operators/me/token/rotate"),
        ("post", "/v1/operators/{name}/tokens/revoke"),
        ("post", "/v1/operators/me/password"),
        ("post", "/v1/operators/me/totp"),
        ("post", "/v1/operators/me/totp/confirm"),
        # registers and stock: a repeat is refused with 409 (exists, already decided, moved)
        ("post", "/v1/terminals"),
        ("post", "/v1/terminals/{serial}/state"),
        ("post", "/v1/psams"),
        ("post", "/v1/psams/{serial}/{action}"),
        ("post", "/v1/stock/requests"),
        ("post", "/v1/stock/requests/{request_id}/confirm"),
        ("post", "/v1/stock/requests/{request_id}/cancel"),
        ("post", "/v1/outlets/{code}/stock/reconciliations"),
    }
)
IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "a retry with the same key and the same request (as JSON, whatever its key "
    "order or spacing) returns the first response",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[\\x21-\\x7e]+$"},
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "every error: a stable machine-readable code, a message, structured fields",
    "required": ["code", "message"],
    "additionalProperties": True,
    "properties": {
        "code": {"type": "string", "examples": ["payload_too_large"]},
        "message": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "one entry per field (and line of a batch file) at fault",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "line": {"type": "integer"},
                },
            },
        },
    },
}
ERROR_STATUSES: dict[str, str] = {
    "400": "the body cannot be parsed (malformed_body) or nests too deep (json_too_deep)",
    "401": "no or unknown bearer token (checked before the body is read)",
    "403": "the operator's role may not do this",
    "404": "no such record, or one of another bank (the two look alike)",
    "409": "the request clashes with the record's state, or an Idempotency-Key was reused",
    "413": "the body is larger than this operation's x-body-limit (refused before it is read)",
    "422": "a field is invalid (errors lists each one)",
    "503": "the database is unavailable",
}
PUBLIC_STATUSES = ("413", "503")


def document(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = doc.setdefault("components", {})
        components["securitySchemes"] = {
            "HTTPBearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "the operator's token",
            }
        }
        components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        limits = _limits(app)
        for path, operations in doc.get("paths", {}).items():
            for method, operation in operations.items():
                operation[LIMIT_KEY] = limits.get((path, method), operation.get(LIMIT_KEY))
                _complete(path, method, operation)
        app.openapi_schema = doc
    return app.openapi_schema


def _limits(app: FastAPI) -> dict[tuple[str, str], int]:
    return {
        (entry.route.path_format, method.lower()): entry.door.limit
        for entry in flat_routes(app)
        if isinstance(entry.route, APIRoute)
        for method in entry.route.methods or ()
    }


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def _complete(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    public = path in PUBLIC
    for status, description in ERROR_STATUSES.items():
        if not public or status in PUBLIC_STATUSES:
            responses[status] = _error(description)
    if public or path in NO_TOKEN or path.startswith(PUBLIC_PREFIX):
        return
    operation["security"] = [{"HTTPBearer": []}]
    if method in WRITES and (method, path) not in KEYLESS_WRITES:
        operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_PARAMETER))
