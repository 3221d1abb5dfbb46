"""The encoder through the real PC/SC stack: pyscard → pcscd → vpcd → ViccBridge → SimulatedCard.

Runs wherever pcscd and the vpcd driver are installed (``scripts/pcsc-setup.sh``
installs them, with pyscard); skips only where they are not. If pcscd is not
running, the module starts it for its own tests and stops it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest

from printers.devices.chip.crypto import KeyUsage
from printers.devices.chip.encoder import ChipEncoder
from printers.devices.chip.pcsc import PcscConnection
from printers.devices.chip.status import CardStatusError, Status
from printers.devices.simulators.chip_card import ATR, SimulatedCard
from printers.devices.simulators.psam import SimulatedPsam
from printers.devices.simulators.vicc import VPCD_CONFIG, ViccBridge, vpcd_port
from sscard_core.card_data import CardData, Gender
from tests import samples

PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
READER = "Virtual PCD 00 00"  # the first vpcd slot, on the configured port
CARD_IDENTIFIER = "110000D156000042"


def pcscd_binary() -> str | None:
    return shutil.which("pcscd") or shutil.which("pcscd", path="/usr/sbin:/sbin")


pytestmark = [
    pytest.mark.pcsc,
    pytest.mark.skipif(
        pcscd_binary() is None or not VPCD_DRIVER.exists() or not VPCD_CONFIG.exists(),
        reason="pcscd and vsmartcard-vpcd are not installed (scripts/pcsc-setup.sh)",
    ),
]


def pcscd_answers() -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        try:
            client.connect(str(PCSCD_SOCKET))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def pcscd() -> Iterator[None]:
    """A running pcscd: the one already there, or one started for these tests."""
    if pcscd_answers():
        yield
        return
    binary = pcscd_binary()
    assert binary is not None
    PCSCD_SOCKET.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([binary, "--foreground"], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if pcscd_answers():
                break
            assert process.poll() is None, f"pcscd exited with {process.returncode}"
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait()


@pytest.fixture
def master_keys() -> dict[KeyUsage, bytes]:
    return {usage: os.urandom(16) for usage in KeyUsage}


@pytest.fixture
def card(master_keys: dict[KeyUsage, bytes]) -> SimulatedCard:
    return SimulatedCard.issue_blank(master_keys, CARD_IDENTIFIER)


@pytest.fixture
async def bridge(pcscd: None, card: SimulatedCard) -> AsyncIterator[ViccBridge]:
    served = ViccBridge(card, port=vpcd_port(), reconnect_delay=0.2)
    task = asyncio.create_task(served.serve_forever())
    try:
        await asyncio.wait_for(served.connected.wait(), 60)
        yield served
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def card_data() -> CardData:
    return samples.card_data(
        card_number="B98765432",
        card_identifier=CARD_IDENTIFIER,
        issuing_institution="110000000002",
        issue_date=date(2025, 6, 1),
        expiry_date=date(2035, 6, 1),
        citizen_id="110101198805051234",
        name="欧阳" + "娜" * 10 + "·" + "买买提",
        gender=Gender.FEMALE,
        ethnicity=5,
        birth_date=date(1988, 5, 5),
    )


async def test_personalise_and_read_back_through_pcscd(
    bridge: ViccBridge, card: SimulatedCard, master_keys: dict[KeyUsage, bytes]
) -> None:
    psam = SimulatedPsam(master_keys)
    connection = PcscConnection(READER, card_timeout=30)
    expected = card_data()

    result = await ChipEncoder(connection, psam).personalise(expected)

    assert connection.atr == ATR
    assert result.read_back == expected
    assert card.record(0x07) == b"B98765432"
    assert card.record(0x4E) != bytes(20)  # the long name reached the extension
    fresh = ChipEncoder(PcscConnection(READER, card_timeout=30), psam)
    assert await fresh.read_card() == expected


async def test_pin_management_through_pcscd(
    bridge: ViccBridge, card: SimulatedCard, master_keys: dict[KeyUsage, bytes]
) -> None:
    encoder = ChipEncoder(PcscConnection(READER, card_timeout=30), SimulatedPsam(master_keys))
    with pytest.raises(CardStatusError) as caught:
        await encoder.change_pin("000000", "111111")
    assert (caught.value.status, caught.value.tries_left) == (Status.VERIFY_FAILED, 2)
    await encoder.change_pin("123456", "111111")
    await encoder.reset_pin("222222")
    await encoder.verify_pin("222222")
    assert card.pin_tries_left == 3
