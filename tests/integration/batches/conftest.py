"""Batch API fixtures: the seeded two-bank world of the API tests, and batch files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from issuance.api.app import create_app
from issuance.config import Settings
from issuance.runtime import Runtime
from tests.integration.api.world import World, seed


@pytest.fixture
async def rt(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Runtime]:
    settings = Settings(
        database_url=db_dsn, data_dir=tmp_path_factory.mktemp("data"), host="127.0.0.1", port=0
    )
    async with Runtime(settings, pool_size=8) as runtime:
        yield runtime


@pytest.fixture
async def world(rt: Runtime) -> AsyncIterator[World]:
    store = rt.store
    tokens = await seed(store)
    transport = httpx.ASGITransport(app=create_app(rt))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sscard.test", timeout=60
    ) as client:
        yield World(client, store, rt.queue, tokens)


@pytest.fixture
async def served(world: World, rt: Runtime) -> AsyncIterator[str]:
    """The same app on a loopback port (for the CLI, which speaks HTTP); its base URL."""
    config = uvicorn.Config(create_app(rt), host="127.0.0.1", port=0, loop="none",
                            log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    for _ in range(400):
        if server.started:
            break
        await asyncio.sleep(0.025)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
