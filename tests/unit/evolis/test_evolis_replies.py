"""Reply parsing: ACK/NACK, status strings, feeder answers, and the errors they raise."""

from __future__ import annotations

import pytest

from printers.devices.evolis import replies as r
from printers.devices.evolis.replies import EvolisFault, PrinterStatus, ReplyKind
from sscard_core.errors import PrinterFault, ProtocolError

S = PrinterStatus

NACKS = [
    (b"\x151\r", S.COMMAND_ERROR),
    (b"\x152\r", S.PARAMETER_ERROR),
    (b"\x15T\r", S.MECHANICAL_ERROR),
    (b"\x15C\r", S.COVER_OPEN),
    (b"\x15F\r", S.FEEDER_EMPTY),
    (b"\x15R\r", S.RIBBON_ERROR),
    (b"\x15K\r", S.MAGNETIC_CHECKSUM_ERROR),
    (b"\x15D\r", S.MAGNETIC_DATA_ERROR),
    (b"\x15W\r", S.MAGNETIC_WRITE_ERROR),
]

# Only the Rlr answers the protocol guide documents.
STATUS_STRINGS = [
    (b"OK\r", S.READY),
    (b"NO CARD\r", S.NO_CARD),
    (b"ERR CARD\r", S.CARD_STUCK),
    (b"ERR NEED CLEANING\r", S.NEED_CLEANING),
]

FEEDER = [
    (b"0\r", S.READY),
    (b"1\r", S.FEEDER_1_EMPTY),
    (b"2\r", S.FEEDER_2_EMPTY),
    (b"3\r", S.FEEDER_EMPTY),
]


def test_ack() -> None:
    assert r.parse_reply(b"\x06\r").kind is ReplyKind.ACK
    r.expect_ack(b"\x06\r")
    r.expect_ack(b"OK\r")


@pytest.mark.parametrize(("raw", "status"), NACKS)
def test_each_nack_code_is_a_fault_with_its_status(raw: bytes, status: PrinterStatus) -> None:
    assert r.parse_reply(raw) == r.Reply(ReplyKind.NACK, status=status)
    with pytest.raises(EvolisFault) as caught:
        r.expect_ack(raw, "Se")
    assert isinstance(caught.value, PrinterFault)
    assert (caught.value.status, caught.value.nack, caught.value.command) == (status, status, "Se")
    assert caught.value.to_dict()["status"] == status.value


@pytest.mark.parametrize(("raw", "status"), STATUS_STRINGS)
def test_each_status_string(raw: bytes, status: PrinterStatus) -> None:
    assert r.parse_status(raw) is status
    assert r.status_reply(status) == raw


@pytest.mark.parametrize(("raw", "status"), FEEDER)
def test_each_feeder_answer(raw: bytes, status: PrinterStatus) -> None:
    assert r.parse_feeder(raw) is status
    assert r.feeder_reply(status) == raw


def test_every_status_is_reachable_from_the_wire() -> None:
    named = {*r.NACK_CODES.values(), *r.STATUS_TEXTS.values(), *r.FEEDER_ANSWERS.values()}
    assert named | {PrinterStatus.UNKNOWN} == set(PrinterStatus)
    assert set(r.DESCRIPTIONS) == set(PrinterStatus)


def test_no_invented_status_strings() -> None:
    assert set(r.STATUS_TEXTS) == {b"OK", b"NO CARD", b"ERR CARD", b"ERR NEED CLEANING"}


def test_ready_and_cleaning_are_not_faults() -> None:
    assert PrinterStatus.READY not in r.FAULTS
    assert PrinterStatus.NEED_CLEANING not in r.FAULTS
    assert PrinterStatus.CARD_STUCK in r.FAULTS


@pytest.mark.parametrize("raw", [b"WHAT\r", b"ERR RIBBON ENDED\r", b"ERR SOMETHING\r"])
def test_an_undocumented_last_answer_keeps_its_text(raw: bytes) -> None:
    answer = r.parse_last_answer(raw)
    assert answer == r.LastAnswer(PrinterStatus.UNKNOWN, raw[:-1].decode())
    assert not answer.documented
    fault = EvolisFault(S.MECHANICAL_ERROR, nack=S.MECHANICAL_ERROR, printer_text=answer.text)
    assert answer.text in fault.message
    assert fault.to_dict()["printer_text"] == answer.text


def test_an_unknown_feeder_answer_is_a_protocol_error_with_the_raw_bytes() -> None:
    with pytest.raises(ProtocolError) as caught:
        r.parse_feeder(b"4\r")
    assert caught.value.fields["raw"] == b"4\r".hex()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x15X\r", "unknown NACK code"),
        (b"\x06", "must end in CR"),
        (b"OK\rOK\r", "more than one line"),
        (b"\x01\x02\r", "not printable"),
        (b"Primacy\r", "expected an ACK"),
    ],
)
def test_malformed_replies(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        r.expect_ack(raw)


def test_text_reads() -> None:
    assert r.expect_text(b"Primacy\r") == "Primacy"
    assert r.parse_int(b"1234\r") == 1234
    with pytest.raises(ProtocolError, match="expected a number"):
        r.parse_int(b"12a\r")
    with pytest.raises(ProtocolError, match="bare ACK"):
        r.expect_text(b"\x06\r")
    with pytest.raises(EvolisFault):
        r.expect_text(b"\x152\r", "Rco")


def test_nack_reply_is_the_inverse_of_the_table() -> None:
    for raw, status in NACKS:
        assert r.nack_reply(status) == raw
    assert r.ack_reply() == b"\x06\r"
    assert r.text_reply("SIM1") == b"SIM1\r"
