"""An API process warms up before it takes traffic."""

from __future__ import annotations

import gc
import subprocess
import sys

from intake.fonts import font_coverage
from issuance.api import warmup
from issuance.api.app import create_app
from issuance.runtime import Runtime


async def test_the_lifespan_opens_every_pooled_connection_before_serving(rt: Runtime) -> None:
    app = create_app(rt)
    assert rt.pool.get_size() < rt.pool.get_max_size()  # the pool opens connections lazily
    async with app.router.lifespan_context(app):
        assert rt.pool.get_size() == rt.pool.get_max_size()


async def test_every_route_is_called_once_and_none_fails(rt: Runtime) -> None:
    app = create_app(rt)
    statuses = await warmup.warm_routes(app)
    # the OpenAPI document is not built to find the routes: a worker would keep it for life
    assert app.openapi_schema is None
    operations = sum(len(ops) for ops in app.openapi()["paths"].values())
    assert len(statuses) == operations > 30
    assert statuses["POST /v1/applications"] == 401  # refused before anything is read
    assert all(status < 500 for status in statuses.values()), statuses


async def test_the_routes_called_are_the_operations_of_the_openapi_document(rt: Runtime) -> None:
    app = create_app(rt)
    called = warmup.operations(app)
    listed = [(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops]
    assert sorted(called) == sorted(listed)
    assert ("GET", "/v1/cards/{number}") in called


async def test_the_intake_warm_up_loads_the_card_font(rt: Runtime) -> None:
    font_coverage.cache_clear()
    warmup.warm_intake()
    assert font_coverage.cache_info().currsize == 1


async def test_each_connection_prepares_the_store_and_queue_statements(rt: Runtime) -> None:
    connections, statements = await warmup.warm_pool(rt.pool)
    assert connections == rt.pool.get_max_size()
    assert statements > 60  # every named query of the store and the queue


async def test_the_heap_is_frozen_once_warm(rt: Runtime) -> None:
    gc.unfreeze()
    try:
        app = create_app(rt)
        async with app.router.lifespan_context(app):
            # start-up's objects are out of the full collections' walk (100-150 ms each)
            assert gc.get_freeze_count() > 100_000
    finally:
        gc.unfreeze()


def test_a_worker_carries_no_http_client_library() -> None:
    # warm-up calls the routes in process without one: httpx (and click, which it pulls in)
    # would stay resident in every worker for the rest of its life
    code = "import sys, issuance.api.app; print(sorted({'httpx', 'click'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
