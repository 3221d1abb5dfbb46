"""Status words: every row of the table, tries left, and the ChipError they raise."""

from __future__ import annotations

import pytest

from printers.devices.chip.status import (
    STATUS_TABLE,
    CardStatusError,
    Severity,
    Status,
    StatusRow,
    interpret,
    raise_for_status,
    status_word,
)
from sscard_core.errors import ChipError

# Independent of the table: concrete bytes → what they must mean.
EXPECTED = [
    (0x90, 0x00, Status.OK, None),
    (0x61, 0x1C, Status.MORE_DATA, None),
    (0x6C, 0x12, Status.WRONG_LE, None),
    (0x63, 0x00, Status.AUTHENTICATION_FAILED, None),
    (0x63, 0xC2, Status.VERIFY_FAILED, 2),
    (0x63, 0xC1, Status.VERIFY_FAILED, 1),
    (0x63, 0xC0, Status.VERIFY_FAILED, 0),
    (0x65, 0x81, Status.MEMORY_FAILURE, None),
    (0x67, 0x00, Status.WRONG_LENGTH, None),
    (0x69, 0x82, Status.SECURITY_NOT_SATISFIED, None),
    (0x69, 0x83, Status.AUTHENTICATION_BLOCKED, 0),
    (0x69, 0x85, Status.CONDITIONS_NOT_SATISFIED, None),
    (0x69, 0x86, Status.NO_CURRENT_EF, None),
    (0x69, 0x88, Status.SM_DATA_INCORRECT, None),
    (0x6A, 0x80, Status.WRONG_DATA, None),
    (0x6A, 0x82, Status.FILE_NOT_FOUND, None),
    (0x6A, 0x83, Status.RECORD_NOT_FOUND, None),
    (0x6A, 0x86, Status.WRONG_P1P2, None),
    (0x6A, 0x88, Status.DATA_NOT_FOUND, None),
    (0x6D, 0x00, Status.INS_NOT_SUPPORTED, None),
    (0x6E, 0x00, Status.CLA_NOT_SUPPORTED, None),
    (0x62, 0x00, Status.WARNING, None),
    (0x62, 0x81, Status.DATA_MAY_BE_CORRUPTED, None),
    (0x62, 0x82, Status.END_OF_FILE, None),
    (0x62, 0x83, Status.FILE_INVALIDATED, None),
    (0x62, 0x84, Status.FCI_NOT_FORMATTED, None),
    (0x62, 0x85, Status.FILE_TERMINATED, None),
    (0x62, 0x86, Status.NO_SENSOR_DATA, None),
    (0x62, 0x10, Status.CARD_WARNING, None),
    (0x63, 0x81, Status.FILE_FILLED_UP, None),
    (0x63, 0x07, Status.CHANGED_WARNING, None),
    (0x64, 0x00, Status.EXECUTION_ERROR, None),
    (0x64, 0x01, Status.IMMEDIATE_RESPONSE_REQUIRED, None),
    (0x65, 0x00, Status.CHANGED_ERROR, None),
    (0x66, 0x00, Status.SECURITY_ERROR, None),
    (0x68, 0x00, Status.CLA_FUNCTION_NOT_SUPPORTED, None),
    (0x68, 0x81, Status.LOGICAL_CHANNEL_NOT_SUPPORTED, None),
    (0x68, 0x82, Status.SM_NOT_SUPPORTED, None),
    (0x68, 0x83, Status.LAST_COMMAND_EXPECTED, None),
    (0x68, 0x84, Status.CHAINING_NOT_SUPPORTED, None),
    (0x69, 0x00, Status.COMMAND_NOT_ALLOWED, None),
    (0x69, 0x81, Status.INCOMPATIBLE_FILE_STRUCTURE, None),
    (0x69, 0x84, Status.REFERENCE_DATA_NOT_USABLE, None),
    (0x69, 0x87, Status.SM_OBJECTS_MISSING, None),
    (0x69, 0x99, Status.COMMAND_NOT_ALLOWED, None),
    (0x6A, 0x00, Status.WRONG_PARAMETERS, None),
    (0x6A, 0x81, Status.FUNCTION_NOT_SUPPORTED, None),
    (0x6A, 0x84, Status.NOT_ENOUGH_MEMORY, None),
    (0x6A, 0x85, Status.LC_INCONSISTENT_WITH_TLV, None),
    (0x6A, 0x87, Status.LC_INCONSISTENT_WITH_P1P2, None),
    (0x6A, 0x89, Status.FILE_EXISTS, None),
    (0x6A, 0x8A, Status.DF_NAME_EXISTS, None),
    (0x6B, 0x00, Status.WRONG_P1P2_OFFSET, None),
    (0x6F, 0x00, Status.NO_DIAGNOSIS, None),
    (0x91, 0x00, Status.UNKNOWN, None),
    (0x12, 0x34, Status.UNKNOWN, None),
]

