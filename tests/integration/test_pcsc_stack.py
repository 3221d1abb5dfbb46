"""The encoder through the real PC/SC stack: pyscard → pcscd → vpcd → ViccBridge → SimulatedCard,
and beside it vsmartcard's own ``vicc`` as a foreign ISO 7816 card in vpcd's second slot.

Runs wherever pcscd and the vpcd driver are installed (``scripts/pcsc-setup.sh``
installs them, with pyscard); skips only where they are not. If pcscd is not
running, the module starts it for its own tests and stops it afterwards.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest

from printers.devices.chip import apdu
from printers.devices.chip.apdu import ResponseApdu
from printers.devices.chip.crypto import KeyUsage
from printers.devices.chip.encoder import ChipEncoder
from printers.devices.chip.pcsc import PcscConnection
from printers.devices.chip.status import (
    CardStatusError,
    NotSocialSecurityCard,
    Status,
    StatusWord,
    interpret,
)
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


# --- a foreign card: vsmartcard's vicc, an ISO 7816 card nobody here wrote -------------------

VICC = Path("/usr/bin/vicc")
DEBIAN_PYTHON = Path("/usr/bin/python3")
# Debian's python3-virtualsmartcard 3.3 installs its modules one directory down.
VICC_MODULES = Path("/usr/lib/python3/site-packages/virtualsmartcard")
FOREIGN_READER = "Virtual PCD 00 01"  # the second vpcd slot, on the configured port + 1

needs_vicc = pytest.mark.skipif(
    not VICC.exists() or not DEBIAN_PYTHON.exists(),
    reason="vsmartcard-vpicc is not installed (scripts/pcsc-setup.sh)",
)


def crypto_alias(directory: Path) -> str | None:
    """vicc imports ``Crypto``; Debian's python3-pycryptodome names the package ``Cryptodome``.

    Returns a directory holding a two-line ``Crypto`` package that is ``Cryptodome``
    under the name vicc imports, or None when ``Crypto`` already imports.
    """
    probe = [str(DEBIAN_PYTHON), "-c", "import Crypto.Cipher"]
    if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return None
    package = directory / "Crypto"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import sys\nfrom Cryptodome import Cipher, Hash, Random, Util\n"
        "for _m in (Cipher, Hash, Random, Util):\n"
        "    sys.modules[__name__ + _m.__name__[len('Cryptodome'):]] = _m\n"
    )
    return str(directory)


def wait_for_card(reader: str, process: subprocess.Popen[bytes]) -> None:
    """Wait until pcscd powers the card in ``reader`` (vicc connects to vpcd a moment late)."""
    system = importlib.import_module("smartcard.System")
    for _ in range(300):
        assert process.poll() is None, f"vicc exited with {process.returncode}"
        (found,) = [r for r in system.readers() if str(r) == reader]
        connection = found.createConnection()
        try:
            connection.connect()
        except Exception:
            time.sleep(0.1)
            continue
        connection.disconnect()
        return
    raise AssertionError(f"no card in {reader}")


@pytest.fixture(scope="module")
def foreign_card(pcscd: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """vicc (type iso7816) in vpcd's second slot, for the module; yields the reader's name."""
    pytest.importorskip("smartcard")
    alias = crypto_alias(tmp_path_factory.mktemp("vicc"))
    paths = [p for p in (alias, str(VICC_MODULES)) if p]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    command = [str(DEBIAN_PYTHON), str(VICC), "--type", "iso7816"]
    command += ["--hostname", "127.0.0.1", "--port", str(vpcd_port() + 1)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for_card(FOREIGN_READER, process)
        yield FOREIGN_READER
    finally:
        process.terminate()
        process.wait()


async def transmit(connection: PcscConnection, command: str) -> StatusWord:
    response = ResponseApdu.parse(await connection.transmit(bytes.fromhex(command)))
    return interpret(response.sw1, response.sw2)


@needs_vicc
async def test_a_foreign_card_is_not_a_social_security_card(
    foreign_card: str, master_keys: dict[KeyUsage, bytes]
) -> None:
    encoder = ChipEncoder(PcscConnection(foreign_card, card_timeout=30), SimulatedPsam(master_keys))
    with pytest.raises(NotSocialSecurityCard) as caught:
        await encoder.personalise(card_data())
    assert (caught.value.fields["sw1"], caught.value.fields["sw2"]) == (0x6A, 0x82)


@needs_vicc
async def test_a_foreign_cards_status_words_through_pcscd(foreign_card: str) -> None:
    # Only commands vicc 3.3 answers: it crashes on EXTERNAL AUTHENTICATE, on CLA FF and on
    # a few malformed SELECTs, which a card must answer but which tell nothing more here.
    connection = PcscConnection(foreign_card, card_timeout=30)
    await connection.connect()
    try:
        select_ssse = apdu.select_aid().to_bytes().hex()
        assert (await transmit(connection, select_ssse)).status is Status.FILE_NOT_FOUND
        assert (await transmit(connection, "0012000000")).status is Status.INS_NOT_SUPPORTED
        assert (await transmit(connection, "00B0000010")).status is Status.NO_CURRENT_EF
        verify = await transmit(connection, "002000000312345F")
        assert (verify.status, verify.processed) == (Status.AUTHENTICATION_FAILED, False)
        challenge = await connection.transmit(apdu.get_challenge().to_bytes())
        assert len(challenge) == 8 + 2 and challenge[-2:] == b"\x90\x00"
    finally:
        await connection.disconnect()


@needs_vicc
async def test_two_readers_our_card_and_a_foreign_one(
    bridge: ViccBridge, foreign_card: str, master_keys: dict[KeyUsage, bytes]
) -> None:
    psam = SimulatedPsam(master_keys)
    ours = ChipEncoder(PcscConnection(READER, card_timeout=30), psam)
    theirs = ChipEncoder(PcscConnection(foreign_card, card_timeout=30), psam)
    assert (await ours.personalise(card_data())).read_back == card_data()
    with pytest.raises(NotSocialSecurityCard):
        await theirs.personalise(card_data())
