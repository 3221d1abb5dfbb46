"""What an API process does once, before it takes traffic, so its first requests are not slow.

Run in the app's lifespan, before uvicorn accepts a connection (and so before
``/health`` answers): the card font's character map and metrics and the photo
codecs are loaded by checking a sample name and photo as an application is
checked; every route is called once in process without a token, which makes
the framework build its request handlers (the routes are read off the router,
not off the OpenAPI document, which a process that built it would keep;
answered 401 by the route itself:
these calls are marked so that the doors let them past, see
:data:`issuance.api.doors.WARM_UP_SCOPE_KEY`); every pooled connection is
opened, and on each the statements of the store and the queue are prepared
once, so that each database backend has read the catalog entries of the
tables they touch. Last, the heap is settled: what start-up made (modules, the
framework's handlers, schemas, fonts) is collected once and then frozen out of
the cyclic garbage collector's reach, so that its full collections no longer
walk a few hundred megabytes of objects that live as long as the process (each
of those stopped a worker for 100-150 ms under load), and the C heap's free
pages go back to the system (:mod:`issuance.heap`).
"""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import re
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import FastAPI
from fastapi.routing import APIRoute
from PIL import Image

from intake.screening import printed_name
from issuance.api.doors import WARM_UP_SCOPE_KEY, flat_routes
from issuance.heap import release_free_heap
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


async def call_once(app: FastAPI, method: str, path: str) -> int:
    """One bodiless request through ``app`` in process (no client library: a worker that
    imported one for this alone would carry it, megabytes of it, for its whole life); its
    status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [(b"host", b"warm-up")], "client": ("127.0.0.1", 0),
        "server": ("warm-up", 80), "state": {}, WARM_UP_SCOPE_KEY: True,
    }  # fmt: skip
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    await app(scope, receive, send)
    return status


def operations(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every operation the OpenAPI document lists, found without building
    the document (which would stay in the process, megabytes of it, for its whole life)."""
    found: list[tuple[str, str]] = []
    for entry in flat_routes(app):
        route = entry.route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        path = str(getattr(entry.holder, "path_format", route.path_format))  # with its prefix
        found += [(method, path) for method in sorted(entry.methods or ())]
    return found


async def warm_routes(app: FastAPI) -> dict[str, int]:
    """Call every operation of the API once, without a token; each call's status."""
    statuses: dict[str, int] = {}
    for method, path in operations(app):
        status = await call_once(app, method, PATH_PARAMETER.sub("0", path))
        statuses[f"{method} {path}"] = status
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


def settle_heap() -> int:
    """Collect once, then move every object alive into the collector's permanent generation
    (:func:`gc.freeze`), and give the C heap's free pages back; how many objects were frozen."""
    gc.collect()
    gc.freeze()
    release_free_heap()
    return gc.get_freeze_count()


async def warm_up(app: FastAPI, pool: asyncpg.Pool) -> Warmed:
    """Everything above, in turn; what was done and how long it took."""
    started = time.monotonic()
    await asyncio.to_thread(warm_intake)
    routes = len(await warm_routes(app))
    connections, statements = await warm_pool(pool)
    settle_heap()
    warmed = Warmed(routes, connections, statements, round(time.monotonic() - started, 2))
    log.info(
        "warmed up in %.2f s: %d routes, %d connections, %d statements each",
        warmed.seconds, warmed.routes, warmed.connections, warmed.statements,
    )  # fmt: skip
    return warmed
