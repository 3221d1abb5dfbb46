"""Chip benchmarks: computing one card's personalisation (budget 5 ms), and a whole
in-process personalisation session against the simulated card (APDUs, SM4 MACs,
read-back). Run with ``pytest benchmarks/bench_chip.py --benchmark-enable``.
"""

from __future__ import annotations

import asyncio
import os
from datetime import date

from pytest_benchmark.fixture import BenchmarkFixture

from printers.devices.chip import files
from printers.devices.chip.crypto import KeyUsage
from printers.devices.chip.encoder import ChipEncoder, EncodeResult
from printers.devices.simulators.chip_card import InProcessConnection, SimulatedCard
from printers.devices.simulators.psam import SimulatedPsam
from tests.samples import card_data

PERSONALISATION_BUDGET_S = 0.005
CARD = card_data(
    card_identifier="110000D156000005",
    citizen_id="11010519900307123X",
    name="买买提·艾力" + "古丽" * 8,  # long enough to use the name extension
    ethnicity=5,
    birthplace="650102",
    birth_date=date(1990, 3, 7),
)


def test_personalise_records(benchmark: BenchmarkFixture) -> None:
    records = benchmark(files.personalise, CARD)
    assert len(records) == 13
    if benchmark.stats is not None:
        assert benchmark.stats.stats.mean < PERSONALISATION_BUDGET_S


def test_read_back(benchmark: BenchmarkFixture) -> None:
    records = files.blank_records(CARD.card_identifier) + files.personalise(CARD)
    assert benchmark(files.read_back, records) == CARD


def test_in_process_session(benchmark: BenchmarkFixture) -> None:
    keys = {usage: os.urandom(16) for usage in KeyUsage}
    psam = SimulatedPsam(keys)
    loop = asyncio.new_event_loop()

    def session() -> EncodeResult:
        card = SimulatedCard.issue_blank(keys, CARD.card_identifier)
        encoder = ChipEncoder(InProcessConnection(card), psam)
        return loop.run_until_complete(encoder.personalise(CARD))

    try:
        assert benchmark(session).read_back == CARD
    finally:
        loop.close()
