"""Symmetric cryptography of the chip: pluggable block ciphers, key diversification, MACs.

Ciphers. :class:`BlockCipher` is the small interface everything else uses; two
implementations sit on ``cryptography``: :class:`Sm4Cipher` (SM4, 16-byte blocks,
third-generation cards) and :class:`TripleDesCipher` (two- or three-key 3DES, 8-byte
blocks, second-generation cards). :func:`make_cipher` picks one by :class:`CipherSuite`.

Key usages. Each :class:`KeyUsage` is a separate key on the card, named by its key
id *(assumed)*: ``01`` external authentication (authorises record writes), ``02`` line
protection MAC (secure messaging of UPDATE RECORD), ``03`` PIN reload.

Diversification *(assumed)*. The three levels above the card (ministry → province →
city) are done before a key reaches the PSAM, which holds the city-level master key
of each usage. Per card, the diversification factor ``D`` is the 16-byte ASCII card
identifier (卡识别码), and the card key is the ECB encryption of ``D`` under the
master key: ``K_card = E_MK(D)`` (one SM4 block, or two 3DES blocks; the result is a
16-byte key either way). :func:`diversify` can be chained for further levels.

MAC (as in the chip document; with SM4 the same construction on 16-byte blocks
*(assumed)*): CBC-MAC over the message padded with ``80 00..`` to a whole number of
blocks (ISO 9797-1 method 2), the initial value being the card's challenge
zero-extended to the block size, and the leftmost 4 bytes of the last block kept.

Cryptogram for EXTERNAL AUTHENTICATE: the challenge zero-extended to 16 bytes,
encrypted in ECB mode under the card's external authentication key.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from enum import Enum, IntEnum, unique
from typing import Protocol

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from sscard_core.errors import ProtocolError

KEY_LENGTH = 16
FACTOR_LENGTH = 16
CRYPTOGRAM_LENGTH = 16
MAC_LENGTH = 4
PAD_START = b"\x80"


@unique
class CipherSuite(Enum):
    SM4 = "sm4"
    TDES = "3des"


@unique
class KeyUsage(IntEnum):
    """Card keys by usage; the value is the key id on the card *(assumed)*."""

    EXTERNAL_AUTH = 0x01
    LINE_MAC = 0x02
    PIN_RELOAD = 0x03


class BlockCipher(Protocol):
    """A block cipher keyed once, encrypting whole blocks in ECB mode."""

    @property
    def block_size(self) -> int: ...

    def encrypt(self, data: bytes) -> bytes: ...


class _EcbCipher:
    """ECB encryption with one reusable context (ECB keeps no state between blocks)."""

    def __init__(self, context: CipherContext, block_size: int) -> None:
        self._context = context
        self._block_size = block_size

    @property
    def block_size(self) -> int:
        return self._block_size

    def encrypt(self, data: bytes) -> bytes:
        if len(data) % self._block_size:
            raise ProtocolError(f"{len(data)} bytes are not whole {self._block_size}-byte blocks")
        return self._context.update(data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key=<hidden>)"


class Sm4Cipher(_EcbCipher):
    """SM4 (GB/T 32907), 128-bit key, 16-byte blocks."""

    def __init__(self, key: bytes) -> None:
        _check_key(key, (16,))
        super().__init__(Cipher(algorithms.SM4(key), modes.ECB()).encryptor(), 16)


class TripleDesCipher(_EcbCipher):
    """3DES EDE, 16-byte (K1 K2 K1) or 24-byte keys, 8-byte blocks."""

    def __init__(self, key: bytes) -> None:
        _check_key(key, (16, 24))
        full = key + key[:8] if len(key) == 16 else key
        super().__init__(Cipher(TripleDES(full), modes.ECB()).encryptor(), 8)


def _check_key(key: bytes, lengths: tuple[int, ...]) -> None:
    if len(key) not in lengths:
        raise ProtocolError(f"a key of {len(key)} bytes; expected {' or '.join(map(str, lengths))}")


_SUITES: Mapping[CipherSuite, Callable[[bytes], BlockCipher]] = {
    CipherSuite.SM4: Sm4Cipher,
    CipherSuite.TDES: TripleDesCipher,
}


def make_cipher(suite: CipherSuite, key: bytes) -> BlockCipher:
    return _SUITES[suite](key)


def diversification_factor(card_identifier: str) -> bytes:
    """The 16-byte factor of one card: its identifier in ASCII *(assumed)*."""
    factor = card_identifier.encode("ascii", errors="replace")
    if len(factor) != FACTOR_LENGTH or not card_identifier.isascii():
        raise ProtocolError(f"a card identifier is {FACTOR_LENGTH} ASCII characters")
    return factor


def diversify(suite: CipherSuite, master_key: bytes, factor: bytes) -> bytes:
    """One level of diversification: ``E_master(factor)`` in ECB mode."""
    if len(factor) != FACTOR_LENGTH:
        raise ProtocolError(f"a diversification factor is {FACTOR_LENGTH} bytes")
    return make_cipher(suite, master_key).encrypt(factor)


def card_key(suite: CipherSuite, master_key: bytes, card_identifier: str) -> bytes:
    return diversify(suite, master_key, diversification_factor(card_identifier))


def pad(data: bytes, block_size: int) -> bytes:
    """ISO 9797-1 method 2: ``80`` then zeros to a whole number of blocks (always adds)."""
    padded = data + PAD_START
    return padded + bytes(-len(padded) % block_size)


def extend(challenge: bytes, size: int) -> bytes:
    """The challenge zero-extended (right) to ``size`` bytes."""
    if len(challenge) > size:
        raise ProtocolError(f"a challenge of {len(challenge)} bytes is longer than {size}")
    return challenge + bytes(size - len(challenge))


def _xor(left: bytes, right: bytes) -> bytes:
    return (int.from_bytes(left, "big") ^ int.from_bytes(right, "big")).to_bytes(len(left), "big")


def cbc_mac(cipher: BlockCipher, iv: bytes, data: bytes) -> bytes:
    """The last block of the CBC encryption of ``pad(data)`` with initial value ``iv``."""
    size = cipher.block_size
    padded = pad(data, size)
    state = iv
    for offset in range(0, len(padded), size):
        state = cipher.encrypt(_xor(state, padded[offset : offset + size]))
    return state


def mac(cipher: BlockCipher, challenge: bytes, data: bytes) -> bytes:
    """The 4-byte MAC of ``data`` under the card's challenge (see the module docstring)."""
    return cbc_mac(cipher, extend(challenge, cipher.block_size), data)[:MAC_LENGTH]


def cryptogram(cipher: BlockCipher, challenge: bytes) -> bytes:
    """The EXTERNAL AUTHENTICATE cryptogram: ``E_K(challenge || 00..)`` over 16 bytes."""
    return cipher.encrypt(extend(challenge, CRYPTOGRAM_LENGTH))


def equal(left: bytes, right: bytes) -> bool:
    """Constant-time comparison for MACs and cryptograms."""
    return hmac.compare_digest(left, right)


def check_master_keys(master_keys: Mapping[KeyUsage, bytes]) -> None:
    """Every usage has a 16-byte key (raises :class:`ProtocolError` naming no key bytes)."""
    for usage in KeyUsage:
        key = master_keys.get(usage)
        if key is None or len(key) != KEY_LENGTH:
            raise ProtocolError(f"the {usage.name} master key must be {KEY_LENGTH} bytes")
