"""The ASGI application: FastAPI, JSON through orjson, OpenAPI generated from the routes.

``create_app(rt)`` serves the counter services (:mod:`issuance.api.counter`)
and the outlet agent's endpoints (:mod:`issuance.api.dispatch`) over the
runtime's pool and queue. Its lifespan runs the maintenance loop: every second
``Queue.reap_expired()`` releases jobs whose worker's lease ran out (back to
the queue, or in doubt after a physical step), and every minute temporary loss
reports older than ``TEMPORARY_LOSS_DAYS`` lapse (the card is usable again) and
the photos of failed or abandoned batches are deleted
(:func:`issuance.services.batches.sweep_uploads`); every 20 s the data keys are
reloaded (a key made by ``sscard keys rotate``), and every hour the personal
data past its retention period is erased (:mod:`issuance.services.retention`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse, Response

from issuance import web
from issuance.api import batches as batch_routes
from issuance.api import (
    bureau,
    counter,
    dispatch,
    evaluation,
    psams,
    security,
    stock,
)
from issuance.api import (
    keys as key_routes,
)
from issuance.api.deps import CtxDep
from issuance.api.doors import Doors
from issuance.api.idempotency import render
from issuance.api.openapi import document
from issuance.api.operators import OperatorCache, watch_revocations
from issuance.api.responses import EXCEPTION_HANDLERS, OrjsonResponse
from issuance.api.warmup import warm_up
from issuance.config import Settings
from issuance.domain.roles import Operation
from issuance.heap import release_free_heap
from issuance.runtime import Runtime
from issuance.services import batches, cards, keys, retention
from issuance.services.common import check
from issuance.services.retention import RetentionRules
from issuance.vault.vault import REFRESH_SECONDS
from sscard_core.connect import database_errors
from sscard_core.errors import DatabaseError, SscardError, VaultError

REAP_EVERY_SECONDS = 1.0
CHAIN_AT_MOST = 20_000  # pending audit records chained per second and process (one statement)
LAPSE_EVERY_SECONDS = 60.0
RETENTION_EVERY_SECONDS = 3600.0
# Long-polling agents may hold requests open for up to 30 s: on shutdown they are
# given this long to finish, then cut off (they retry against the next server).
GRACEFUL_SHUTDOWN_SECONDS = 3
log = logging.getLogger("sscard.api")


async def maintain_forever(rt: Runtime, every: float = REAP_EVERY_SECONDS) -> None:
    """Until cancelled: release expired leases and chain the pending audit records every
    ``every`` seconds; lapse temporary losses past their time, delete the photos of failed
    or abandoned batches and give the C heap's free pages back every ``LAPSE_EVERY_SECONDS``."""
    next_lapse = next_keys = next_retention = 0.0
    rules = RetentionRules.from_env(attempt_window=rt.settings.credentials.failure_window)
    while True:
        try:
            await rt.queue.reap_expired()
            await rt.store.chain_pending_audit(CHAIN_AT_MOST)
            if (now := time.monotonic()) >= next_keys:
                next_keys = now + REFRESH_SECONDS
                await rt.vault.refresh(rt.pool)
            if now >= next_lapse:
                next_lapse = now + LAPSE_EVERY_SECONDS
                await cards.lapse_temporary_losses(rt.store, datetime.now(UTC))
                await batches.sweep_uploads(rt.store)
                release_free_heap()
            if now >= next_retention:
                next_retention = now + RETENTION_EVERY_SECONDS
                erased = await retention.sweep(rt.store, rules)
                if any(erased.values()):
                    log.info("retention: erased %s", {k.value: n for k, n in erased.items()})
        except SscardError as exc:
            log.warning("maintenance: %s", exc.message)
        await asyncio.sleep(every)


def worker_app() -> FastAPI:
    """The app of one ``sscard serve --workers N`` process: it opens its own runtime
    on ``SSCARD_DATABASE_URL`` (set by the parent, which owns the database)."""
    return create_app(Runtime(Settings.from_env(), pool_size=10), own_runtime=True)


def create_app(rt: Runtime, *, own_runtime: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if own_runtime:
                await stack.enter_async_context(rt)
            if plain := await keys.plain_holders(rt.store):
                raise VaultError(
                    f"{plain} holder(s) written before personal data was sealed: "
                    "run `sscard keys encrypt-existing` first", code="plain_holders",
                )  # fmt: skip
            await warm_up(_app, rt.pool)  # before uvicorn takes a connection
            task = asyncio.create_task(maintain_forever(rt), name="sscard-maintenance")
            direct = rt.settings.direct_url or rt.server.dsn
            await stack.enter_async_context(watch_revocations(direct, _app.state.operators))
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="sscard",
        version="1",
        description="Social security card issuance: counter services and outlet agents.",
        default_response_class=ORJSONResponse,
        lifespan=lifespan,
        docs_url=None,  # served from vendored assets by issuance.web.docs
        redoc_url=None,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    )
    app.state.rt = rt
    app.state.operators = OperatorCache()
    app.openapi = lambda: document(app)  # type: ignore[method-assign]

    @app.get("/health", tags=["system"])
    async def health() -> Response:
        """200 ``ok``; 503 ``database_unavailable`` with Retry-After while the database is down."""
        try:
            with database_errors():
                await rt.pool.fetchval("SELECT 1")
        except DatabaseError as exc:
            body = {**exc.to_dict(), "status": "database_unavailable"}
            return OrjsonResponse(body, status_code=503, headers={"Retry-After": "2"})
        return render(200, {"status": "ok"})

    @app.get("/v1/queue/stats", tags=["system"])
    async def queue_stats(ctx: CtxDep) -> Response:
        check(ctx.op, Operation.LIST_JOBS, None)
        stats = await rt.queue.stats()
        return render(200, {
            "depth": [{"site": d.site, "class": d.priority.name.lower(), "depth": d.depth}
                      for d in stats.depth],
            "oldest_age_seconds": stats.oldest_age_seconds,
            "in_doubt": stats.in_doubt,
            "dead": stats.dead,
            "by_state": {s.value: n for s, n in stats.by_state.items()},
        })  # fmt: skip

    app.include_router(counter.router)
    app.include_router(dispatch.router)
    app.include_router(batch_routes.router)
    app.include_router(bureau.router)
    app.include_router(evaluation.router)
    web.install(app)
    app.include_router(security.router)
    app.include_router(psams.router)
    app.include_router(key_routes.router)
    app.include_router(stock.router)
    app.add_middleware(Doors, api=app)
    return app
