"""A card connection through PC/SC (pcscd on Linux) using pyscard.

pyscard is optional (``pip install 'sscard[pcsc]'``): it is imported only when a
connection is made, and its absence raises :class:`sscard_core.errors.DeviceError`
saying so, so the rest of :mod:`printers.devices.chip` works without it.

pyscard's calls block, so each :class:`PcscConnection` owns a single worker thread
and runs every call there: PC/SC handles stay on one thread and the event loop
never waits on the reader. :meth:`PcscConnection.connect` waits up to
``card_timeout`` seconds for a card in the chosen reader (a printer's chip station
reports the card a moment after it arrives) and, within that time, retries while
the reader reports the card unpowered or unresponsive (it is still being powered
up). Library errors become sscard errors:
an unresponsive or unpowered card is :class:`~printers.devices.chip.status.CardMute` (the
card must be rejected); everything else is a fault of the reader, not of the card
or the printer: :class:`~printers.devices.chip.status.NoCardInReader` when no card came,
:class:`~printers.devices.chip.status.ReaderUnavailable` when the reader (or pyscard, or
pcscd) is not there, :class:`~printers.devices.chip.status.ReaderFault` otherwise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any, TypeVar

from printers.devices.chip.status import CardMute, NoCardInReader, ReaderFault, ReaderUnavailable
from sscard_core.errors import SscardError

T = TypeVar("T")

POWER_UP_RETRY = 0.1  # seconds between connection attempts while a card powers up
SCARD_W_UNRESPONSIVE_CARD = 0x80100066
SCARD_W_UNPOWERED_CARD = 0x80100067
SCARD_E_NO_SMARTCARD = 0x8010000C
HRESULT_ERRORS: Mapping[int, type[SscardError]] = {
    SCARD_W_UNRESPONSIVE_CARD: CardMute,
    SCARD_W_UNPOWERED_CARD: CardMute,
    SCARD_E_NO_SMARTCARD: NoCardInReader,
}


def _import(module: str) -> ModuleType:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ReaderUnavailable(
            "PC/SC needs pyscard: pip install 'sscard[pcsc]' (and pcscd running)",
            code="pcsc_unavailable",
        ) from exc


def _convert(exc: Exception, action: str) -> SscardError:
    """The sscard error for a pyscard exception (looked up by its PC/SC result code)."""
    hresult = int(getattr(exc, "hresult", -1)) & 0xFFFFFFFF
    error = HRESULT_ERRORS.get(hresult, ReaderFault)
    return error(f"PC/SC {action} failed: {exc}", hresult=hresult)


def reader_names() -> list[str]:
    """The names of the PC/SC readers pcscd knows (blocking; pyscard required)."""
    system = _import("smartcard.System")
    try:
        return [str(reader) for reader in system.readers()]
    except Exception as exc:
        raise _convert(exc, "listing readers") from exc


class PcscConnection:
    """A :class:`~printers.devices.chip.encoder.CardConnection` to the card in one PC/SC reader."""

    def __init__(self, reader: str | None = None, *, card_timeout: float = 10.0) -> None:
        self.reader = reader
        self.card_timeout = card_timeout
        self.atr = b""
        self._connection: Any = None
        self._service: Any = None  # pyscard disconnects the card when its service is collected
        self._executor: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"PcscConnection(reader={self.reader!r})"

    async def _run(self, call: Callable[[], T]) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pcsc")
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def connect(self) -> None:
        await self._run(self._connect)

    async def disconnect(self) -> None:
        if self._executor is None:
            return
        try:
            await self._run(self._disconnect)
        finally:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def transmit(self, apdu: bytes) -> bytes:
        if self._connection is None:
            raise ReaderFault("no card session: connect first")
        return await self._run(lambda: self._transmit(apdu))

    def _pick_reader(self) -> str:
        names = reader_names()
        if self.reader is None and names:
            return names[0]
        chosen = [
            name for name in names if self.reader is not None and name.startswith(self.reader)
        ]
        if not chosen:
            raise ReaderUnavailable(
                f"no PC/SC reader {self.reader or ''!r} among {names}", reader=self.reader
            )
        return chosen[0]

    def _connect(self) -> None:
        request_module = _import("smartcard.CardRequest")
        exceptions = _import("smartcard.Exceptions")
        name = self._pick_reader()
        deadline = time.monotonic() + self.card_timeout
        request = request_module.CardRequest(readers=[name], timeout=self.card_timeout)
        try:
            service = request.waitforcard()
        except exceptions.CardRequestTimeoutException as exc:
            raise NoCardInReader(
                f"no card in {name} after {self.card_timeout} s", reader=name
            ) from exc
        except Exception as exc:
            raise _convert(exc, "waiting for a card") from exc
        self._power_up(service, name, deadline)
        self._service, self._connection = service, service.connection

    def _power_up(self, service: Any, name: str, deadline: float) -> None:
        """Connect to the card, retrying while the reader is still powering it up."""
        while True:
            try:
                service.connection.connect()
                self.atr = bytes(service.connection.getATR())
                return
            except Exception as exc:
                error = _convert(exc, f"connecting to the card in {name}")
                if not isinstance(error, CardMute) or time.monotonic() >= deadline:
                    raise error from exc
            time.sleep(POWER_UP_RETRY)

    def _disconnect(self) -> None:
        connection, self._connection, self._service = self._connection, None, None
        if connection is None:
            return
        try:
            connection.disconnect()
            connection.release()
        except Exception as exc:
            raise _convert(exc, "disconnecting") from exc

    def _transmit(self, apdu: bytes) -> bytes:
        try:
            data, sw1, sw2 = self._connection.transmit(list(apdu))
        except Exception as exc:
            raise _convert(exc, "transmit") from exc
        return bytes(data) + bytes((sw1, sw2))
