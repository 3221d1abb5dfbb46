"""The PSAM's commands, as bytes: what a host sends a PSAM card and how it reads the answers.

Pure code: builds command APDUs and parses response data; the connection that
carries them is elsewhere (:mod:`printers.devices.chip.pcsc_psam`). The layout follows
the PBOC-style PSAM of ``docs/sscard-chip.md``:

* EF 0015 (public basic information, read without keys): the PSAM's serial (10
  bytes, shown as 20 hex digits), the key version (1 byte) and the algorithm
  (1 byte: ``04`` SM4, ``01`` 3DES), then 2 reserved bytes *(assumed layout)*.
* EF 0016: the 6-byte number of the terminal the PSAM was installed in.
* ``80 1A <usage> 00 <factor>`` (general cipher initialisation, 通用DES计算初始化):
  derive the card key of ``usage`` (the :class:`~printers.devices.chip.crypto.KeyUsage`
  value) from the card's 16-byte diversification factor.
* ``80 FA <mode> 00 <data> 00`` (general cipher computation, 通用DES计算):
  mode ``00`` encrypts the card's 8-byte challenge into the 16-byte external
  authentication cryptogram; mode ``05`` answers the 4-byte MAC of the data
  that follows the 8-byte challenge (the challenge is the MAC's initial value)
  *(assumed modes)*.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from printers.devices.chip import apdu
from printers.devices.chip.apdu import CommandApdu
from printers.devices.chip.crypto import CipherSuite, KeyUsage
from sscard_core.errors import ProtocolError

INFO_EF = 0x0015
TERMINAL_EF = 0x0016
SERIAL_LENGTH = 10
INFO_LENGTH = 14
TERMINAL_LENGTH = 6
CHALLENGE_LENGTH = 8
CLA_PROPRIETARY = 0x80
INS_READ_BINARY = 0xB0
INS_INIT_CRYPT = 0x1A
INS_CRYPT = 0xFA
ALGORITHMS = {0x04: CipherSuite.SM4, 0x01: CipherSuite.TDES}
ALGORITHM_CODES = {suite: code for code, suite in ALGORITHMS.items()}


class CryptMode(IntEnum):
    CRYPTOGRAM = 0x00
    MAC = 0x05


@dataclass(frozen=True)
class PsamInfo:
    """What EF 0015 says of the PSAM."""

    serial: str  # 20 upper-case hex digits
    key_version: int
    suite: CipherSuite


def select(file_id: int) -> CommandApdu:
    return apdu.select_ef(file_id)


def read_binary(length: int) -> CommandApdu:
    return CommandApdu(0x00, INS_READ_BINARY, 0x00, 0x00, le=length)


def init_crypt(usage: KeyUsage, factor: bytes) -> CommandApdu:
    return CommandApdu(CLA_PROPRIETARY, INS_INIT_CRYPT, int(usage), 0x00, factor)


def cryptogram(challenge: bytes) -> CommandApdu:
    if len(challenge) != CHALLENGE_LENGTH:
        raise ProtocolError(f"a card challenge is {CHALLENGE_LENGTH} bytes")
    return CommandApdu(CLA_PROPRIETARY, INS_CRYPT, CryptMode.CRYPTOGRAM, 0x00, challenge, le=256)


def mac(challenge: bytes, data: bytes) -> CommandApdu:
    if len(challenge) != CHALLENGE_LENGTH:
        raise ProtocolError(f"a card challenge is {CHALLENGE_LENGTH} bytes")
    return CommandApdu(CLA_PROPRIETARY, INS_CRYPT, CryptMode.MAC, 0x00, challenge + data, le=256)


def info_bytes(serial: str, key_version: int, suite: CipherSuite) -> bytes:
    """EF 0015 as a PSAM holds it (the simulated PSAM card writes it with this)."""
    raw = bytes.fromhex(serial)
    if len(raw) != SERIAL_LENGTH:
        raise ProtocolError(f"a PSAM serial is {SERIAL_LENGTH} bytes ({2 * SERIAL_LENGTH} digits)")
    return raw + bytes((key_version, ALGORITHM_CODES[suite], 0, 0))


def parse_info(data: bytes) -> PsamInfo:
    if len(data) < SERIAL_LENGTH + 2:
        raise ProtocolError(f"EF 0015 of {len(data)} bytes is too short")
    suite = ALGORITHMS.get(data[SERIAL_LENGTH + 1])
    if suite is None:
        raise ProtocolError(f"unknown PSAM algorithm {data[SERIAL_LENGTH + 1]:#04x}")
    return PsamInfo(data[:SERIAL_LENGTH].hex().upper(), data[SERIAL_LENGTH], suite)


def parse_terminal(data: bytes) -> str:
    if len(data) != TERMINAL_LENGTH:
        raise ProtocolError(f"EF 0016 of {len(data)} bytes is not a terminal number")
    return data.hex().upper()
