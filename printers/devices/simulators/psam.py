"""A PSAM in software (see :mod:`printers.devices.chip.psam` for the interface).

It holds the city-level master keys in a private slot, never
returns or prints them, derives the per-card key inside each call (see
:mod:`printers.devices.chip.crypto` for the construction) and counts every operation in its
terminal transaction counter, a 32-bit value that wraps and that the caller copies
into the audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from printers.devices.chip import crypto
from printers.devices.chip.crypto import BlockCipher, CipherSuite, KeyUsage

COUNTER_MODULUS = 1 << 32


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
