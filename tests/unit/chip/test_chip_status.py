"""Status words: every row of the table, tries left, and the ChipError they raise."""

from __future__ import annotations

import pytest

from printers.devices.chip.status import (
    STATUS_TABLE,
    CardStatusError,
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
    (0x6F, 0x00, Status.UNKNOWN, None),
    (0x69, 0x99, Status.UNKNOWN, None),
    (0x62, 0x83, Status.UNKNOWN, None),
]


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


@pytest.mark.parametrize("row", [r for r in STATUS_TABLE if r.status is not Status.OK])
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
        assert not any(e.matches(row.sw1, row.sw2) for e in earlier), row


def test_status_word_for_a_status_not_in_the_table() -> None:
    with pytest.raises(ValueError, match="no status word"):
        status_word(Status.UNKNOWN)
