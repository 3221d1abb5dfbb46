"""Speed of the outlet agent's own work: a journal mark on disk, one card through a station.

Run: .venv/bin/pytest benchmarks/bench_agent.py -o python_files='bench_*.py' --benchmark-enable

The station figure is the host's share of a card (render and rasterise the
face, feed, personalise and verify the chip through the simulated chip
station, download the panels, eject) with the simulator's mechanism time
scaled to zero.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import date
from itertools import count
from pathlib import Path

import pytest
from PIL import Image
from pytest_benchmark.fixture import BenchmarkFixture

from printers.agent.journal import Journal, Mark
from printers.agent.loop import render_side
from printers.agent.station import Station, open_printer
from printers.devices.simulators.evolis import SimConfig
from printers.devices.simulators.outlet import SimulatedOutlet
from sscard_core.messages import JobStep
from tests.samples import ZHANG_SANFENG, card_data

CARD = card_data(
    card_identifier="1100000000000017",
    issue_date=date(2026, 11, 29),
    expiry_date=date(2036, 11, 29),
    **ZHANG_SANFENG,
)


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (358, 441), (200, 180, 160)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_journal_mark(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        run = journal.begin(1, "card", "p1")
        benchmark(journal.mark, run, Mark.ENCODING)
        assert Mark.ENCODING in journal.run(run).marks


def test_one_card_through_a_station(
    benchmark: BenchmarkFixture, loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    outlet = SimulatedOutlet(tmp_path / "outlet", printers=1, config=SimConfig(time_scale=0.0))
    loop.run_until_complete(outlet.start())
    journal = Journal(tmp_path / "j.sqlite")
    printer = loop.run_until_complete(open_printer(outlet.printer_url("p1")))
    station = Station("p1", printer, outlet.reader("p1"), outlet.psam, journal)
    jobs = count(1)
    image = photo()

    async def announce(step: JobStep) -> None:
        return None

    async def one_card() -> None:
        face = render_side(CARD, image, 32)
        await station.make_card(journal.begin(next(jobs), "card", "p1"), CARD, face, announce)

    benchmark(lambda: loop.run_until_complete(one_card()))
    assert outlet.simulator("p1").machine.hopper >= 1
    loop.run_until_complete(printer.aclose())
    loop.run_until_complete(outlet.aclose())
    journal.close()
