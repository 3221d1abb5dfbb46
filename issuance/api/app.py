"""The ASGI application."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from issuance.api.responses import OrjsonResponse, sscard_error_handler
from issuance.errors import SscardError
from issuance.runtime import Runtime


def create_app(rt: Runtime) -> Starlette:
    async def health(_request: Request) -> Response:
        await rt.pool.fetchval("SELECT 1")
        return OrjsonResponse({"status": "ok"})

    async def queue_stats(_request: Request) -> Response:
        stats = await rt.queue.stats()
        return OrjsonResponse(
            {
                "depth": [
                    {"site": d.site, "class": d.priority.name.lower(), "depth": d.depth}
                    for d in stats.depth
                ],
                "oldest_age_seconds": stats.oldest_age_seconds,
                "in_doubt": stats.in_doubt,
                "dead": stats.dead,
                "by_state": {s.value: n for s, n in stats.by_state.items()},
            }
        )

    routes = [
        Route("/health", health),
        Route("/v1/queue/stats", queue_stats),
    ]
    return Starlette(routes=routes, exception_handlers={SscardError: sscard_error_handler})
