"""PcscConnection without a reader: error conversion and pyscard being optional."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from printers.devices.chip import pcsc
from printers.devices.chip.status import CardMute, NoCardInReader, ReaderFault, ReaderUnavailable
from sscard_core.errors import DeviceError


class FakeScardError(Exception):
    def __init__(self, hresult: int) -> None:
        super().__init__("scard")
        self.hresult = hresult


@pytest.mark.parametrize(
    ("hresult", "error"),
    [
        (0x80100066, CardMute),  # SCARD_W_UNRESPONSIVE_CARD
        (-0x7FEFFF9A, CardMute),  # the same, as a signed 32-bit value
        (0x80100067, CardMute),  # SCARD_W_UNPOWERED_CARD
        (0x8010000C, NoCardInReader),  # SCARD_E_NO_SMARTCARD
        (0x80100069, ReaderFault),  # SCARD_W_REMOVED_CARD
        (-1, ReaderFault),
    ],
)
def test_pcsc_result_codes_map_to_sscard_errors(hresult: int, error: type[Exception]) -> None:
    converted = pcsc._convert(FakeScardError(hresult), "transmit")
    assert type(converted) is error
    assert "transmit" in converted.message


def test_missing_pyscard_is_a_clear_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def no_smartcard(name: str, package: str | None = None) -> ModuleType:
        if name.startswith("smartcard"):
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_smartcard)
    with pytest.raises(DeviceError, match="pyscard") as caught:
        pcsc.reader_names()
    assert caught.value.code == "pcsc_unavailable"
    assert isinstance(caught.value, ReaderUnavailable)


async def test_transmit_needs_a_connection() -> None:
    connection = pcsc.PcscConnection("Nothing")
    with pytest.raises(ReaderFault):
        await connection.transmit(b"\x00\xa4\x04\x00")
    await connection.disconnect()  # nothing to do
    assert "Nothing" in repr(connection)
