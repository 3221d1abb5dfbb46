"""How job payloads are stored: the queue sees a payload as JSON text and nothing more.

The application injects a codec that seals payloads (they carry card data);
the queue's own default writes them as plain JSON.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson


class PayloadCodec(Protocol):
    """Turns a job payload into the JSON text stored in ``payload`` and back."""

    def dumps(self, payload: dict[str, Any]) -> str: ...

    def loads(self, text: str | bytes) -> dict[str, Any]: ...


class PlainCodec:
    """Payloads stored as they are."""

    def dumps(self, payload: dict[str, Any]) -> str:
        return orjson.dumps(payload).decode()

    def loads(self, text: str | bytes) -> dict[str, Any]:
        value: dict[str, Any] = orjson.loads(text)
        return value
