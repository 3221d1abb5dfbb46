"""A short-lived, in-process cache of the operators behind bearer tokens.

Every request is authenticated; looking the token up in the database for each
one costs a pool round trip. Entries live ``ttl`` seconds (default 30), keyed
by the token's SHA-256 (the token itself is not kept), so a revoked or changed
operator is refused at most ``ttl`` seconds later. The cache holds at most
``size`` operators and forgets the oldest first.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from issuance.store import Operator
from issuance.store.store import token_digest


class OperatorCache:
    def __init__(self, ttl: float = 30.0, size: int = 10_000) -> None:
        self._ttl = ttl
        self._size = size
        self._entries: OrderedDict[bytes, tuple[float, Operator]] = OrderedDict()

    def get(self, token: str) -> Operator | None:
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
        key = token_digest(token)
        self._entries[key] = (time.monotonic() + self._ttl, operator)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
