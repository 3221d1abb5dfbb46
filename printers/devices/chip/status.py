"""ISO 7816-4 status words as a data table, and the error a card's refusal becomes.

Every response APDU ends in a status word ``SW1 SW2``. Rather than a chain of
``if`` tests, the meanings live in :data:`STATUS_TABLE` (in the manner of
pyscard's ``ISO7816_4ErrorChecker``), rows matched in order: a row matches
when ``SW1`` is equal and ``SW2 & mask == sw2`` (so ``63 Cx`` is one row with
mask ``F0``, and ``61 xx`` one row with mask ``00``). The first matching row
wins, so specific rows come before general ones. Each row names one
:class:`Status` (one meaning) and one :class:`Severity`:

* ``OK`` (``90 00``) and ``WARNING`` (``62 xx``, ``63 81``): the command was
  processed; any data that came back is kept (``62 82``: end of file reached
  before Le bytes, the shorter data is the answer);
* ``CONTINUE`` (``61 xx`` GET RESPONSE, ``6C xx`` repeat with the right Le),
  handled by the encoder for every command;
* ``ERROR``: everything else, including ``63 00`` and ``63 Cx``, which ISO
  files under warnings but which mean that a verification or authentication
  failed, so the command did not do what was asked.

:func:`interpret` turns two bytes into a :class:`StatusWord`; :func:`check`
returns a response's data for OK and WARNING and raises
:class:`CardStatusError` (an :class:`sscard_core.errors.ChipError`) for ERROR.
The simulated card uses the same table to name the status words it answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, unique

from sscard_core.errors import ChipError, DeviceError


@unique
class Severity(Enum):
    OK = "ok"
    WARNING = "warning"  # processed; the data that came back is kept
    CONTINUE = "continue"  # 61 xx / 6C xx: the exchange goes on
    ERROR = "error"


@unique
class Status(Enum):
    """What a status word means, independent of its exact bytes."""

    OK = "ok"
    MORE_DATA = "more_data"
    WRONG_LE = "wrong_le"
    WARNING = "warning"
    DATA_MAY_BE_CORRUPTED = "data_may_be_corrupted"
    END_OF_FILE = "end_of_file"
    FILE_INVALIDATED = "file_invalidated"
    FCI_NOT_FORMATTED = "fci_not_formatted"
    FILE_TERMINATED = "file_terminated"
    NO_SENSOR_DATA = "no_sensor_data"
    CARD_WARNING = "card_warning"
    AUTHENTICATION_FAILED = "authentication_failed"
    FILE_FILLED_UP = "file_filled_up"
    VERIFY_FAILED = "verify_failed"
    CHANGED_WARNING = "changed_warning"
    EXECUTION_ERROR = "execution_error"
    IMMEDIATE_RESPONSE_REQUIRED = "immediate_response_required"
    CHANGED_ERROR = "changed_error"
    MEMORY_FAILURE = "memory_failure"
    SECURITY_ERROR = "security_error"
    WRONG_LENGTH = "wrong_length"
    CLA_FUNCTION_NOT_SUPPORTED = "cla_function_not_supported"
    LOGICAL_CHANNEL_NOT_SUPPORTED = "logical_channel_not_supported"
    SM_NOT_SUPPORTED = "sm_not_supported"
    LAST_COMMAND_EXPECTED = "last_command_expected"
    CHAINING_NOT_SUPPORTED = "chaining_not_supported"
    COMMAND_NOT_ALLOWED = "command_not_allowed"
    INCOMPATIBLE_FILE_STRUCTURE = "incompatible_file_structure"
    SECURITY_NOT_SATISFIED = "security_not_satisfied"
    AUTHENTICATION_BLOCKED = "authentication_blocked"
    REFERENCE_DATA_NOT_USABLE = "reference_data_not_usable"
    CONDITIONS_NOT_SATISFIED = "conditions_not_satisfied"
    NO_CURRENT_EF = "no_current_ef"
    SM_OBJECTS_MISSING = "sm_objects_missing"
    SM_DATA_INCORRECT = "sm_data_incorrect"
    WRONG_PARAMETERS = "wrong_parameters"
    WRONG_DATA = "wrong_data"
    FUNCTION_NOT_SUPPORTED = "function_not_supported"
    FILE_NOT_FOUND = "file_not_found"
    RECORD_NOT_FOUND = "record_not_found"
    NOT_ENOUGH_MEMORY = "not_enough_memory"
    LC_INCONSISTENT_WITH_TLV = "lc_inconsistent_with_tlv"
    WRONG_P1P2 = "wrong_p1p2"
    LC_INCONSISTENT_WITH_P1P2 = "lc_inconsistent_with_p1p2"
    DATA_NOT_FOUND = "data_not_found"
    FILE_EXISTS = "file_exists"
    DF_NAME_EXISTS = "df_name_exists"
    WRONG_P1P2_OFFSET = "wrong_p1p2_offset"
    INS_NOT_SUPPORTED = "ins_not_supported"
    CLA_NOT_SUPPORTED = "cla_not_supported"
    NO_DIAGNOSIS = "no_diagnosis"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class StatusRow:
    """One row of the status table: which SW1/SW2 it matches and what they mean."""

    sw1: int
    sw2: int
    mask: int
    status: Status
    meaning: str
    severity: Severity = Severity.ERROR

    def matches(self, sw1: int, sw2: int) -> bool:
        return sw1 == self.sw1 and (sw2 & self.mask) == self.sw2


_OK, _WARN, _GO = Severity.OK, Severity.WARNING, Severity.CONTINUE
S = Status

STATUS_TABLE: tuple[StatusRow, ...] = (
    StatusRow(0x90, 0x00, 0xFF, S.OK, "normal processing", _OK),
    StatusRow(0x61, 0x00, 0x00, S.MORE_DATA, "response bytes available (GET RESPONSE)", _GO),
    StatusRow(0x6C, 0x00, 0x00, S.WRONG_LE, "wrong Le; SW2 gives the exact length", _GO),
    # 62: warning, non-volatile memory unchanged
    StatusRow(0x62, 0x00, 0xFF, S.WARNING, "warning, no information given", _WARN),
    StatusRow(0x62, 0x81, 0xFF, S.DATA_MAY_BE_CORRUPTED, "part of the data may be corrupt", _WARN),
    StatusRow(0x62, 0x82, 0xFF, S.END_OF_FILE, "end of file or record reached before Le", _WARN),
    StatusRow(0x62, 0x83, 0xFF, S.FILE_INVALIDATED, "selected file invalidated", _WARN),
    StatusRow(0x62, 0x84, 0xFF, S.FCI_NOT_FORMATTED, "FCI not formatted as ISO 7816-4", _WARN),
    StatusRow(0x62, 0x85, 0xFF, S.FILE_TERMINATED, "selected file in termination state", _WARN),
    StatusRow(0x62, 0x86, 0xFF, S.NO_SENSOR_DATA, "no input data available from a sensor", _WARN),
    StatusRow(0x62, 0x00, 0x00, S.CARD_WARNING, "warning triggered by the card", _WARN),
    # 63: warning, non-volatile memory changed
    StatusRow(0x63, 0x00, 0xFF, S.AUTHENTICATION_FAILED, "verification or authentication failed"),
    StatusRow(0x63, 0x81, 0xFF, S.FILE_FILLED_UP, "file filled up by the last write", _WARN),
    StatusRow(0x63, 0xC0, 0xF0, S.VERIFY_FAILED, "verification failed; SW2 low nibble: tries left"),
    StatusRow(0x63, 0x00, 0x00, S.CHANGED_WARNING, "warning, memory changed", _WARN),
    # 64..66: execution errors
    StatusRow(0x64, 0x01, 0xFF, S.IMMEDIATE_RESPONSE_REQUIRED, "immediate response required"),
    StatusRow(0x64, 0x00, 0x00, S.EXECUTION_ERROR, "execution error, memory unchanged"),
    StatusRow(0x65, 0x81, 0xFF, S.MEMORY_FAILURE, "memory failure (write did not take)"),
    StatusRow(0x65, 0x00, 0x00, S.CHANGED_ERROR, "execution error, memory changed"),
    StatusRow(0x66, 0x00, 0x00, S.SECURITY_ERROR, "security-related error"),
    # 67..6F: checking errors
    StatusRow(0x67, 0x00, 0x00, S.WRONG_LENGTH, "wrong length"),
    StatusRow(0x68, 0x81, 0xFF, S.LOGICAL_CHANNEL_NOT_SUPPORTED, "logical channel not supported"),
    StatusRow(0x68, 0x82, 0xFF, S.SM_NOT_SUPPORTED, "secure messaging not supported"),
    StatusRow(0x68, 0x83, 0xFF, S.LAST_COMMAND_EXPECTED, "last command of the chain expected"),
    StatusRow(0x68, 0x84, 0xFF, S.CHAINING_NOT_SUPPORTED, "command chaining not supported"),
    StatusRow(0x68, 0x00, 0x00, S.CLA_FUNCTION_NOT_SUPPORTED, "function in CLA not supported"),
    StatusRow(0x69, 0x81, 0xFF, S.INCOMPATIBLE_FILE_STRUCTURE, "incompatible with file structure"),
    StatusRow(0x69, 0x82, 0xFF, S.SECURITY_NOT_SATISFIED, "security status not satisfied"),
    StatusRow(0x69, 0x83, 0xFF, S.AUTHENTICATION_BLOCKED, "authentication method blocked"),
    StatusRow(0x69, 0x84, 0xFF, S.REFERENCE_DATA_NOT_USABLE, "reference data not usable"),
    StatusRow(0x69, 0x85, 0xFF, S.CONDITIONS_NOT_SATISFIED, "conditions of use not satisfied"),
    StatusRow(0x69, 0x86, 0xFF, S.NO_CURRENT_EF, "command not allowed (no current EF)"),
    StatusRow(0x69, 0x87, 0xFF, S.SM_OBJECTS_MISSING, "expected secure messaging objects missing"),
    StatusRow(0x69, 0x88, 0xFF, S.SM_DATA_INCORRECT, "secure messaging data incorrect (bad MAC)"),
    StatusRow(0x69, 0x00, 0x00, S.COMMAND_NOT_ALLOWED, "command not allowed"),
    StatusRow(0x6A, 0x80, 0xFF, S.WRONG_DATA, "incorrect parameters in the data field"),
    StatusRow(0x6A, 0x81, 0xFF, S.FUNCTION_NOT_SUPPORTED, "function not supported"),
    StatusRow(0x6A, 0x82, 0xFF, S.FILE_NOT_FOUND, "file or application not found"),
    StatusRow(0x6A, 0x83, 0xFF, S.RECORD_NOT_FOUND, "record not found"),
    StatusRow(0x6A, 0x84, 0xFF, S.NOT_ENOUGH_MEMORY, "not enough memory space in the file"),
    StatusRow(0x6A, 0x85, 0xFF, S.LC_INCONSISTENT_WITH_TLV, "Lc inconsistent with TLV structure"),
    StatusRow(0x6A, 0x86, 0xFF, S.WRONG_P1P2, "incorrect parameters P1-P2"),
    StatusRow(0x6A, 0x87, 0xFF, S.LC_INCONSISTENT_WITH_P1P2, "Lc inconsistent with P1-P2"),
    StatusRow(0x6A, 0x88, 0xFF, S.DATA_NOT_FOUND, "referenced data (key) not found"),
    StatusRow(0x6A, 0x89, 0xFF, S.FILE_EXISTS, "file already exists"),
    StatusRow(0x6A, 0x8A, 0xFF, S.DF_NAME_EXISTS, "DF name already exists"),
    StatusRow(0x6A, 0x00, 0x00, S.WRONG_PARAMETERS, "wrong parameters P1-P2"),
    StatusRow(0x6B, 0x00, 0x00, S.WRONG_P1P2_OFFSET, "wrong parameters P1-P2 (offset outside)"),
    StatusRow(0x6D, 0x00, 0x00, S.INS_NOT_SUPPORTED, "instruction not supported"),
    StatusRow(0x6E, 0x00, 0x00, S.CLA_NOT_SUPPORTED, "class not supported"),
    StatusRow(0x6F, 0x00, 0x00, S.NO_DIAGNOSIS, "no precise diagnosis"),
)

_UNKNOWN_MEANING = "unknown status word"


@dataclass(frozen=True)
class StatusWord:
    """A status word with its meaning looked up in :data:`STATUS_TABLE`."""

    sw1: int
    sw2: int
    status: Status
    meaning: str
    severity: Severity = Severity.ERROR

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def processed(self) -> bool:
        """Whether the card did the command (OK or a warning): its data is the answer."""
        return self.severity in (Severity.OK, Severity.WARNING)

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
            return StatusWord(sw1, sw2, row.status, row.meaning, row.severity)
    return StatusWord(sw1, sw2, Status.UNKNOWN, _UNKNOWN_MEANING)


def status_word(status: Status, sw2: int | None = None) -> StatusWord:
    """The status word a card answers for ``status`` (``sw2`` fills masked bits, e.g. tries)."""
    for row in STATUS_TABLE:
        if row.status is status:
            low = 0 if sw2 is None else sw2 & ~row.mask & 0xFF
            return StatusWord(row.sw1, row.sw2 | low, row.status, row.meaning, row.severity)
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


class NotSocialSecurityCard(WrongCard):
    """The card has no SSSE application (SELECT answered ``6A 82``): wrong card stock."""

    code = "chip_not_social_security_card"


class CardNotBlank(WrongCard):
    """The card already carries a card number: it was personalised before."""

    code = "chip_not_blank"


class ReaderFault(DeviceError):
    """The chip reader (the encoder's side, not the card's) failed: a fault of the reader."""

    code = "reader_fault"


class NoCardInReader(ReaderFault):
    """The reader saw no card under its contacts."""

    code = "reader_no_card"


class ReaderUnavailable(ReaderFault):
    """The reader cannot be reached (not connected, not found, PC/SC not running)."""

    code = "reader_unavailable"


def raise_for_status(sw: StatusWord, command: str) -> None:
    """Raise :class:`CardStatusError` unless the card processed the command (OK or warning)."""
    if not sw.processed:
        raise CardStatusError(sw, command)
