"""A physical PSAM card behind a card connection (a second PC/SC reader): the :class:`Psam` driver.

:class:`CardPsam` speaks :mod:`printers.devices.chip.psam_apdu` over any
:class:`~printers.devices.chip.encoder.CardConnection` (``PcscConnection`` for the
PSAM's reader, ``InProcessConnection`` in tests). :meth:`CardPsam.open` reads the
PSAM's serial and terminal number from its public files, so the agent names the
PSAM it really works with when it claims. Each cryptogram or MAC is one
initialisation (the card's key from its diversification factor) and one
computation; a status word other than ``90 00`` raises
:class:`~printers.devices.chip.status.CardStatusError`. The transaction counter counts
the computations this host asked for.
"""

from __future__ import annotations

from printers.devices.chip import crypto, psam_apdu
from printers.devices.chip.apdu import CommandApdu, ResponseApdu
from printers.devices.chip.crypto import CipherSuite, KeyUsage
from printers.devices.chip.encoder import CardConnection
from printers.devices.chip.status import interpret, raise_for_status

COUNTER_MODULUS = 1 << 32  # the terminal transaction counter wraps as a PSAM's does


class CardPsam:
    """The PSAM card in a reader, behind the same interface as the simulated one."""

    def __init__(self, connection: CardConnection, info: psam_apdu.PsamInfo, terminal: str) -> None:
        self._connection = connection
        self.info = info
        self.terminal = terminal
        self._counter = 0

    @classmethod
    async def open(cls, connection: CardConnection) -> CardPsam:
        """Read the PSAM's identity from a connected card (EF 0015 and EF 0016)."""
        info = psam_apdu.parse_info(
            await _read(connection, psam_apdu.INFO_EF, psam_apdu.INFO_LENGTH)
        )
        terminal = psam_apdu.parse_terminal(
            await _read(connection, psam_apdu.TERMINAL_EF, psam_apdu.TERMINAL_LENGTH)
        )
        return cls(connection, info, terminal)

    def __repr__(self) -> str:
        return f"CardPsam(serial={self.info.serial}, terminal={self.terminal})"

    @property
    def serial(self) -> str:
        return self.info.serial

    @property
    def suite(self) -> CipherSuite:
        return self.info.suite

    @property
    def transaction_counter(self) -> int:
        return self._counter

    async def cryptogram(self, card_identifier: str, challenge: bytes) -> bytes:
        return await self._compute(
            KeyUsage.EXTERNAL_AUTH, card_identifier, psam_apdu.cryptogram(challenge)
        )

    async def mac(
        self,
        card_identifier: str,
        challenge: bytes,
        data: bytes,
        usage: KeyUsage = KeyUsage.LINE_MAC,
    ) -> bytes:
        return await self._compute(usage, card_identifier, psam_apdu.mac(challenge, data))

    async def _compute(self, usage: KeyUsage, card_identifier: str, command: CommandApdu) -> bytes:
        factor = crypto.diversification_factor(card_identifier)
        await _exchange(self._connection, psam_apdu.init_crypt(usage, factor), "PSAM init")
        self._counter = (self._counter + 1) % COUNTER_MODULUS
        return await _exchange(self._connection, command, "PSAM compute")


async def _exchange(connection: CardConnection, command: CommandApdu, name: str) -> bytes:
    response = ResponseApdu.parse(await connection.transmit(command.to_bytes()))
    raise_for_status(interpret(response.sw1, response.sw2), name)
    return response.data


async def _read(connection: CardConnection, file_id: int, length: int) -> bytes:
    await _exchange(connection, psam_apdu.select(file_id), f"SELECT EF {file_id:04X}")
    return await _exchange(connection, psam_apdu.read_binary(length), f"READ EF {file_id:04X}")
