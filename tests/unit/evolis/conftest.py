"""Fixtures for the Evolis tests: a simulator on loopback TCP with a printer connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest

from printers.devices.evolis.driver import EvolisPrinter
from printers.devices.evolis.models import MODELS, PrinterModel, RibbonType
from printers.devices.evolis.transport import TcpTransport
from printers.devices.simulators.evolis import EvolisSimulator, SimConfig
from printers.documents.panels import CardSide

from .evolis_panels import random_side

Rig = tuple[EvolisSimulator, EvolisPrinter]


class RigFactory(Protocol):
    async def __call__(
        self,
        model: PrinterModel = ...,
        ribbon: RibbonType = ...,
        *,
        ribbon_sets: int = ...,
        feeder_cards: int | None = ...,
    ) -> Rig: ...


@pytest.fixture(scope="session")
def side() -> CardSide:
    return random_side(7)


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[RigFactory]:
    """Start a simulator (no delays) and connect a printer to it in ACK/NACK mode."""
    opened: list[Rig] = []

    async def start(
        model: PrinterModel = PrinterModel.PRIMACY,
        ribbon: RibbonType = RibbonType.YMCKO,
        *,
        ribbon_sets: int = 200,
        feeder_cards: int | None = None,
    ) -> Rig:
        config = SimConfig(
            model=model,
            ribbon=ribbon,
            ribbon_sets=ribbon_sets,
            feeder_cards=feeder_cards,
            time_scale=0.0,
            seed=1,
        )
        sim = EvolisSimulator(config, out_dir=tmp_path / "cards")
        await sim.start()
        transport = TcpTransport("127.0.0.1", sim.port)
        await transport.connect()
        printer = EvolisPrinter(transport, MODELS[model], ribbon=ribbon)
        await printer.open()
        opened.append((sim, printer))
        return sim, printer

    yield start
    for sim, printer in opened:
        await printer.aclose()
        await sim.aclose()


@pytest.fixture
async def rig(make_rig: RigFactory) -> Rig:
    return await make_rig()
