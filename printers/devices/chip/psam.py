"""The PSAM: the secure access module that holds the master keys at the outlet.

The encoder never sees a key. It hands the PSAM the card identifier and the
card's challenge, and gets back a cryptogram (for EXTERNAL AUTHENTICATE) or a
4-byte MAC (for a secure-messaging command). :class:`Psam` is that interface; a
hardware PSAM behind a second reader implements it with its own APDUs.

:class:`~printers.devices.simulators.psam.SimulatedPsam` is one in software.
"""

from __future__ import annotations

from typing import Protocol

from printers.devices.chip.crypto import KeyUsage


class Psam(Protocol):
    """What the encoder asks of a PSAM."""

    @property
    def serial(self) -> str:
        """The PSAM card's serial, as the service's register knows it (sent with each claim)."""
        ...

    @property
    def transaction_counter(self) -> int:
        """The terminal transaction counter: operations performed so far (mod 2**32)."""
        ...

    async def cryptogram(self, card_identifier: str, challenge: bytes) -> bytes:
        """The EXTERNAL AUTHENTICATE cryptogram for this card and challenge."""
        ...

    async def mac(
        self,
        card_identifier: str,
        challenge: bytes,
        data: bytes,
        usage: KeyUsage = KeyUsage.LINE_MAC,
    ) -> bytes:
        """The 4-byte MAC of ``data`` under the card's ``usage`` key and challenge."""
        ...
