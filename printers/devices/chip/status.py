"""ISO 7816-4 status words as a data table, and the error a card's refusal becomes.

Every response APDU ends in a status word ``SW1 SW2``. Rather than a chain of
``if`` tests, the meanings live in :data:`STATUS_TABLE`, rows matched in order:
a row matches when ``SW1`` is equal and ``SW2 & mask == sw2`` (so ``63 Cx`` is one
row with mask ``F0``, and ``61 xx`` one row with mask ``00``). The first matching
row wins, so specific rows come before general ones.

:func:`interpret` turns two bytes into a :class:`StatusWord`; :func:`raise_for_status`
raises :class:`CardStatusError` (an :class:`sscard_core.errors.ChipError`) for anything
that is not ``90 00``. The encoder handles the two "continue" rows itself
(``61 xx`` → GET RESPONSE, ``6C xx`` → repeat with the right Le) before checking.
The simulated card uses the same table to name the status words it answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, unique

from sscard_core.errors import ChipError


@unique
class Status(Enum):
    """What a status word means, independent of its exact bytes."""

    OK = "ok"
    MORE_DATA = "more_data"
    WRONG_LE = "wrong_le"
    AUTHENTICATION_FAILED = "authentication_failed"
    VERIFY_FAILED = "verify_failed"
    MEMORY_FAILURE = "memory_failure"
    WRONG_LENGTH = "wrong_length"
    SECURITY_NOT_SATISFIED = "security_not_satisfied"
    AUTHENTICATION_BLOCKED = "authentication_blocked"
    CONDITIONS_NOT_SATISFIED = "conditions_not_satisfied"
    NO_CURRENT_EF = "no_current_ef"
    SM_DATA_INCORRECT = "sm_data_incorrect"
    WRONG_DATA = "wrong_data"
    FILE_NOT_FOUND = "file_not_found"
    RECORD_NOT_FOUND = "record_not_found"
    WRONG_P1P2 = "wrong_p1p2"
    DATA_NOT_FOUND = "data_not_found"
    INS_NOT_SUPPORTED = "ins_not_supported"
    CLA_NOT_SUPPORTED = "cla_not_supported"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class StatusRow:
    """One row of the status table: which SW1/SW2 it matches and what they mean."""

    sw1: int
    sw2: int
    mask: int
    status: Status
    meaning: str

    def matches(self, sw1: int, sw2: int) -> bool:
        return sw1 == self.sw1 and (sw2 & self.mask) == self.sw2


STATUS_TABLE: tuple[StatusRow, ...] = (
    StatusRow(0x90, 0x00, 0xFF, Status.OK, "normal processing"),
    StatusRow(0x61, 0x00, 0x00, Status.MORE_DATA, "response bytes available (GET RESPONSE)"),
    StatusRow(0x6C, 0x00, 0x00, Status.WRONG_LE, "wrong Le; SW2 gives the exact length"),
    StatusRow(0x63, 0x00, 0xFF, Status.AUTHENTICATION_FAILED, "authentication failed"),
    StatusRow(
        0x63, 0xC0, 0xF0, Status.VERIFY_FAILED, "verification failed; SW2 low nibble = tries left"
    ),
    StatusRow(0x65, 0x81, 0xFF, Status.MEMORY_FAILURE, "memory failure (write did not take)"),
    StatusRow(0x67, 0x00, 0xFF, Status.WRONG_LENGTH, "wrong length"),
    StatusRow(0x69, 0x82, 0xFF, Status.SECURITY_NOT_SATISFIED, "security status not satisfied"),
    StatusRow(0x69, 0x83, 0xFF, Status.AUTHENTICATION_BLOCKED, "authentication method blocked"),
    StatusRow(0x69, 0x85, 0xFF, Status.CONDITIONS_NOT_SATISFIED, "conditions of use not satisfied"),
    StatusRow(0x69, 0x86, 0xFF, Status.NO_CURRENT_EF, "command not allowed (no current EF)"),
    StatusRow(
        0x69, 0x88, 0xFF, Status.SM_DATA_INCORRECT, "secure messaging data incorrect (bad MAC)"
    ),
    StatusRow(0x6A, 0x80, 0xFF, Status.WRONG_DATA, "incorrect parameters in the data field"),
    StatusRow(0x6A, 0x82, 0xFF, Status.FILE_NOT_FOUND, "file or application not found"),
    StatusRow(0x6A, 0x83, 0xFF, Status.RECORD_NOT_FOUND, "record not found"),
    StatusRow(0x6A, 0x86, 0xFF, Status.WRONG_P1P2, "incorrect parameters P1-P2"),
    StatusRow(0x6A, 0x88, 0xFF, Status.DATA_NOT_FOUND, "referenced data (key) not found"),
    StatusRow(0x6D, 0x00, 0xFF, Status.INS_NOT_SUPPORTED, "instruction not supported"),
    StatusRow(0x6E, 0x00, 0xFF, Status.CLA_NOT_SUPPORTED, "class not supported"),
)

_UNKNOWN_MEANING = "unknown status word"


@dataclass(frozen=True)
class StatusWord:
    """A status word with its meaning looked up in :data:`STATUS_TABLE`."""

    sw1: int
    sw2: int
    status: Status
    meaning: str

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def tries_left(self) -> int | None:
        """Tries left after a failed verification (``63 Cx``), or 0 once blocked."""
        if self.status is Status.VERIFY_FAILED:
            return self.sw2 & 0x0F
        if self.status is Status.AUTHENTICATION_BLOCKED:
            return 0
        return None

    def to_bytes(self) -> bytes:
        return bytes((self.sw1, self.sw2))

    def __str__(self) -> str:
        return f"{self.sw1:02X} {self.sw2:02X} ({self.meaning})"


def interpret(sw1: int, sw2: int) -> StatusWord:
    """Look a status word up in the table; unknown ones map to :attr:`Status.UNKNOWN`."""
    for row in STATUS_TABLE:
        if row.matches(sw1, sw2):
            return StatusWord(sw1, sw2, row.status, row.meaning)
    return StatusWord(sw1, sw2, Status.UNKNOWN, _UNKNOWN_MEANING)


def status_word(status: Status, sw2: int | None = None) -> StatusWord:
    """The status word a card answers for ``status`` (``sw2`` fills masked bits, e.g. tries)."""
    for row in STATUS_TABLE:
        if row.status is status:
            low = 0 if sw2 is None else sw2 & ~row.mask & 0xFF
            return StatusWord(row.sw1, row.sw2 | low, row.status, row.meaning)
    raise ValueError(f"no status word for {status}")


class CardStatusError(ChipError):
    """The card answered a status word other than ``90 00``."""

    code = "chip_status"

    def __init__(self, sw: StatusWord, command: str) -> None:
        super().__init__(
            f"{command}: card answered {sw}",
            sw1=sw.sw1,
            sw2=sw.sw2,
            meaning=sw.meaning,
            tries_left=sw.tries_left,
            command=command,
        )
        self.sw1 = sw.sw1
        self.sw2 = sw.sw2
        self.status = sw.status
        self.meaning = sw.meaning
        self.tries_left = sw.tries_left
        self.command = command


class CardMute(ChipError):
    """The card gave no answer at all (no ATR or an empty response)."""

    code = "chip_mute"


class ReadBackMismatch(ChipError):
    """What the card returned after personalisation differs from what was written."""

    code = "chip_read_back_mismatch"

    def __init__(self, fields: tuple[str, ...]) -> None:
        super().__init__(f"read back differs in {', '.join(fields)}", mismatched=list(fields))
        self.mismatched = fields


class WrongCard(ChipError):
    """The card in the encoder is not the one the job is for."""

    code = "chip_wrong_card"


def raise_for_status(sw: StatusWord, command: str) -> None:
    """Raise :class:`CardStatusError` unless ``sw`` is ``90 00``."""
    if not sw.ok:
        raise CardStatusError(sw, command)
