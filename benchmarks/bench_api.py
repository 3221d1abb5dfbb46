"""Counter API hot paths through the ASGI app (no network): apply, status query, agent report.

    pytest benchmarks/bench_api.py --benchmark-enable

Each call is a full request: bearer-token lookup, validation (including the
photo decode and the font check for an application), one transaction with
its audit row, and for an application the card, its events and its job.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvloop

from issuance.api.app import create_app
from issuance.api.operators import watch_revocations
from issuance.config import Settings
from issuance.runtime import Runtime
from tests.integration.api.world import PHOTO_B64, World, seed


@dataclass
class Bench:
    loop: asyncio.AbstractEventLoop
    world: World

    def run(self, coro: object) -> object:
        return self.loop.run_until_complete(coro)  # type: ignore[arg-type]


@pytest.fixture
def bench(db_dsn: str, tmp_path: Path) -> Iterator[Bench]:
    loop = uvloop.new_event_loop()
    rt = Runtime(Settings(db_dsn, tmp_path, "127.0.0.1", 0), pool_size=4)
    loop.run_until_complete(rt.__aenter__())
    store = rt.store
    tokens = loop.run_until_complete(seed(store))
    app = create_app(rt)
    # as when served: the operator cache is on while revocations are listened for
    watching = watch_revocations(db_dsn, app.state.operators)
    loop.run_until_complete(watching.__aenter__())
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sscard.test"
    )
    yield Bench(loop, World(client, store, rt.queue, tokens, random.Random(5)))
    loop.run_until_complete(client.aclose())
    loop.run_until_complete(watching.__aexit__(None, None, None))
    loop.run_until_complete(rt.__aexit__(None, None, None))
    loop.close()


def test_apply(benchmark, bench) -> None:  # type: ignore[no-untyped-def]
    w = bench.world

    async def apply() -> int:
        body = {"holder": w.holder(), "photo": PHOTO_B64, "wait": True}
        r = await w.client.post("/v1/applications", json=body, headers=w.auth("clerk_a"))
        return int(r.status_code)

    assert benchmark(lambda: bench.run(apply())) == 201


def test_status_query(benchmark, bench) -> None:  # type: ignore[no-untyped-def]
    w = bench.world
    number = bench.run(w.new_card())["card_number"]

    async def query() -> int:
        r = await w.client.get(f"/v1/cards/{number}", headers=w.auth("clerk_a"))
        return int(r.status_code)

    assert benchmark(lambda: bench.run(query())) == 200


def test_claim_and_complete(benchmark, bench) -> None:  # type: ignore[no-untyped-def]
    w = bench.world

    async def setup() -> tuple[tuple[()], dict[str, object]]:
        await w.new_card(wait=True)
        return (), {}

    async def make() -> int:
        claim = {"worker": "b", "site": "A1", "capabilities": ["print_encode"], "wait_seconds": 0}
        (job,) = (await w.post("agent_a", "/v1/agent/claim", claim)).json()["jobs"]
        r = await w.post("agent_a", f"/v1/agent/jobs/{job['id']}/complete", {"worker": "b"})
        return int(r.status_code)

    result = benchmark.pedantic(
        lambda: bench.run(make()), setup=lambda: bench.run(setup()), rounds=50
    )
    assert result == 204
