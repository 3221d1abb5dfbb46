"""What an API process does once, before it takes traffic, so its first requests are not slow.

Run in the app's lifespan, before uvicorn accepts a connection (and so before
``/health`` answers): the card font's character map and metrics and the photo
codecs are loaded by checking a sample name and photo as an application is
checked; every route is called once in process without a token, which makes
the framework build its request handlers (answered 401 by the route itself:
these calls are marked so that the doors let them past, see
:data:`issuance.api.doors.WARM_UP_SCOPE_KEY`); every pooled connection is
opened, and on each the statements of the store and the queue are prepared
once, so that each database backend has read the catalog entries of the
tables they touch.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from PIL import Image

from intake.screening import printed_name
from issuance.api.doors import WARM_UP_SCOPE_KEY
from issuance.services.ordering import validated_photo
from sscard_core.connect import database_errors
from sscard_core.queries import load_queries

log = logging.getLogger("sscard.api")
SAMPLE_NAME = "欧阳·阿依古丽"  # a minority name: the separator and a long line
PHOTO_SIZE = (358, 441)  # an ID photo's pixels
PATH_PARAMETER = re.compile(r"\{[^}]+\}")
STATEMENT_FILES = (
    ("issuance.store", "queries.sql"),
    ("issuance.store", "oversight.sql"),
    ("issuance.store", "pages.sql"),
    ("cardqueue", "queries.sql"),
)


@dataclass(frozen=True)
class Warmed:
    routes: int
    connections: int
    statements: int
    seconds: float


def sample_photo() -> bytes:
    """A plain ID-photo-sized baseline JPEG, as a counter's camera sends."""
    buffer = io.BytesIO()
    Image.new("RGB", PHOTO_SIZE, (200, 205, 215)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def warm_intake() -> None:
    """Load what checking an application needs: the card font and the photo codecs."""
    printed_name(SAMPLE_NAME)
    validated_photo(sample_photo())


async def warm_routes(app: FastAPI) -> dict[str, int]:
    """Call every operation of the OpenAPI document once, without a token; each call's status."""
    statuses: dict[str, int] = {}

    async def marked(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        await app({**scope, WARM_UP_SCOPE_KEY: True}, receive, send)

    transport = httpx.ASGITransport(app=marked)
    async with httpx.AsyncClient(transport=transport, base_url="http://warm-up") as client:
        for path, operations in app.openapi()["paths"].items():
            for method in operations:
                response = await client.request(method.upper(), PATH_PARAMETER.sub("0", path))
                statuses[f"{method.upper()} {path}"] = response.status_code
    failed = {call: status for call, status in statuses.items() if status >= 500}
    if failed:
        log.warning("warm-up calls that failed: %s", failed)
    return statuses


async def warm_pool(pool: asyncpg.Pool) -> tuple[int, int]:
    """Open every connection of ``pool`` and prepare the statements on each; the counts."""
    statements = [
        sql for package, name in STATEMENT_FILES for sql in load_queries(package, name).values()
    ]
    with database_errors():
        held = [await pool.acquire() for _ in range(pool.get_max_size())]
        try:
            await asyncio.gather(*(_prepare(conn, statements) for conn in held))
        finally:
            for conn in held:
                await pool.release(conn)
    return len(held), len(statements)


async def _prepare(conn: asyncpg.pool.PoolConnectionProxy, statements: list[str]) -> None:
    for sql in statements:
        await conn.prepare(sql)


async def warm_up(app: FastAPI, pool: asyncpg.Pool) -> Warmed:
    """Everything above, in turn; what was done and how long it took."""
    started = time.monotonic()
    await asyncio.to_thread(warm_intake)
    routes = len(await warm_routes(app))
    connections, statements = await warm_pool(pool)
    warmed = Warmed(routes, connections, statements, round(time.monotonic() - started, 2))
    log.info(
        "warmed up in %.2f s: %d routes, %d connections, %d statements each",
        warmed.seconds, warmed.routes, warmed.connections, warmed.statements,
    )  # fmt: skip
    return warmed
