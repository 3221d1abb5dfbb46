"""The PSAM: the secure access module that holds the master keys at the outlet.

The encoder never sees a key. It hands the PSAM the card identifier and the
card's challenge, and gets back a cryptogram (for EXTERNAL AUTHENTICATE) or a
4-byte MAC (for a secure-messaging command). :class:`Psam` is that interface; a
hardware PSAM behind a second reader implements it with its own APDUs.

:class:`SimulatedPsam` holds the city-level master keys in a private slot, never
returns or prints them, derives the per-card key inside each call (see
:mod:`printers.chip.crypto` for the construction) and counts every operation in its
terminal transaction counter, a 32-bit value that wraps and that the caller copies
into the audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from printers.chip import crypto
from printers.chip.crypto import BlockCipher, CipherSuite, KeyUsage

COUNTER_MODULUS = 1 << 32


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


class SimulatedPsam:
    """A PSAM in software: same answers as a real one, keys held in memory."""

    __slots__ = ("_counter", "_keys", "_serial", "_suite")

    def __init__(
        self,
        master_keys: Mapping[KeyUsage, bytes],
        suite: CipherSuite = CipherSuite.SM4,
        counter: int = 0,
        serial: str = "SIM-PSAM-0001",
    ) -> None:
        crypto.check_master_keys(master_keys)
        self._keys = MappingProxyType(dict(master_keys))
        self._suite = suite
        self._counter = counter % COUNTER_MODULUS
        self._serial = serial

    @property
    def serial(self) -> str:
        return self._serial

    def __repr__(self) -> str:
        return f"SimulatedPsam(suite={self._suite.value}, counter={self._counter})"

    @property
    def suite(self) -> CipherSuite:
        return self._suite

    @property
    def transaction_counter(self) -> int:
        return self._counter

    def _card_cipher(self, usage: KeyUsage, card_identifier: str) -> BlockCipher:
        self._counter = (self._counter + 1) % COUNTER_MODULUS
        key = crypto.card_key(self._suite, self._keys[usage], card_identifier)
        return crypto.make_cipher(self._suite, key)

    async def cryptogram(self, card_identifier: str, challenge: bytes) -> bytes:
        cipher = self._card_cipher(KeyUsage.EXTERNAL_AUTH, card_identifier)
        return crypto.cryptogram(cipher, challenge)

    async def mac(
        self,
        card_identifier: str,
        challenge: bytes,
        data: bytes,
        usage: KeyUsage = KeyUsage.LINE_MAC,
    ) -> bytes:
        cipher = self._card_cipher(usage, card_identifier)
        return crypto.mac(cipher, challenge, data)
