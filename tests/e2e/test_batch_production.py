"""A batch of 200 cards runs end to end on a simulated three-printer line, through one jam.

The batch is submitted through the API (CSV and photo zip, multipart) to the
demo outlet's site; the real agent claims its jobs over HTTP and makes the
cards on three simulated Evolis printers (mechanism time scaled to zero).
The second printer jams on its fifth card: the agent fails that job
transiently (the fed body is recorded as spoiled), the printer leaves
service, and the card is made again by another printer. The batch must end
complete with every card made exactly once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from printers.agent.client import AgentClient
from printers.agent.journal import Journal
from printers.agent.loop import Agent, AgentConfig
from printers.agent.station import Station, open_printer
from printers.devices.simulators.evolis import SimConfig, SimFault
from printers.devices.simulators.outlet import SimulatedOutlet
from tests.unit.batches.builders import batch_csv, people, photo_zip

from .conftest import Stack

pytestmark = pytest.mark.slow
CARDS = 200
PRINTERS = 3
JAMMED = "p2"


@pytest.fixture
async def line(stack: Stack) -> AsyncIterator[SimulatedOutlet]:
    config = SimConfig(time_scale=0.0)
    async with SimulatedOutlet(stack.tmp / "line", printers=PRINTERS, config=config) as outlet:
        outlet.simulator(JAMMED).inject(SimFault.JAM, at_card=5)
        with Journal(stack.tmp / "journal.sqlite") as journal:
            stations = [
                Station(n, await open_printer(outlet.printer_url(n)), outlet.reader(n),
                        outlet.psam, journal)
                for n in outlet.names
            ]  # fmt: skip
            client = AgentClient(
                stack.api,
                stack.agent_token,
                worker="line",
                site=stack.site,
                psam=outlet.psam.serial,
            )
            config_ = AgentConfig(wait_seconds=1, printer_poll_seconds=0.2)
            agent = asyncio.create_task(Agent(client, stations, journal, config_).run())
            try:
                yield outlet
            finally:
                agent.cancel()
                await asyncio.gather(agent, return_exceptions=True)
                await client.aclose()
                for station in stations:
                    await station.printer.aclose()


async def _submit(stack: Stack) -> dict[str, Any]:
    persons = people(CARDS, seed=41)
    files = {
        "file": ("batch.csv", batch_csv(persons).encode("gb18030"), "text/csv"),
        "photos": ("photos.zip", photo_zip(persons), "application/zip"),
    }
    headers = {"Authorization": f"Bearer {stack.clerk_token}"}
    async with httpx.AsyncClient(base_url=stack.api, timeout=60, headers=headers) as http:
        r = await http.post("/v1/batches", files=files, params={"site": stack.site})
    assert r.status_code == 201, r.text
    batch: dict[str, Any] = r.json()["batch"]
    return batch


async def _until_complete(stack: Stack, batch_id: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {stack.clerk_token}"}
    async with httpx.AsyncClient(base_url=stack.api, timeout=30, headers=headers) as http:
        for _ in range(2400):
            r = await http.get(f"/v1/batches/{batch_id}")
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            if body["complete"]:
                return body
            await asyncio.sleep(0.1)
    raise AssertionError(f"batch {batch_id} never completed: {body}")


async def _archived(outlet: SimulatedOutlet, count: int) -> list[str]:
    for _ in range(200):
        numbers = [c.chip.card_number for c in outlet.cards() if c.chip is not None]
        if len(numbers) >= count:
            return numbers
        await asyncio.sleep(0.05)
    return numbers


async def test_a_batch_is_made_once_per_card_through_a_printer_jam(
    stack: Stack, line: SimulatedOutlet
) -> None:
    batch = await _submit(stack)
    assert (batch["accepted"], batch["site"]) == (CARDS, stack.site)
    done = await _until_complete(stack, batch["id"])
    assert (done["done"], done["failed"], done["in_doubt"], done["remaining"]) == (CARDS, 0, 0, 0)
    assert done["done"] + done["failed"] == done["cards"] == CARDS
    assert done["spoiled"] == 1  # the jammed body
    assert done["batch"]["status"] == "complete" and done["batch"]["finished_at"] is not None
    assert done["cards_per_hour"] is not None and done["cards_per_hour"] > 0

    printed = Counter(await _archived(line, CARDS))
    expected = {e.card_number for e in await stack.rt.store.batch_entries(batch["id"])}
    assert set(printed) == expected
    assert all(n == 1 for n in printed.values()), printed.most_common(3)
    per_printer = Counter(c.printer for c in line.cards())
    assert per_printer[JAMMED] == 4  # out of service after the jam
    assert sum(per_printer.values()) == CARDS
