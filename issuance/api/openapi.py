"""The OpenAPI document, completed with what the lean request context reads by hand:
the bearer scheme on every operation but ``/health``, and the ``Idempotency-Key``
header on every write that honours it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

WRITES = {"post", "put", "patch", "delete"}
PUBLIC = {"/health"}
# Writes that take no Idempotency-Key: repeating them is harmless (a heartbeat, a
# printer's state or its clearing, a lookup) or must not replay an old answer (a claim).
KEYLESS_WRITES = frozenset(
    {
        ("post", "/v1/agent/claim"),
        ("post", "/v1/agent/jobs/{job_id}/heartbeat"),
        ("put", "/v1/agent/printers/{name}"),
        ("post", "/v1/outlets/{code}/printers/{name}/clear"),
        ("post", "/v1/holders/lookup"),
    }
)
IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "a retry with the same key and body returns the first response",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[\\x21-\\x7e]+$"},
}


def document(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        doc.setdefault("components", {})["securitySchemes"] = {
            "HTTPBearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "the operator's token",
            }
        }
        for path, operations in doc.get("paths", {}).items():
            for method, operation in operations.items():
                _complete(path, method, operation)
        app.openapi_schema = doc
    return app.openapi_schema


def _complete(path: str, method: str, operation: dict[str, Any]) -> None:
    if path in PUBLIC:
        return
    operation["security"] = [{"HTTPBearer": []}]
    operation.setdefault("responses", {}).setdefault("401", {"description": "no or unknown token"})
    if method in WRITES and (method, path) not in KEYLESS_WRITES:
        operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_PARAMETER))
