"""API test fixtures: a Runtime on the test database, the app, a client and a seeded world."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

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
    async with httpx.AsyncClient(transport=transport, base_url="http://sscard.test") as client:
        yield World(client, store, rt.queue, tokens)
