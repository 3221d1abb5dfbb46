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
from issuance.api.operators import OperatorCache
from issuance.errors import AuthError
from issuance.runtime import Runtime
from issuance.store import Operator, Store

bearer = HTTPBearer(auto_error=False, description="the operator's bearer token")


# Dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a
# thread pool, a thread hand-off per dependency per request.


async def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


async def store_of(request: Request) -> Store:
    return Store((await runtime(request)).pool)


async def queue_of(request: Request) -> Queue:
    return (await runtime(request)).queue


async def current_operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Operator:
    if credentials is None or not credentials.credentials:
        raise AuthError("a bearer token is required")
    cache: OperatorCache = request.app.state.operators
    token = credentials.credentials
    operator = cache.get(token)
    if operator is None:
        operator = await (await store_of(request)).operator_by_token(token)
        if operator is None:
            raise AuthError("unknown bearer token")
        cache.put(token, operator)
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
    return Ctx(request, op, await store_of(request), await queue_of(request), key)


CtxDep = Annotated[Ctx, Depends(context)]
