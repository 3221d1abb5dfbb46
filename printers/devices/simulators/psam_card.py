"""A simulated PSAM card: the PSAM's commands (:mod:`printers.devices.chip.psam_apdu`) from bytes.

Like :class:`~printers.devices.simulators.chip_card.SimulatedCard`, it parses each command and
answers real status words, so it can sit behind vpcd in a second PC/SC reader
and the driver (:class:`~printers.devices.chip.pcsc_psam.CardPsam`) talks to it as to a
physical PSAM. It holds the master keys, never returns them, and derives each
card key inside the initialisation command; a computation without a preceding
initialisation answers ``69 85``. A reset forgets the initialisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from printers.devices.chip import crypto, psam_apdu
from printers.devices.chip.apdu import CommandApdu, Ins, ResponseApdu
from printers.devices.chip.crypto import BlockCipher, CipherSuite, KeyUsage
from printers.devices.chip.status import Status, status_word
from sscard_core.errors import ProtocolError

ATR = bytes.fromhex("3B6900") + b"SSPSAM300"  # T=0, historical bytes name it


def _reply(status: Status, data: bytes = b"") -> bytes:
    word = status_word(status)
    return ResponseApdu(data, word.sw1, word.sw2).to_bytes()


@dataclass
class _Session:
    current_ef: int | None = None
    cipher: BlockCipher | None = None


class SimulatedPsamCard:
    """A PSAM card with its files and keys, answering APDU bytes (a vpcd ``VirtualCard``)."""

    def __init__(
        self,
        master_keys: Mapping[KeyUsage, bytes],
        serial: str,
        *,
        terminal: str = "000000000000",
        suite: CipherSuite = CipherSuite.SM4,
        key_version: int = 1,
    ) -> None:
        crypto.check_master_keys(master_keys)
        self._keys = dict(master_keys)
        self._suite = suite
        self._files = {
            psam_apdu.INFO_EF: psam_apdu.info_bytes(serial, key_version, suite),
            psam_apdu.TERMINAL_EF: bytes.fromhex(terminal),
        }
        self._session = _Session()
        self.operations = 0

    @property
    def atr(self) -> bytes:
        return ATR

    def reset(self) -> None:
        self._session = _Session()

    def transmit(self, raw: bytes) -> bytes:
        try:
            command = CommandApdu.parse(raw)
        except ProtocolError:
            return _reply(Status.WRONG_LENGTH)
        if command.cla == 0x00 and command.ins == Ins.SELECT:
            return self._select(command)
        if command.cla == 0x00 and command.ins == psam_apdu.INS_READ_BINARY:
            return self._read(command)
        if command.cla == psam_apdu.CLA_PROPRIETARY and command.ins == psam_apdu.INS_INIT_CRYPT:
            return self._init(command)
        if command.cla == psam_apdu.CLA_PROPRIETARY and command.ins == psam_apdu.INS_CRYPT:
            return self._crypt(command)
        return _reply(Status.INS_NOT_SUPPORTED)

    def _select(self, command: CommandApdu) -> bytes:
        file_id = int.from_bytes(command.data, "big") if len(command.data) == 2 else None
        if file_id not in self._files:
            return _reply(Status.FILE_NOT_FOUND)
        self._session.current_ef = file_id
        return _reply(Status.OK)

    def _read(self, command: CommandApdu) -> bytes:
        if self._session.current_ef is None:
            return _reply(Status.NO_CURRENT_EF)
        content = self._files[self._session.current_ef]
        return _reply(Status.OK, content[: command.le or len(content)])

    def _init(self, command: CommandApdu) -> bytes:
        try:
            usage = KeyUsage(command.p1)
        except ValueError:
            return _reply(Status.DATA_NOT_FOUND)
        if len(command.data) != crypto.FACTOR_LENGTH:
            return _reply(Status.WRONG_LENGTH)
        key = crypto.diversify(self._suite, self._keys[usage], command.data)
        self._session.cipher = crypto.make_cipher(self._suite, key)
        return _reply(Status.OK)

    def _crypt(self, command: CommandApdu) -> bytes:
        cipher = self._session.cipher
        if cipher is None:
            return _reply(Status.CONDITIONS_NOT_SATISFIED)
        challenge = command.data[: psam_apdu.CHALLENGE_LENGTH]
        if len(challenge) != psam_apdu.CHALLENGE_LENGTH:
            return _reply(Status.WRONG_LENGTH)
        if command.p1 == psam_apdu.CryptMode.CRYPTOGRAM and len(command.data) == len(challenge):
            result = crypto.cryptogram(cipher, challenge)
        elif command.p1 == psam_apdu.CryptMode.MAC:
            result = crypto.mac(cipher, challenge, command.data[len(challenge) :])
        else:
            return _reply(Status.WRONG_P1P2)
        self.operations += 1
        return _reply(Status.OK, result)