WARNINGS = [(0x62, 0x82), (0x62, 0x81), (0x62, 0x00), (0x62, 0x42), (0x63, 0x81)]


@pytest.mark.parametrize(("sw1", "sw2", "status", "tries"), EXPECTED)
def test_bytes_mean_what_iso_7816_says(
    sw1: int, sw2: int, status: Status, tries: int | None
) -> None:
    sw = interpret(sw1, sw2)
    assert sw.status is status
    assert sw.tries_left == tries
    assert sw.to_bytes() == bytes((sw1, sw2))


@pytest.mark.parametrize("row", STATUS_TABLE, ids=lambda row: row.status.value)
def test_every_row_is_reachable_and_round_trips(row: StatusRow) -> None:
    varied = row.sw2 | (0x05 & ~row.mask & 0xFF)
    sw = interpret(row.sw1, varied)
    assert (sw.status, sw.meaning) == (row.status, row.meaning)
    assert status_word(row.status, varied).to_bytes() == bytes((row.sw1, varied))


@pytest.mark.parametrize("row", [r for r in STATUS_TABLE if r.severity is Severity.ERROR])
def test_every_refusal_raises_a_chip_error_with_its_fields(row: StatusRow) -> None:
    sw = interpret(row.sw1, row.sw2)
    with pytest.raises(ChipError) as caught:
        raise_for_status(sw, "TEST")
    error = caught.value
    assert isinstance(error, CardStatusError)
    assert (error.sw1, error.sw2, error.meaning) == (row.sw1, row.sw2, row.meaning)
    assert error.to_dict()["sw1"] == row.sw1
    assert "TEST" in error.message


def test_ok_does_not_raise() -> None:
    sw = interpret(0x90, 0x00)
    assert sw.ok and sw.status is Status.OK
    assert raise_for_status(sw, "TEST") is None  # returned: nothing was raised


def test_tries_left_is_carried_by_the_error() -> None:
    with pytest.raises(CardStatusError) as caught:
        raise_for_status(interpret(0x63, 0xC1), "VERIFY PIN")
    assert caught.value.tries_left == 1
    assert caught.value.to_dict()["tries_left"] == 1


def test_the_table_has_no_shadowed_rows() -> None:
    for index, row in enumerate(STATUS_TABLE):
        earlier = STATUS_TABLE[:index]
        reachable = [
            sw2
            for sw2 in range(256)
            if row.matches(row.sw1, sw2) and not any(e.matches(row.sw1, sw2) for e in earlier)
        ]
        assert reachable, row


def test_each_status_is_one_row() -> None:
    statuses = [row.status for row in STATUS_TABLE]
    assert len(statuses) == len(set(statuses))
    assert set(statuses) == set(Status) - {Status.UNKNOWN}


@pytest.mark.parametrize(("sw1", "sw2"), WARNINGS)
def test_a_warning_is_processed_and_does_not_raise(sw1: int, sw2: int) -> None:
    sw = interpret(sw1, sw2)
    assert sw.severity is Severity.WARNING and sw.processed and not sw.ok
    raise_for_status(sw, "READ RECORD")


@pytest.mark.parametrize(("sw1", "sw2"), [(0x63, 0x00), (0x63, 0xC2), (0x6B, 0x00), (0x6A, 0x89)])
def test_failed_verifications_and_checking_errors_raise(sw1: int, sw2: int) -> None:
    with pytest.raises(CardStatusError):
        raise_for_status(interpret(sw1, sw2), "X")


def test_status_word_for_a_status_not_in_the_table() -> None:
    with pytest.raises(ValueError, match="no status word"):
        status_word(Status.UNKNOWN)
