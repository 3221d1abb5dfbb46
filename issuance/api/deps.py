"""Request dependencies: the runtime, the store, and the calling operator.

``Authorization: Bearer <token>`` is looked up by the token's SHA-256; a
missing, malformed or unknown token is a 401 (:class:`issuance.errors.AuthError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cardqueue import Queue
from issuance.errors import AuthError
from issuance.runtime import Runtime
from issuance.store import Operator, Store

bearer = HTTPBearer(auto_error=False, description="the operator's bearer token")


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


def store_of(request: Request) -> Store:
    return Store(runtime(request).pool)


def queue_of(request: Request) -> Queue:
    return runtime(request).queue


async def current_operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Operator:
    if credentials is None or not credentials.credentials:
        raise AuthError("a bearer token is required")
    operator = await store_of(request).operator_by_token(credentials.credentials)
    if operator is None:
        raise AuthError("unknown bearer token")
    return operator


OperatorDep = Annotated[Operator, Depends(current_operator)]
StoreDep = Annotated[Store, Depends(store_of)]
QueueDep = Annotated[Queue, Depends(queue_of)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="a retry with the same key and body returns the first response",
    ),
]


@dataclass(frozen=True)
class Ctx:
    """Everything a handler needs besides its body: who calls, the store, the queue, the key."""

    request: Request
    op: Operator
    store: Store
    queue: Queue
    key: str | None


async def context(request: Request, op: OperatorDep, key: IdempotencyKey = None) -> Ctx:
    return Ctx(request, op, store_of(request), queue_of(request), key)


CtxDep = Annotated[Ctx, Depends(context)]
