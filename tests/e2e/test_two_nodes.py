"""Two API nodes on one database; the node the agent uses is killed in the middle of a batch.

Both nodes are ``sscard serve`` processes on ports of their own (as if on two
machines) sharing the test database and the master key. The agent is given
both addresses and starts on the first; after some cards are made the first
node gets SIGKILL. The agent moves to the second, and the batch completes
there with every card made exactly once. A claim waiting on one node is also
woken by an enqueue on the other (each node listens for the queue's NOTIFY).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from issuance.cli.agent import DEMO_OUTLET, DemoTokens, demo_accounts
from issuance.config import Settings
from issuance.runtime import Runtime
from printers.agent.client import AgentClient
from printers.agent.journal import Journal
from printers.agent.loop import Agent, AgentConfig
from printers.agent.station import Station, open_printer
from printers.devices.simulators.evolis import SimConfig
from printers.devices.simulators.outlet import SimulatedOutlet
from tests.unit.batches.builders import batch_csv, people, photo_zip

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CARDS = 40
KILL_AFTER = 10  # cards made before the first node is killed
HANG = 240.0  # a bound on each wait that only stops a hang


@dataclass(frozen=True)
class Nodes:
    urls: tuple[str, str]
    processes: tuple[asyncio.subprocess.Process, asyncio.subprocess.Process]
    tokens: DemoTokens
    tmp: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    async def loop() -> None:
        while not await check():  # noqa: ASYNC110 - polling another process over HTTP
            await asyncio.sleep(0.1)

    try:
        await asyncio.wait_for(loop(), HANG)
    except TimeoutError:
        raise AssertionError(f"{what} never happened") from None


async def _healthy(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(f"{url}/health")).status_code == 200
    except httpx.HTTPError:
        return False


async def _node(port: int, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "issuance.cli", "serve", "--port", str(port),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
async def nodes(db_dsn: str, tmp_path: Path) -> AsyncIterator[Nodes]:
    data = tmp_path / "var"  # one data dir: the nodes share the master key kept there
    settings = Settings(database_url=db_dsn, data_dir=data, host="127.0.0.1", port=0)
    async with Runtime(settings) as rt:
        tokens = await demo_accounts(rt.store, tmp_path / "tokens.json")
    env = {**os.environ, "SSCARD_DATABASE_URL": db_dsn, "SSCARD_DATA_DIR": str(data),
           "SSCARD_LEASE_SECONDS": "5"}  # fmt: skip
    ports = (_free_port(), _free_port())
    procs = (await _node(ports[0], env), await _node(ports[1], env))
    urls = (f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}")
    try:
        for url in urls:
            await _until(lambda url=url: _healthy(url), f"{url} answering")
        yield Nodes(urls, procs, tokens, tmp_path)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), 60)


@pytest.fixture
async def outlet(nodes: Nodes) -> AsyncIterator[SimulatedOutlet]:
    config = SimConfig(time_scale=0.0)
    async with SimulatedOutlet(nodes.tmp / "outlet", printers=2, config=config) as made:
        with Journal(nodes.tmp / "journal.sqlite") as journal:
            stations = [
                Station(n, await open_printer(made.printer_url(n)), made.reader(n), made.psam,
                        journal)
                for n in made.names
            ]  # fmt: skip
            client = AgentClient(
                nodes.urls,
                nodes.tokens.agent,
                worker="two",
                site=DEMO_OUTLET,
                psam=made.psam.serial,
            )
            config_ = AgentConfig(wait_seconds=1, printer_poll_seconds=0.2)
            agent = asyncio.create_task(Agent(client, stations, journal, config_).run())
            try:
                yield made
            finally:
                agent.cancel()
                await asyncio.gather(agent, return_exceptions=True)
                await client.aclose()
                for station in stations:
                    await station.printer.aclose()


async def _submit(url: str, token: str) -> str:
    persons = people(CARDS, seed=73)
    files = {
        "file": ("batch.csv", batch_csv(persons).encode("gb18030"), "text/csv"),
        "photos": ("photos.zip", photo_zip(persons), "application/zip"),
    }
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers) as http:
        r = await http.post("/v1/batches", files=files, params={"site": DEMO_OUTLET})
    assert r.status_code == 201, r.text
    return str(r.json()["batch"]["id"])


async def _batch(url: str, token: str, batch_id: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as http:
        r = await http.get(f"/v1/batches/{batch_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _made(outlet: SimulatedOutlet) -> list[str]:
    return [c.chip.card_number for c in outlet.cards() if c.chip is not None]


async def test_a_batch_completes_on_the_other_node_with_every_card_made_once(
    nodes: Nodes, outlet: SimulatedOutlet
) -> None:
    first, second = nodes.urls
    batch_id = await _submit(first, nodes.tokens.clerk)

    async def some_made() -> bool:
        return len(_made(outlet)) >= KILL_AFTER

    await _until(some_made, f"{KILL_AFTER} cards made through the first node")
    nodes.processes[0].send_signal(signal.SIGKILL)
    await nodes.processes[0].wait()

    async def complete() -> bool:
        return bool((await _batch(second, nodes.tokens.clerk, batch_id))["complete"])

    await _until(complete, "the batch complete on the second node")
    done = await _batch(second, nodes.tokens.clerk, batch_id)
    assert (done["done"], done["failed"], done["in_doubt"]) == (CARDS, 0, 0)
    printed = Counter(_made(outlet))
    assert len(printed) == CARDS
    assert all(n == 1 for n in printed.values()), printed.most_common(3)
