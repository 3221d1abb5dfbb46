"""How deep a JSON text nests, found without parsing it (so without recursion).

Python's ``json`` module recurses once per level: a text nested a few thousand
levels deep raises ``RecursionError``. Every door that takes JSON (request
bodies, JSON batch files) measures the depth first with :func:`depth_exceeds`
and refuses anything deeper than :data:`MAX_JSON_DEPTH`. Strings are skipped
whole by one regular expression, so brackets inside them do not count and a
long string (a photo in base64) costs one match; a text with no more opening brackets
than the limit (a photo's base64 has none) is not scanned at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

MAX_JSON_DEPTH = 32
_STR_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_BYTES_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_STR_LEADING = re.compile(r"\s*[\[{]")
_BYTES_LEADING = re.compile(rb"\s*[\[{]")
_OPENERS = ("[", "{", b"[", b"{")


def depth_exceeds(text: str | bytes, limit: int = MAX_JSON_DEPTH, start: int = 0) -> bool:
    """True if the JSON value starting at ``start`` in ``text`` nests deeper than ``limit``.

    The scan stops where that value's outermost array or object closes (or at the end
    of ``text``, for a value cut short); text that is not JSON is scanned all the same.
    """
    if _openers_from(text, start) <= limit:  # the common case, counted at C speed
        return False
    tokens: Iterator[str | bytes]
    if isinstance(text, str):
        head = _STR_LEADING.match(text, start)
        if head is None:  # a scalar (or nothing): no nesting
            return False
        tokens = (m.group() for m in _STR_TOKENS.finditer(text, head.end() - 1))
    else:
        head_bytes = _BYTES_LEADING.match(text, start)
        if head_bytes is None:
            return False
        tokens = (m.group() for m in _BYTES_TOKENS.finditer(text, head_bytes.end() - 1))
    return _too_deep(tokens, limit)


def _openers_from(text: str | bytes, start: int) -> int:
    if isinstance(text, str):
        return text.count("[", start) + text.count("{", start)
    return text.count(b"[", start) + text.count(b"{", start)


def _too_deep(tokens: Iterator[str | bytes], limit: int) -> bool:
    depth = 0
    for token in tokens:
        if len(token) != 1:
            continue
        if token in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
            if depth <= 0:
                return False
    return False
