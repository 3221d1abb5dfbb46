"""A short-lived, in-process cache of the operators behind bearer tokens.

Every request is authenticated; looking the token up in the database for each
one costs a pool round trip. Entries live ``ttl`` seconds (default 30) and
never past their token's expiry, keyed by the token's SHA-256 (the token
itself is not kept); the cache holds at most ``size`` operators and forgets the
oldest first.

A revoked token must be refused at once, in every server process: the cache
is only used while :func:`watch_revocations` listens on the ``sscard_tokens``
channel, which every revocation notifies in its own transaction, and it is
emptied on each notification. If the listening connection is lost, the cache
is switched off (every request asks the database) until the server restarts.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg

from issuance.store import Operator
from issuance.store.store import token_digest
from sscard_core.connect import database_errors

CHANNEL = "sscard_tokens"
log = logging.getLogger("sscard.api")


class OperatorCache:
    def __init__(self, ttl: float = 30.0, size: int = 10_000) -> None:
        self._ttl = ttl
        self._size = size
        self._entries: OrderedDict[bytes, tuple[float, Operator]] = OrderedDict()
        self.enabled = False

    def get(self, token: str) -> Operator | None:
        if not self.enabled:
            return None
        key = token_digest(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, operator = entry
        if expires < time.monotonic():
            del self._entries[key]
            return None
        return operator

    def put(self, token: str, operator: Operator) -> None:
        if not self.enabled:
            return
        lifetime = self._ttl
        if operator.token_expires_at is not None:
            left = (operator.token_expires_at - datetime.now(UTC)).total_seconds()
            lifetime = min(lifetime, left)
        key = token_digest(token)
        self._entries[key] = (time.monotonic() + lifetime, operator)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def disable(self) -> None:
        self.enabled = False
        self._entries.clear()


@asynccontextmanager
async def watch_revocations(dsn: str, cache: OperatorCache) -> AsyncIterator[None]:
    """While inside: the cache is on, and emptied whenever a token is revoked anywhere.

    ``dsn`` reaches PostgreSQL itself (``SSCARD_DIRECT_URL`` past a transaction
    pooler): LISTEN needs a session of its own.
    """

    def revoked(*_: Any) -> None:
        cache.clear()

    def lost(*_: Any) -> None:
        log.warning("token revocations: listener connection lost; operator cache off")
        cache.disable()

    with database_errors():
        conn = await asyncpg.connect(dsn)
    try:
        await conn.add_listener(CHANNEL, revoked)
        conn.add_termination_listener(lost)
        cache.enabled = True
        yield
    finally:
        cache.disable()
        conn.remove_termination_listener(lost)
        await conn.close()
