"""Speed of the Evolis driver: packing a side, and one card through the simulator over TCP.

Run: .venv/bin/pytest benchmarks/bench_evolis.py -o python_files='bench_*.py' --benchmark-enable
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from printers.devices.evolis.commands import download_panel
from printers.devices.evolis.driver import EvolisPrinter
from printers.devices.evolis.models import MODELS, PrinterModel
from printers.devices.evolis.packing import compress_mono, pack_panel, unpack_panel
from printers.devices.evolis.transport import TcpTransport
from printers.devices.simulators.evolis import EvolisSimulator, SimConfig, render_side
from printers.documents.panels import CARD_HEIGHT, CARD_WIDTH, CardSide, Panel, PanelImage


def photo_side(levels: int = 128) -> CardSide:
    rng = np.random.default_rng(0)
    size = CARD_WIDTH * CARD_HEIGHT
    colour = tuple(
        PanelImage(p, levels, rng.integers(0, levels, size, dtype=np.uint8).tobytes())
        for p in (Panel.Y, Panel.M, Panel.C)
    )
    text = np.zeros((CARD_WIDTH, CARD_HEIGHT), dtype=np.uint8)
    text[100:900:7, 300:600] = 1  # sparse lines of "text"
    mono = (PanelImage(Panel.K, 2, text.tobytes()), PanelImage(Panel.O, 2, bytes([1]) * size))
    return CardSide(colour + mono)


SIDE = photo_side()


def test_pack_ymcko_side(benchmark: BenchmarkFixture) -> None:
    data = benchmark(lambda: [pack_panel(p) for p in SIDE.panels])
    assert len(data) == 5


def test_encode_ymcko_side_commands(benchmark: BenchmarkFixture) -> None:
    wire = benchmark(lambda: b"".join(download_panel(p).encode() for p in SIDE.panels))
    # three 128-level Db panels (ESC "Db;y;128;" data CR), two Dbc (ESC "Dbc;k;2;83312;" data CR)
    assert len(wire) == 3 * (11 + 576_072) + 2 * (16 + 83_312)


def test_unpack_colour_panel(benchmark: BenchmarkFixture) -> None:
    data = pack_panel(SIDE.panels[0])
    assert benchmark(unpack_panel, Panel.Y, 128, data) == SIDE.panels[0]


def test_compress_text_panel(benchmark: BenchmarkFixture) -> None:
    assert len(benchmark(compress_mono, SIDE.panels[3])) == 83_312  # 1016 x (81 + 1), as the vendor


def test_render_side(benchmark: BenchmarkFixture) -> None:
    assert benchmark(render_side, SIDE.panels).shape == (CARD_HEIGHT, CARD_WIDTH, 3)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_one_card_over_loopback(
    benchmark: BenchmarkFixture, loop: asyncio.AbstractEventLoop
) -> None:
    sim = EvolisSimulator(SimConfig(model=PrinterModel.QUANTUM, time_scale=0.0))
    loop.run_until_complete(sim.start())
    transport = TcpTransport("127.0.0.1", sim.port)
    loop.run_until_complete(transport.connect())
    printer = EvolisPrinter(transport, MODELS[PrinterModel.QUANTUM])
    loop.run_until_complete(printer.open())

    async def print_one() -> None:
        await printer.print_side(SIDE)
        await printer.eject()

    def one_card() -> None:
        loop.run_until_complete(print_one())
        sim.machine.empty_hopper()
        sim.machine.load_cards(1)
        sim.machine.replace_ribbon(200)

    benchmark(one_card)
    loop.run_until_complete(printer.aclose())
    loop.run_until_complete(sim.aclose())
    assert sim.printed[-1].front == SIDE.panels
