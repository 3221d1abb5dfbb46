"""A simulated social security card: the chip's command set, executed from APDU bytes.

:class:`SimulatedCard` is not a mock: it parses each command APDU, enforces the
same rules as the chip and answers response bytes with real status words, so the
encoder, the vpcd bridge and pcscd talk to it exactly as they would to a card.

Life cycle. The card manufacturer initialises a chip with its card identifier
(EF05 tag 01) and its diversified keys, one per :class:`~printers.devices.chip.crypto.KeyUsage`;
:meth:`SimulatedCard.issue_blank` does the same from the master keys. A blank card
therefore knows its identifier and keys, has the default PIN 123456 with 3 tries,
and nothing else; personalisation writes the other records. Tag 01 cannot be
rewritten (``69 85``).

Behaviour (transmission protocol T=0, as the ATR says):

* SELECT by AID answers ``61 xx``; the FCI (``6F { 84 <AID> }``) comes with GET RESPONSE.
  Selecting the application clears the security state. SELECT EF (``00 A4 02 0C``)
  chooses EF05 or EF06 for READ/UPDATE RECORD.
* A READ RECORD whose Le differs from the record length answers ``6C xx``.
* GET CHALLENGE gives 8 random bytes; a challenge is single use: the next EXTERNAL
  AUTHENTICATE, UPDATE RECORD or PIN RELOAD consumes it, whether it succeeds or not.
* EXTERNAL AUTHENTICATE compares the cryptogram with its own (``63 00`` if wrong).
* UPDATE RECORD needs CLA ``04``, a successful external authentication and a MAC
  under the line protection key with the current challenge (``69 82`` / ``69 88``).
* VERIFY / CHANGE PIN count wrong PINs: ``63 C2``, ``63 C1``, then ``69 83`` blocked.
  RELOAD PIN (with a MAC under the PIN reload key) sets a new PIN and restores the tries.

Faults for tests (:class:`CardFaults`): a write that fails with a given status word
at the N-th authorised UPDATE RECORD, and a mute card (no ATR, no answers).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from printers.devices.chip import apdu, crypto, tlv
from printers.devices.chip.apdu import Cla, CommandApdu, Ins, PinOperation, ResponseApdu, SelectBy
from printers.devices.chip.crypto import BlockCipher, CipherSuite, KeyUsage
from printers.devices.chip.files import (
    CARD_NUMBER_TAG,
    SPECS_BY_TAG,
    Ef,
    Record,
    Writer,
    blank_records,
)
from printers.devices.chip.status import CardMute, Status, status_word
from sscard_core.errors import ProtocolError, TransportError

DEFAULT_PIN = "123456"
PIN_TRIES = 3
ATR = bytes.fromhex("3B6B0000") + b"\x80\x59" + b"SSCARD300"  # T=0, historical: issuer data
FCI_TAG = 0x6F
DF_NAME_TAG = 0x84

Challenges = Callable[[int], bytes]
_KNOWN_CLASSES = frozenset(Cla)


@dataclass(frozen=True)
class CardFaults:
    """Faults to inject: a failing write (1-based count of authorised writes), muteness,
    a foreign card (no SSSE application: SELECT answers ``6A 82``) or a card that is not
    blank (it already carries ``card_number``)."""

    fail_write_at: int | None = None
    write_failure: Status = Status.MEMORY_FAILURE
    mute: bool = False
    foreign: bool = False
    card_number: str | None = None


@dataclass
class _Session:
    """Volatile state, cleared by a reset or by selecting the application."""

    app_selected: bool = False
    current_ef: Ef | None = None
    challenge: bytes | None = None
    authenticated: bool = False
    pending: bytes | None = None  # response data waiting for GET RESPONSE


def reply(status: Status, data: bytes = b"", sw2: int | None = None) -> ResponseApdu:
    word = status_word(status, sw2)
    return ResponseApdu(data, word.sw1, word.sw2)


def _valid_pin(value: bytes) -> bool:
    digits = value.hex()
    if digits.endswith("f"):
        digits = digits[:-1]
    return (
        digits.isdigit() and len(digits) in apdu.PIN_DIGITS and len(value) == -(-len(digits) // 2)
    )


Handler = Callable[["SimulatedCard", CommandApdu], ResponseApdu]


@dataclass(frozen=True)
class CommandRule:
    """One instruction the card knows: the classes it accepts and the method that runs it."""

    ins: Ins
    classes: frozenset[int]
    handler: Handler
    needs_application: bool = True


class SimulatedCard:
    """A social security card chip in software; see the module docstring."""

    RULES: ClassVar[Mapping[int, CommandRule]]

    def __init__(
        self,
        card_keys: Mapping[KeyUsage, bytes],
        records: Iterable[Record],
        *,
        suite: CipherSuite = CipherSuite.SM4,
        faults: CardFaults | None = None,
        challenges: Challenges = os.urandom,
    ) -> None:
        crypto.check_master_keys(card_keys)
        self._ciphers = {usage: crypto.make_cipher(suite, key) for usage, key in card_keys.items()}
        self._records: dict[int, bytes] = {record.tag: record.value for record in records}
        self._faults = faults or CardFaults()
        self._challenges = challenges
        self._pin = apdu.encode_pin(DEFAULT_PIN)
        self._tries = PIN_TRIES
        self._writes = 0
        self._session = _Session()

    @classmethod
    def issue_blank(
        cls,
        master_keys: Mapping[KeyUsage, bytes],
        card_identifier: str,
        *,
        suite: CipherSuite = CipherSuite.SM4,
        faults: CardFaults | None = None,
        challenges: Challenges = os.urandom,
    ) -> SimulatedCard:
        """A blank card as the manufacturer ships it: identifier and diversified keys."""
        keys = {u: crypto.card_key(suite, k, card_identifier) for u, k in master_keys.items()}
        records = blank_records(card_identifier)
        if faults is not None and faults.card_number is not None:
            spec = SPECS_BY_TAG[CARD_NUMBER_TAG]
            number = faults.card_number.encode("ascii").ljust(spec.size)
            records.append(Record(spec.ef, spec.tag, number))
        return cls(keys, records, suite=suite, faults=faults, challenges=challenges)

    def __repr__(self) -> str:
        return f"SimulatedCard(records={sorted(self._records)}, tries={self._tries})"

    @property
    def atr(self) -> bytes:
        return b"" if self._faults.mute else ATR

    @property
    def pin_tries_left(self) -> int:
        return self._tries

    def record(self, tag: int) -> bytes | None:
        """The stored value of a record (for inspection), or None."""
        return self._records.get(tag)

    def reset(self) -> None:
        """Cold or warm reset: the volatile state is lost, the files and PIN stay."""
        self._session = _Session()

    def transmit(self, raw: bytes) -> bytes:
        """Execute one command APDU and return the response APDU (data + SW)."""
        if self._faults.mute:
            return b""
        try:
            command = CommandApdu.parse(raw)
        except ProtocolError:
            return reply(Status.WRONG_LENGTH).to_bytes()
        return self._dispatch(command).to_bytes()

    def _dispatch(self, command: CommandApdu) -> ResponseApdu:
        if command.cla not in _KNOWN_CLASSES:
            return reply(Status.CLA_NOT_SUPPORTED)
        rule = self.RULES.get(command.ins)
        if rule is None:
            return reply(Status.INS_NOT_SUPPORTED)
        if command.cla not in rule.classes:
            return reply(Status.CLA_NOT_SUPPORTED)
        if rule.ins is not Ins.GET_RESPONSE:
            self._session.pending = None
        if rule.needs_application and not self._session.app_selected:
            return reply(Status.CONDITIONS_NOT_SATISFIED)
        return rule.handler(self, command)

    # --- selection ---------------------------------------------------------

    def _select(self, command: CommandApdu) -> ResponseApdu:
        if command.p1 == SelectBy.DF_NAME:
            return self._select_application(command.data)
        if command.p1 == SelectBy.CHILD_EF:
            return self._select_ef(command.data)
        return reply(Status.WRONG_P1P2)

    def _select_application(self, name: bytes) -> ResponseApdu:
        if name != apdu.SSSE_AID or self._faults.foreign:
            return reply(Status.FILE_NOT_FOUND)
        fci = tlv.encode_tlv(FCI_TAG, tlv.encode_tlv(DF_NAME_TAG, name))
        self._session = _Session(app_selected=True, pending=fci)
        return reply(Status.MORE_DATA, sw2=len(fci))

    def _select_ef(self, file_id: bytes) -> ResponseApdu:
        if not self._session.app_selected:
            return reply(Status.FILE_NOT_FOUND)
        if len(file_id) != 2:
            return reply(Status.WRONG_LENGTH)
        try:
            self._session.current_ef = Ef(int.from_bytes(file_id, "big"))
        except ValueError:
            return reply(Status.FILE_NOT_FOUND)
        return reply(Status.OK)

    def _get_response(self, command: CommandApdu) -> ResponseApdu:
        pending = self._session.pending
        if pending is None:
            return reply(Status.CONDITIONS_NOT_SATISFIED)
        if command.le != len(pending):
            return reply(Status.WRONG_LE, sw2=len(pending))
        self._session.pending = None
        return reply(Status.OK, pending)

    # --- security ----------------------------------------------------------

    def _get_challenge(self, command: CommandApdu) -> ResponseApdu:
        if command.p1 or command.p2:
            return reply(Status.WRONG_P1P2)
        if command.le != apdu.CHALLENGE_LENGTH:
            return reply(Status.WRONG_LE, sw2=apdu.CHALLENGE_LENGTH)
        challenge = self._challenges(apdu.CHALLENGE_LENGTH)
        self._session.challenge = challenge
        return reply(Status.OK, challenge)

    def _take_challenge(self) -> bytes | None:
        challenge, self._session.challenge = self._session.challenge, None
        return challenge

    def _external_authenticate(self, command: CommandApdu) -> ResponseApdu:
        if command.p2 != KeyUsage.EXTERNAL_AUTH:
            return reply(Status.DATA_NOT_FOUND)
        if len(command.data) != crypto.CRYPTOGRAM_LENGTH:
            return reply(Status.WRONG_LENGTH)
        challenge = self._take_challenge()
        if challenge is None:
            return reply(Status.CONDITIONS_NOT_SATISFIED)
        expected = crypto.cryptogram(self._ciphers[KeyUsage.EXTERNAL_AUTH], challenge)
        self._session.authenticated = crypto.equal(expected, command.data)
        return reply(Status.OK if self._session.authenticated else Status.AUTHENTICATION_FAILED)

    def _check_mac(self, command: CommandApdu, usage: KeyUsage) -> tuple[CommandApdu, Status]:
        """The command without its MAC, and OK or the status to refuse it with."""
        if len(command.data) <= apdu.MAC_LENGTH:
            return command, Status.WRONG_LENGTH
        plain, received = apdu.split_mac(command)
        challenge = self._take_challenge()
        if challenge is None:
            return plain, Status.CONDITIONS_NOT_SATISFIED
        cipher: BlockCipher = self._ciphers[usage]
        expected = crypto.mac(cipher, challenge, apdu.mac_input(plain))
        return plain, Status.OK if crypto.equal(expected, received) else Status.SM_DATA_INCORRECT

    # --- records -----------------------------------------------------------

    def _read_record(self, command: CommandApdu) -> ResponseApdu:
        current = self._session.current_ef
        if current is None:
            return reply(Status.NO_CURRENT_EF)
        if command.p2 != apdu.READ_BY_IDENTIFIER:
            return reply(Status.WRONG_P1P2)
        spec = SPECS_BY_TAG.get(command.p1)
        value = self._records.get(command.p1)
        if spec is None or spec.ef is not current or value is None:
            return reply(Status.RECORD_NOT_FOUND)
        record = tlv.encode_tlv(command.p1, value)
        if command.le != len(record):
            return reply(Status.WRONG_LE, sw2=len(record))
        return reply(Status.OK, record)

    def _update_record(self, command: CommandApdu) -> ResponseApdu:
        session = self._session
        if command.cla != Cla.ISO_SM or not session.authenticated:
            return reply(Status.SECURITY_NOT_SATISFIED)
        if session.current_ef is None:
            return reply(Status.NO_CURRENT_EF)
        if command.p2 != apdu.UPDATE_BY_NUMBER:
            return reply(Status.WRONG_P1P2)
        plain, verdict = self._check_mac(command, KeyUsage.LINE_MAC)
        if verdict is not Status.OK:
            return reply(verdict)
        self._writes += 1
        if self._writes == self._faults.fail_write_at:
            return reply(self._faults.write_failure)
        return self._store(session.current_ef, command.p1, plain.data)

    def _store(self, ef: Ef, tag: int, data: bytes) -> ResponseApdu:
        spec = SPECS_BY_TAG.get(tag)
        if spec is None or spec.ef is not ef:
            return reply(Status.RECORD_NOT_FOUND)
        if spec.writer is not Writer.ISSUER:
            return reply(Status.CONDITIONS_NOT_SATISFIED)
        try:
            obj = tlv.decode_one(data)
        except ProtocolError:
            return reply(Status.WRONG_DATA)
        if obj.tag != tag or len(obj.value) != spec.size:
            return reply(Status.WRONG_DATA)
        self._records[tag] = obj.value
        return reply(Status.OK)

    # --- PIN ---------------------------------------------------------------

    def _check_pin(self, candidate: bytes) -> ResponseApdu | None:
        """None when ``candidate`` is the PIN; otherwise the refusal (and a try is used)."""
        if self._tries == 0:
            return reply(Status.AUTHENTICATION_BLOCKED)
        if crypto.equal(candidate, self._pin):
            self._tries = PIN_TRIES
            return None
        self._tries -= 1
        if self._tries == 0:
            return reply(Status.AUTHENTICATION_BLOCKED)
        return reply(Status.VERIFY_FAILED, sw2=self._tries)

    def _verify(self, command: CommandApdu) -> ResponseApdu:
        if command.p1 or command.p2:
            return reply(Status.WRONG_P1P2)
        return self._check_pin(command.data) or reply(Status.OK)

    def _pin_management(self, command: CommandApdu) -> ResponseApdu:
        if command.p2 == 0 and command.p1 == PinOperation.CHANGE:
            return self._change_pin(command)
        if command.p2 == 0 and command.p1 == PinOperation.RELOAD:
            return self._reload_pin(command)
        return reply(Status.WRONG_P1P2)

    def _change_pin(self, command: CommandApdu) -> ResponseApdu:
        parts = apdu.split_change_pin(command.data)
        if parts is None or not _valid_pin(parts[1]):
            return reply(Status.WRONG_DATA)
        refusal = self._check_pin(parts[0])
        if refusal is not None:
            return refusal
        self._pin = parts[1]
        return reply(Status.OK)

    def _reload_pin(self, command: CommandApdu) -> ResponseApdu:
        plain, verdict = self._check_mac(command, KeyUsage.PIN_RELOAD)
        if verdict is not Status.OK:
            return reply(verdict)
        if not _valid_pin(plain.data):
            return reply(Status.WRONG_DATA)
        self._pin, self._tries = plain.data, PIN_TRIES
        return reply(Status.OK)


_ISO = frozenset({Cla.ISO})
SimulatedCard.RULES = {
    rule.ins: rule
    for rule in (
        CommandRule(Ins.SELECT, _ISO, SimulatedCard._select, needs_application=False),
        CommandRule(Ins.GET_RESPONSE, _ISO, SimulatedCard._get_response, needs_application=False),
        CommandRule(Ins.GET_CHALLENGE, _ISO, SimulatedCard._get_challenge),
        CommandRule(Ins.EXTERNAL_AUTHENTICATE, _ISO, SimulatedCard._external_authenticate),
        CommandRule(Ins.READ_RECORD, _ISO, SimulatedCard._read_record),
        CommandRule(
            Ins.UPDATE_RECORD, frozenset({Cla.ISO, Cla.ISO_SM}), SimulatedCard._update_record
        ),
        CommandRule(Ins.VERIFY, _ISO, SimulatedCard._verify),
        CommandRule(Ins.CHANGE_PIN, frozenset({Cla.PROPRIETARY}), SimulatedCard._pin_management),
    )
}


class InProcessConnection:
    """A connection to a :class:`SimulatedCard` in the same process."""

    def __init__(self, card: SimulatedCard) -> None:
        self.card = card
        self._connected = False

    async def connect(self) -> None:
        self.card.reset()
        if not self.card.atr:
            raise CardMute("the card gave no ATR")
        self._connected = True

    async def disconnect(self) -> None:
        self.card.reset()
        self._connected = False

    async def transmit(self, apdu: bytes) -> bytes:
        if not self._connected:
            raise TransportError("no card session: connect first")
        return self.card.transmit(apdu)
