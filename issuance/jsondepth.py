"""How deep a JSON text nests, found without parsing it (so without recursion).

Python's ``json`` module recurses once per level: a text nested a few thousand
levels deep raises ``RecursionError``. Every door that takes JSON (request
bodies, JSON batch files) measures the depth first with :func:`depth_exceeds`
and refuses anything deeper than :data:`MAX_JSON_DEPTH`. Strings are skipped
whole by one regular expression, so brackets inside them do not count and a
long string (a photo in base64) costs one match.
"""

from __future__ import annotations

import re
from typing import AnyStr

MAX_JSON_DEPTH = 32
_TOKENS = {
    str: re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]'),
    bytes: re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]'),
}
_LEADING = {str: re.compile(r"\s*[\[{]"), bytes: re.compile(rb"\s*[\[{]")}
_OPENERS = ("[", "{", b"[", b"{")


def depth_exceeds(text: AnyStr, limit: int = MAX_JSON_DEPTH, start: int = 0) -> bool:
    """True if the JSON value starting at ``start`` in ``text`` nests deeper than ``limit``.

    The scan stops where that value's outermost array or object closes (or at the end
    of ``text``, for a value cut short); text that is not JSON is scanned all the same.
    """
    pattern: re.Pattern[AnyStr] = _TOKENS[type(text)]
    first = _LEADING[type(text)].match(text, start)
    if first is None:  # a scalar (or nothing): no nesting
        return False
    depth = 0
    for match in pattern.finditer(text, first.end() - 1):
        token = match.group()
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
