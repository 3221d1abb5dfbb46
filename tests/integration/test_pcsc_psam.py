"""The PSAM driver through the real PC/SC stack: the simulated PSAM card in vpcd's second reader.

pyscard → pcscd → vpcd (reader ``Virtual PCD 00 01``, the port after the first
reader's) → ViccBridge → SimulatedPsamCard, beside the card to personalise in the
first reader: the encoder works with two PC/SC readers, as at an outlet whose
PSAM sits in the security terminal's own slot.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from printers.devices.chip.crypto import KeyUsage
from printers.devices.chip.encoder import ChipEncoder
from printers.devices.chip.pcsc import PcscConnection
from printers.devices.chip.pcsc_psam import CardPsam
from printers.devices.simulators.chip_card import SimulatedCard
from printers.devices.simulators.psam_card import SimulatedPsamCard
from printers.devices.simulators.vicc import ViccBridge, vpcd_port
from tests.integration.test_pcsc_stack import (
    CARD_IDENTIFIER,
    READER,
    card_data,
    pcscd,
    pytestmark,
)

__all__ = ["pcscd", "pytestmark"]
PSAM_READER = "Virtual PCD 00 01"
SERIAL = "00A1B2C3D4E5F6071829"


@pytest.fixture
def master_keys() -> dict[KeyUsage, bytes]:
    return {usage: os.urandom(16) for usage in KeyUsage}


async def _serve(card: object, port: int) -> AsyncIterator[ViccBridge]:
    served = ViccBridge(card, port=port, reconnect_delay=0.2)  # type: ignore[arg-type]
    task = asyncio.create_task(served.serve_forever())
    try:
        await asyncio.wait_for(served.connected.wait(), 60)
        yield served
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.fixture
async def psam_bridge(
    pcscd: None, master_keys: dict[KeyUsage, bytes]
) -> AsyncIterator[SimulatedPsamCard]:
    card = SimulatedPsamCard(master_keys, SERIAL, terminal="110101000007")
    async for _ in _serve(card, vpcd_port() + 1):
        yield card


@pytest.fixture
async def card_bridge(
    pcscd: None, master_keys: dict[KeyUsage, bytes]
) -> AsyncIterator[SimulatedCard]:
    card = SimulatedCard.issue_blank(master_keys, CARD_IDENTIFIER)
    async for _ in _serve(card, vpcd_port()):
        yield card


async def test_the_encoder_uses_the_psam_in_a_second_reader(
    psam_bridge: SimulatedPsamCard, card_bridge: SimulatedCard
) -> None:
    psam_connection = PcscConnection(PSAM_READER, card_timeout=30)
    await psam_connection.connect()
    try:
        psam = await CardPsam.open(psam_connection)
        assert (psam.serial, psam.terminal) == (SERIAL, "110101000007")
        expected = card_data()
        result = await ChipEncoder(PcscConnection(READER, card_timeout=30), psam).personalise(
            expected
        )
        assert result.read_back == expected
        assert psam.transaction_counter == psam_bridge.operations > 0
    finally:
        await psam_connection.disconnect()
