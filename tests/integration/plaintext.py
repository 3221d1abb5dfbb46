"""Searching every text, bytea and JSON column of every table for plain values."""

from __future__ import annotations

import asyncpg

COLUMNS = """
SELECT c.table_name, c.column_name, c.data_type
FROM information_schema.columns c
JOIN information_schema.tables t USING (table_schema, table_name)
WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
  AND c.data_type IN ('text', 'bytea', 'jsonb', 'character varying', 'json')
ORDER BY 1, 2
"""


async def occurrences(conn: asyncpg.Connection, needles: list[str]) -> list[str]:
    """Where each of ``needles`` occurs in clear: "table.column holds needle" lines."""
    found = []
    for table, column, kind in await conn.fetch(COLUMNS):
        for needle in needles:
            if kind == "bytea":
                sql = f'SELECT count(*) FROM "{table}" WHERE position($1::bytea IN "{column}") > 0'
                arg: object = needle.encode()
            else:
                sql = f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE $1'
                arg = f"%{needle}%"
            if await conn.fetchval(sql, arg):
                found.append(f"{table}.{column} holds {needle}")
    return found
