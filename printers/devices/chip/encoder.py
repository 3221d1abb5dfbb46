"""The chip encoder: personalises a social security card through any card connection.

:class:`ChipEncoder` speaks to a card through a :class:`CardConnection` (bytes in,
bytes out: :class:`~printers.devices.simulators.chip_card.InProcessConnection` for the
simulated card, or
:class:`printers.devices.chip.pcsc.PcscConnection` for a PC/SC reader) and gets every
cryptogram and MAC from a :class:`~printers.devices.chip.psam.Psam`; it never holds a key.

Personalisation, in one card session:

1. SELECT the SSSE application (``61 xx`` → GET RESPONSE for the FCI, whose DF name
   must be the SSSE AID);
   A card without the application (``6A 82``) is not a social security card
   (:class:`NotSocialSecurityCard`: wrong card stock, every card after it will
   fail the same way);
2. SELECT EF05 and READ RECORD tag 01, the card identifier the manufacturer wrote;
   it must equal the job's, or the card is the wrong one (:class:`WrongCard`);
   and READ RECORD tag 07: a blank card has no card number yet, a card that has
   one was personalised before (:class:`CardNotBlank`);
3. GET CHALLENGE, ask the PSAM for the cryptogram, EXTERNAL AUTHENTICATE;
4. for every record of :func:`printers.devices.chip.files.personalise`: GET CHALLENGE, then
   UPDATE RECORD with secure messaging, its MAC computed by the PSAM with that
   challenge as initial value. A fresh challenge per write (rather than one for the
   session) costs one more APDU per record, but the card accepts each MAC exactly
   once, so no recorded write can be replayed, even within the session;
5. read every record of EF05 and EF06 back and compare the decoded
   :class:`~sscard_core.card_data.CardData` with the job's, field by field.

A status word the table calls an error raises
:class:`~printers.devices.chip.status.CardStatusError`; a warning (``62 xx``, ``63 81``)
keeps the data that came back and is recorded in :attr:`ChipEncoder.warnings`;
a read-back difference raises :class:`~printers.devices.chip.status.ReadBackMismatch`; a card
that does not answer raises :class:`~printers.devices.chip.status.CardMute`. All are
:class:`sscard_core.errors.ChipError`: the caller must reject the card.

``61 xx`` and ``6C xx`` are handled here for every command. PINs are taken as
strings, encoded to BCD at once, and never logged; the debug log names each command
and its status word only.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Protocol

from printers.devices.chip import apdu, tlv
from printers.devices.chip.apdu import CommandApdu, ResponseApdu
from printers.devices.chip.crypto import KeyUsage
from printers.devices.chip.files import (
    CARD_IDENTIFIER_TAG,
    CARD_NUMBER_TAG,
    SPECS_BY_TAG,
    Ef,
    Record,
    personalise,
    read_back,
    specs_of,
)
from printers.devices.chip.psam import Psam
from printers.devices.chip.status import (
    CardMute,
    CardNotBlank,
    CardStatusError,
    NotSocialSecurityCard,
    ReadBackMismatch,
    Severity,
    Status,
    StatusWord,
    WrongCard,
    interpret,
    raise_for_status,
)
from sscard_core.card_data import CardData
from sscard_core.errors import ProtocolError

log = logging.getLogger(__name__)

MAX_EXCHANGES_PER_COMMAND = 8
FCI_TAG = 0x6F
DF_NAME_TAG = 0x84


class CardConnection(Protocol):
    """A channel to one card: power it up, exchange APDU bytes, power it down."""

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def transmit(self, apdu: bytes) -> bytes: ...


@dataclass(frozen=True)
class EncodeResult:
    """What a successful personalisation did, for the audit trail."""

    card_identifier: str
    written_tags: tuple[int, ...]
    psam_counter_before: int
    psam_counter_after: int
    apdu_count: int
    read_back: CardData


def mismatched_fields(expected: CardData, actual: CardData) -> tuple[str, ...]:
    """Names of the CardData fields that differ."""
    return tuple(
        field.name
        for field in dataclasses.fields(CardData)
        if getattr(expected, field.name) != getattr(actual, field.name)
    )


class ChipEncoder:
    """Personalises cards and manages their PINs; see the module docstring."""

    def __init__(self, connection: CardConnection, psam: Psam) -> None:
        self._connection = connection
        self._psam = psam
        self._apdu_count = 0
        self.warnings: list[tuple[str, StatusWord]] = []  # (command, warning) of the last session

    async def personalise(self, card_data: CardData) -> EncodeResult:
        records = personalise(card_data)
        async with self._session():
            counter_before = self._psam.transaction_counter
            await self._select_application()
            identifier = await self._card_identifier()
            if identifier != card_data.card_identifier:
                raise WrongCard(
                    f"the card is {identifier}, the job is for {card_data.card_identifier}"
                )
            await self._check_blank()
            await self._authenticate(identifier)
            await self._write_all(identifier, records)
            actual = read_back(await self._read_all())
            different = mismatched_fields(card_data, actual)
            if different:
                raise ReadBackMismatch(different)
            return EncodeResult(
                card_identifier=identifier,
                written_tags=tuple(record.tag for record in records),
                psam_counter_before=counter_before,
                psam_counter_after=self._psam.transaction_counter,
                apdu_count=self._apdu_count,
                read_back=actual,
            )

    async def read_card(self) -> CardData:
        """Read EF05 and EF06 (no authentication needed) and decode them."""
        async with self._session():
            await self._select_application()
            return read_back(await self._read_all())

    async def verify_pin(self, pin: str) -> None:
        encoded = apdu.encode_pin(pin)
        async with self._session():
            await self._select_application()
            await self._exchange(apdu.verify_pin(encoded), "VERIFY PIN")

    async def change_pin(self, old: str, new: str) -> None:
        """The holder changes the PIN; a wrong old PIN uses up one try (``63 Cx``)."""
        command = apdu.change_pin(apdu.encode_pin(old), apdu.encode_pin(new))
        async with self._session():
            await self._select_application()
            await self._exchange(command, "CHANGE PIN")

    async def reset_pin(self, new: str) -> None:
        """Reload the PIN (forgotten or blocked), authorised by a MAC from the PSAM."""
        command = apdu.reload_pin(apdu.encode_pin(new))
        async with self._session():
            await self._select_application()
            identifier = await self._card_identifier()
            challenge = await self._challenge()
            mac = await self._psam.mac(
                identifier, challenge, apdu.mac_input(command), KeyUsage.PIN_RELOAD
            )
            await self._exchange(apdu.with_mac(command, mac), "RELOAD PIN")

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[None]:
        self._apdu_count = 0
        self.warnings = []
        await self._connection.connect()
        try:
            yield
        finally:
            await self._connection.disconnect()

    async def _transmit(self, command: CommandApdu) -> ResponseApdu:
        raw = await self._connection.transmit(command.to_bytes())
        self._apdu_count += 1
        if not raw:
            raise CardMute("the card did not answer")
        return ResponseApdu.parse(raw)

    async def _exchange(self, command: CommandApdu, name: str) -> bytes:
        """Send ``command``, following ``61 xx`` and ``6C xx``; the data or a ChipError."""
        data = b""
        for _ in range(MAX_EXCHANGES_PER_COMMAND):
            response = await self._transmit(command)
            sw = interpret(response.sw1, response.sw2)
            log.debug("%s: %s", name, sw)
            if sw.status is Status.MORE_DATA:
                data += response.data
                command = apdu.get_response(sw.sw2 or 256)
            elif sw.status is Status.WRONG_LE:
                command = replace(command, le=sw.sw2 or 256)
            else:
                raise_for_status(sw, name)
                if sw.severity is Severity.WARNING:
                    log.info("%s: warning %s; the data is kept", name, sw)
                    self.warnings.append((name, sw))
                return data + response.data
        raise ProtocolError(f"{name}: no final status word after {MAX_EXCHANGES_PER_COMMAND} APDUs")

    async def _select_application(self) -> None:
        try:
            fci = await self._exchange(apdu.select_aid(), "SELECT SSSE")
        except CardStatusError as exc:
            if exc.status is Status.FILE_NOT_FOUND:
                raise NotSocialSecurityCard(
                    "not a social security card: SELECT SSSE answered 6A 82 (no such application)",
                    sw1=exc.sw1,
                    sw2=exc.sw2,
                ) from exc
            raise
        template = tlv.find(fci, FCI_TAG)
        if template is None or tlv.find(template, DF_NAME_TAG) != apdu.SSSE_AID:
            raise ProtocolError("the selected application is not SSSE")

    async def _select_ef(self, ef: Ef) -> None:
        await self._exchange(apdu.select_ef(ef), f"SELECT {ef.name}")

    async def _read_tag(self, tag: int) -> bytes:
        """Read one record, asking for its length in the layout (the card corrects Le)."""
        command = apdu.read_record(tag, le=len(tlv.encode_tlv(tag, bytes(SPECS_BY_TAG[tag].size))))
        obj = tlv.decode_one(await self._exchange(command, f"READ RECORD {tag:02X}"))
        if obj.tag != tag:
            raise ProtocolError(f"asked for record {tag:02X}, got {obj.tag:02X}")
        return obj.value

    async def _card_identifier(self) -> str:
        await self._select_ef(Ef.EF05)
        value = await self._read_tag(CARD_IDENTIFIER_TAG)
        try:
            return value.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ProtocolError("the card identifier is not ASCII") from exc

    async def _check_blank(self) -> None:
        """EF05 (selected) has no card number on a blank card: record absent or zeros."""
        try:
            number = await self._read_tag(CARD_NUMBER_TAG)
        except CardStatusError as exc:
            if exc.status is Status.RECORD_NOT_FOUND:
                return
            raise
        if number.strip(b"\x00\xff"):
            shown = number.decode("ascii", "replace")
            raise CardNotBlank(f"the card is not blank: it already has card number {shown}")

    async def _challenge(self) -> bytes:
        challenge = await self._exchange(apdu.get_challenge(), "GET CHALLENGE")
        if len(challenge) != apdu.CHALLENGE_LENGTH:
            raise ProtocolError(f"a challenge of {len(challenge)} bytes")
        return challenge

    async def _authenticate(self, identifier: str) -> None:
        cryptogram = await self._psam.cryptogram(identifier, await self._challenge())
        command = apdu.external_authenticate(KeyUsage.EXTERNAL_AUTH, cryptogram)
        await self._exchange(command, "EXTERNAL AUTHENTICATE")

    async def _write_all(self, identifier: str, records: Sequence[Record]) -> None:
        current: Ef | None = None
        for record in records:
            if record.ef is not current:
                await self._select_ef(record.ef)
                current = record.ef
            command = apdu.update_record(record.tag, record.tlv)
            mac = await self._psam.mac(identifier, await self._challenge(), apdu.mac_input(command))
            await self._exchange(apdu.with_mac(command, mac), f"UPDATE RECORD {record.tag:02X}")

    async def _read_all(self) -> list[Record]:
        records: list[Record] = []
        for ef in Ef:
            await self._select_ef(ef)
            for spec in specs_of(ef):
                records.append(Record(ef, spec.tag, await self._read_tag(spec.tag)))
        return records
