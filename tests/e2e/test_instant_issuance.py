"""An instant application through the API becomes a printed, encoded, verified card."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import numpy as np
import pytest
from PIL import Image

from intake.photo import load_photo
from issuance.cli.agent import sample_application
from issuance.domain.cards import CardStatus
from issuance.store import Store
from printers.agent.client import AgentClient
from printers.agent.journal import Journal
from printers.agent.loop import Agent, AgentConfig
from printers.agent.station import Station, open_printer
from printers.devices.simulators.evolis import SimConfig
from printers.devices.simulators.outlet import OutletCard, SimulatedOutlet
from printers.documents.face import composite, render_face
from sscard_core.card_data import CardData, Gender

from .conftest import Stack

pytestmark = pytest.mark.slow


@pytest.fixture
async def outlet_and_agent(stack: Stack) -> AsyncIterator[SimulatedOutlet]:
    async with SimulatedOutlet(stack.tmp / "outlet", config=SimConfig(time_scale=0.0)) as outlet:
        with Journal(stack.tmp / "journal.sqlite") as journal:
            stations = [
                Station(
                    n,
                    await open_printer(outlet.printer_url(n)),
                    outlet.reader(n),
                    outlet.psam,
                    journal,
                )
                for n in outlet.names
            ]
            client = AgentClient(
                stack.api,
                stack.agent_token,
                worker="e2e-agent",
                site=stack.site,
                psam=outlet.psam.serial,
            )
            agent = asyncio.create_task(
                Agent(client, stations, journal, AgentConfig(wait_seconds=1)).run()
            )
            try:
                yield outlet
            finally:
                agent.cancel()
                await asyncio.gather(agent, return_exceptions=True)
                await client.aclose()
                for station in stations:
                    await station.printer.aclose()


async def _ready(store: Store, number: str) -> None:
    for _ in range(600):
        card = await store.card_by_number(number)
        if card is not None and card.status is CardStatus.READY:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"card {number} never became ready")


async def _printed(outlet: SimulatedOutlet, identifier: str) -> list[OutletCard]:
    for _ in range(200):
        if cards := outlet.cards_for(identifier):
            return cards
        await asyncio.sleep(0.05)
    return []


def _applicant(application: dict[str, Any], card: dict[str, Any], chip: CardData) -> CardData:
    holder = application["holder"]
    return CardData(
        card_number=card["card_number"],
        card_identifier=card["card_identifier"],
        card_type=chip.card_type,
        issuing_institution=chip.issuing_institution,
        issue_date=date.fromisoformat(card["issue_date"]),
        expiry_date=date.fromisoformat(card["expiry_date"]),
        citizen_id=holder["citizen_id"],
        name=holder["name"],
        gender=Gender(holder["gender"]),
        ethnicity=holder["ethnicity"],
        birthplace=holder["birthplace"],
        birth_date=date.fromisoformat(holder["birth_date"]),
    )


async def test_an_instant_card_is_made_at_the_outlet(
    stack: Stack, outlet_and_agent: SimulatedOutlet
) -> None:
    outlet = outlet_and_agent
    application = sample_application(7)
    card = await stack.apply(application)
    await _ready(stack.rt.store, card["card_number"])
    (made,) = await _printed(outlet, card["card_identifier"])
    assert made.chip is not None
    expected = _applicant(application, card, made.chip)
    assert made.chip == expected
    photo = load_photo(base64.b64decode(application["photo"])).image
    wanted = np.asarray(composite(render_face(expected, photo)), dtype=np.int16)
    printed = np.asarray(Image.open(made.png).convert("RGB"), dtype=np.int16)
    difference = np.abs(printed - wanted)
    assert difference.mean() < 2.0  # dye quantised to 32 levels: at most 4 per channel
    assert np.percentile(difference, 99.9) <= 5
    assert outlet.rejected() == 0
