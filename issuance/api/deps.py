"""Request dependencies: the runtime, the store, and the calling operator.

``Authorization: Bearer <token>`` is looked up by the token's SHA-256; a
missing, malformed or unknown token is a 401 (:class:`sscard_core.errors.AuthError`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from cardqueue import Queue
from issuance.api.operators import OperatorCache
from issuance.runtime import Runtime
from issuance.store import Operator, Store
from sscard_core.errors import AuthError, FieldError

# Dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a
# thread pool, a thread hand-off per dependency per request.


async def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


async def store_of(request: Request) -> Store:
    return (await runtime(request)).store


async def queue_of(request: Request) -> Queue:
    return (await runtime(request)).queue


OPERATOR_SCOPE_KEY = "sscard.operator"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,200}$")
IDEMPOTENCY_HEADER = "Idempotency-Key"


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>`` (AuthError when absent or malformed)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("a bearer token is required")
    return token.strip()


async def current_operator(request: Request) -> Operator:
    """The caller: found by :class:`issuance.api.doors.Doors` before the body was read,
    or looked up here."""
    found: Operator | None = request.scope.get(OPERATOR_SCOPE_KEY)
    if found is not None:
        return found
    cache: OperatorCache = request.app.state.operators
    token = bearer_token(request)
    operator = cache.get(token)
    if operator is None:
        operator = await (await store_of(request)).operator_by_token(token)
        if operator is None:
            raise AuthError("unknown bearer token")
        cache.put(token, operator)
    return operator


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not KEY_PATTERN.match(key):
        raise FieldError(
            IDEMPOTENCY_HEADER, "must be 1 to 200 printable ASCII characters", code="invalid_header"
        )
    return key


OperatorDep = Annotated[Operator, Depends(current_operator)]
StoreDep = Annotated[Store, Depends(store_of)]
QueueDep = Annotated[Queue, Depends(queue_of)]


@dataclass(frozen=True)
class Ctx:
    """Everything a handler needs besides its body: who calls, the store, the queue, the key."""

    request: Request
    op: Operator
    store: Store
    queue: Queue
    key: str | None


async def context(request: Request) -> Ctx:
    """The caller, the store, the queue and the idempotency key, in one dependency.

    Headers are read here rather than declared as FastAPI parameters: every
    declared dependency costs its own resolution on each request. The OpenAPI
    document still shows the bearer scheme and the ``Idempotency-Key`` header
    (added by :func:`issuance.api.openapi.document`).
    """
    op = await current_operator(request)
    key = idempotency_key(request)
    rt = await runtime(request)
    return Ctx(request, op, rt.store, rt.queue, key)


CtxDep = Annotated[Ctx, Depends(context)]
