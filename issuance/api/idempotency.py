"""``Idempotency-Key``: a retried write returns its first response and changes nothing.

The key is taken (a row in ``idempotency``) in the same transaction as the
service's changes and its response, so either all three commit or none does.
A concurrent request with the same key waits on the first one's row and then
answers from it. The request is identified by the SHA-256 of its method, path
and body's meaning: a JSON body is digested as its canonical form (keys sorted,
no spacing, :func:`canonical_body`), so the same request re-serialised with
another key order or spacing is the same request; the same key with a request
that means something else is a 409 ``idempotency_key_reused``. (A batch file
streamed to disk is digested as sent: see :mod:`issuance.api.uploads`.)
A failed request (an error response) stores nothing, so it may be retried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from issuance.api.deps import Ctx
from issuance.store import Store
from sscard_core.errors import IdempotencyConflict

Outcome = tuple[int, Any]  # HTTP status and JSON content (None: no body)
Handler = Callable[[Store], Awaitable[Outcome]]
JSON = "application/json"
JSON_TAG = b"\0json\0"  # a canonical JSON body never digests like the same bytes sent raw


def digest_of(request: Request) -> hashlib._Hash:
    """The request's digest before its body: update it with the body's bytes."""
    h = hashlib.sha256()
    h.update(request.method.encode())
    h.update(b"\0" + request.url.path.encode() + b"\0")
    return h


def canonical_body(body: bytes) -> bytes:
    """What a body means, as bytes: a JSON body re-serialised with sorted keys and no spacing
    (so a client that re-encodes the same request is recognised); any other body as sent."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    return JSON_TAG + orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


async def request_digest(request: Request) -> bytes:
    h = digest_of(request)
    h.update(canonical_body(await request.body()))
    return h.digest()


def render(status: int, content: Any) -> Response:
    if content is None:
        return Response(status_code=status)
    return Response(orjson.dumps(content), status_code=status, media_type=JSON)


def _replay(status: int | None, body: bytes | None) -> Response:
    if status is None:  # the first request is still running under this key
        raise IdempotencyConflict("the first request with this key has not finished")
    if not body:
        return Response(status_code=status)
    return Response(body, status_code=status, media_type=JSON)


async def idempotent(ctx: Ctx, handler: Handler, *, digest: bytes | None = None) -> Response:
    """Run ``handler`` in one transaction, remembering its response under ``ctx.key``.

    ``digest`` is the request's, when the caller has streamed the body itself
    (:func:`digest_of`); otherwise the body is read here. With a key, the
    transaction begins by taking it and ends by storing the answer, each in the
    same round trip as its BEGIN or COMMIT (:meth:`Store.keyed_transaction`).
    """
    store, op, key = ctx.store, ctx.op, ctx.key
    digest = digest if digest is not None else await request_digest(ctx.request)
    if key is None:
        async with store.transaction() as tx:
            status, content = await handler(tx)
        return render(status, content)
    async with store.keyed_transaction(op.id, key, digest) as (tx, claimed):
        if not claimed:
            stored = await tx.idempotency_get(op.id, key)
            if stored is None or stored.request_sha256 != digest:
                raise IdempotencyConflict(
                    "this Idempotency-Key was used with another request", key=key
                )
            return _replay(stored.status, stored.body)
        status, content = await handler(tx)
        body = b"" if content is None else orjson.dumps(content)
        await tx.finish_and_commit(op.id, key, status, body)
    return render(status, content)
