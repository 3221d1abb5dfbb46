"""Named SQL queries loaded from ``.sql`` files.

A file holds queries separated by ``-- name: <name>`` lines; the comment
lines right after a name describe the query. Files are read once and kept.

    -- name: claim
    -- Claim a batch of queued jobs.
    WITH picked AS (...)
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    """Split a queries file into ``{name: sql}``; a repeated name is an error."""
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        sql = "\n".join(line for line in body.strip().splitlines() if not line.startswith("--"))
        queries[name] = sql.strip()
    return queries


@cache
def load_queries(package: str, filename: str = "queries.sql") -> dict[str, str]:
    """The named queries of ``package/filename``, read once."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    return parse_queries(text)
