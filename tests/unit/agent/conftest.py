"""Fixtures for the agent tests: a simulated outlet at full speed, a journal, a card job."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from printers.agent.journal import Journal
from printers.agent.station import Station, open_printer
from printers.devices.simulators.evolis import SimConfig
from printers.devices.simulators.outlet import SimulatedOutlet
from sscard_core.card_data import CardData
from tests.samples import ZHANG_SANFENG, card_data

FAST = SimConfig(time_scale=0.0)


def applicant(identifier: str = "1100000000000017", number: str = "A12345678") -> CardData:
    return card_data(
        card_number=number,
        card_identifier=identifier,
        issue_date=date(2026, 11, 29),
        expiry_date=date(2036, 11, 29),
        **ZHANG_SANFENG,
    )


def photo_png() -> bytes:
    image = Image.new("RGB", (240, 300), (200, 210, 230))
    image.paste((90, 60, 40), (80, 60, 160, 160))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def outlet(tmp_path: Path) -> AsyncIterator[SimulatedOutlet]:
    async with SimulatedOutlet(tmp_path / "outlet", printers=2, config=FAST) as running:
        yield running


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.sqlite") as j:
        yield j


async def station_for(outlet: SimulatedOutlet, name: str, journal: Journal) -> Station:
    printer = await open_printer(outlet.printer_url(name))
    return Station(name, printer, outlet.reader(name), outlet.psam, journal)


def serving(station: Station) -> bool:
    """Whether ``station`` is in service (a call, so that type narrowing does not stick)."""
    return station.in_service
