"""The ASGI application: FastAPI, JSON through orjson, OpenAPI generated from the routes.

``create_app(rt)`` serves the counter services (:mod:`issuance.api.counter`)
and the outlet agent's endpoints (:mod:`issuance.api.agent`) over the
runtime's pool and queue. Its lifespan runs the reaper: every second
``Queue.reap_expired()`` releases jobs whose worker's lease ran out (back to
the queue, or in doubt after a physical step).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse, Response

from cardqueue import Queue
from issuance.api import agent, counter
from issuance.api import batches as batch_routes
from issuance.api.deps import CtxDep
from issuance.api.idempotency import render
from issuance.api.openapi import document
from issuance.api.operators import OperatorCache
from issuance.api.responses import EXCEPTION_HANDLERS
from issuance.config import Settings
from issuance.domain.roles import Operation
from issuance.errors import SscardError
from issuance.runtime import Runtime
from issuance.services.common import check

REAP_EVERY_SECONDS = 1.0
# Long-polling agents may hold requests open for up to 30 s: on shutdown they are
# given this long to finish, then cut off (they retry against the next server).
GRACEFUL_SHUTDOWN_SECONDS = 3
log = logging.getLogger("sscard.api")


async def reap_forever(queue: Queue, every: float = REAP_EVERY_SECONDS) -> None:
    """Release expired leases every ``every`` seconds until cancelled."""
    while True:
        try:
            await queue.reap_expired()
        except SscardError as exc:
            log.warning("reaper: %s", exc.message)
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
            task = asyncio.create_task(reap_forever(rt.queue), name="sscard-reaper")
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
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    )
    app.state.rt = rt
    app.state.operators = OperatorCache()
    app.openapi = lambda: document(app)  # type: ignore[method-assign]

    @app.get("/health", tags=["system"])
    async def health() -> Response:
        await rt.pool.fetchval("SELECT 1")
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
    app.include_router(agent.router)
    app.include_router(batch_routes.router)
    return app
