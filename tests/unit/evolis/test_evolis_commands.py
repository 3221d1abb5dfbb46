"""Command bytes (golden strings written from the protocol reference) and the stream parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printers.devices.evolis import commands as c
from printers.devices.evolis.commands import (
    Command,
    CommandName,
    CommandReader,
    Counter,
    Face,
    TuningStep,
)
from printers.devices.evolis.models import CapabilityError, RibbonType
from printers.documents.panels import CardSide, Panel
from sscard_core.errors import ProtocolError

from .evolis_panels import Rect, blank_side, filled

GOLDEN = [
    (c.set_ribbon(RibbonType.YMCKO), b"\x1bPr;ymcko\r"),
    (c.set_ribbon(RibbonType.YMCKOS), b"\x1bPr;ymckos\r"),
    (c.set_ribbon(RibbonType.YMCKOK), b"\x1bPr;ymckok\r"),
    (c.set_ribbon(RibbonType.KB), b"\x1bPr;kb\r"),
    (c.contrast(Panel.K, 10), b"\x1bPc;k;10\r"),
    (c.contrast(Panel.Y, TuningStep.UP), b"\x1bPc;y;+\r"),
    (c.luminosity(Panel.M, TuningStep.DOWN), b"\x1bPl;m;-\r"),
    (c.luminosity(Panel.C, 5), b"\x1bPl;c;5\r"),
    (c.speed(Panel.O, 3), b"\x1bPs;o;3\r"),
    (c.error_mode(c.ErrorMode.ACK_NACK), b"\x1bPem;4\r"),
    (c.error_mode(c.ErrorMode.HOST), b"\x1bPem;2\r"),
    (c.error_mode(c.ErrorMode.HOST_NO_COVER_DETECTION), b"\x1bPem;1\r"),
    (c.error_mode(c.ErrorMode.PRINTER), b"\x1bPem;0\r"),
    (c.chip_offset(), b"\x1bPos;=;1158\r"),
    (c.chip_offset(1200), b"\x1bPos;=;1200\r"),
    (c.start_sequence(), b"\x1bSs\r"),
    (c.select_face(Face.FRONT), b"\x1bSr\r"),
    (c.select_face(Face.BACK), b"\x1bSv\r"),
    (c.end_sequence(), b"\x1bSe\r"),
    (c.insert(), b"\x1bSi\r"),
    (c.insert_and_park(), b"\x1bSis\r"),
    (c.reject(), b"\x1bSer\r"),
    (c.reject_under_feeder(), b"\x1bSeb\r"),
    (c.clear_status(), b"\x1bScs\r"),
    (c.software_reset(), b"\x1bSrs\r"),
    (c.read_firmware(), b"\x1bRfv\r"),
    (c.read_serial(), b"\x1bRsn\r"),
    (c.read_model(), b"\x1bRtp\r"),
    (c.read_counter(Counter.CARDS), b"\x1bRco;c\r"),
    (c.read_counter(Counter.REJECTED), b"\x1bRco;r\r"),
    (c.read_ribbon(), b"\x1bRr\r"),
    (c.read_ribbon_status(), b"\x1bRcr\r"),
    (c.read_last_answer(), b"\x1bRlr;p\r"),
    (c.read_feeder(), b"\x1bSk;f\r"),
]


@pytest.mark.parametrize(("command", "wire"), GOLDEN, ids=[w.decode()[1:-1] for _, w in GOLDEN])
def test_command_bytes(command: Command, wire: bytes) -> None:
    assert command.encode() == wire


def test_reads_are_the_commands_that_return_a_value() -> None:
    reads = {command.name.value for command, _ in GOLDEN if command.is_read}
    assert reads == {"Rfv", "Rsn", "Rtp", "Rco", "Rr", "Rcr", "Rlr", "Sk"}


def test_db_frames_the_packed_panel_after_the_last_semicolon() -> None:
    panel = filled(Panel.K, 2, [Rect(0, 640, 1, 648)])  # column 0, the 8 bottom rows black
    wire = c.download(panel).encode()
    assert wire.startswith(b"\x1bDb;k;2;\xff\x00")
    assert wire.endswith(b"\x00\r")
    assert len(wire) == len(b"\x1bDb;k;2;") + 82_296 + 1


def test_db_of_a_colour_panel_uses_its_levels() -> None:
    wire = c.download(filled(Panel.Y, 32, [])).encode()
    assert wire.startswith(b"\x1bDb;y;32;")
    assert len(wire) == len(b"\x1bDb;y;32;") + 411_480 + 1


def test_dbc_of_a_blank_panel_is_every_line_in_full_as_the_vendor_sends_it() -> None:
    wire = c.download_compressed(filled(Panel.O, 2, [])).encode()
    assert wire == b"\x1bDbc;o;2;83312;" + (b"\x51" + bytes(81)) * 1016 + b"\r"


def test_download_panel_compresses_only_two_level_panels() -> None:
    assert c.download_panel(filled(Panel.K, 2, [])).name is CommandName.DOWNLOAD_COMPRESSED
    assert c.download_panel(filled(Panel.K, 2, []), compress=False).name is CommandName.DOWNLOAD
    assert c.download_panel(filled(Panel.C, 64, [])).name is CommandName.DOWNLOAD


def names(commands: list[Command]) -> list[str]:
    return [command.name.value for command in commands]


def test_card_sequence_for_chip_encoding_parks_first() -> None:
    sequence = c.print_card_sequence(blank_side(), RibbonType.YMCKO, park_for_chip=True)
    assert names(sequence) == ["Sis", "Pr", "Ss", "Sr", "Db", "Db", "Db", "Dbc", "Dbc", "Se"]
    assert [cmd.params[0] for cmd in sequence[4:9]] == ["y", "m", "c", "k", "o"]


def test_card_sequence_without_chip() -> None:
    sequence = c.print_card_sequence(blank_side(), RibbonType.YMCKO, park_for_chip=False)
    assert names(sequence) == ["Pr", "Ss", "Sr", "Db", "Db", "Db", "Dbc", "Dbc", "Se"]
    assert sequence[0].encode() == b"\x1bPr;ymcko\r"


def test_a_colour_side_does_not_fit_a_black_ribbon() -> None:
    with pytest.raises(CapabilityError, match="no y, m, c, o panel"):
        c.print_card_sequence(blank_side(), RibbonType.KB, park_for_chip=False)


def test_a_black_side_fits_a_black_ribbon() -> None:
    side = CardSide((filled(Panel.K, 2, [Rect(10, 10, 20, 20)]),))
    assert names(c.print_card_sequence(side, RibbonType.KB, park_for_chip=False)) == [
        "Pr",
        "Ss",
        "Sr",
        "Dbc",
        "Se",
    ]


def test_the_back_of_a_ymckok_ribbon_has_only_black() -> None:
    back = CardSide((filled(Panel.K, 2, []),))
    assert names(c.face_commands(back, Face.BACK, RibbonType.YMCKOK)) == ["Sv", "Dbc"]
    with pytest.raises(CapabilityError):
        c.face_commands(blank_side(), Face.BACK, RibbonType.YMCKOK)


def parse_all(wire: bytes) -> list[Command]:
    reader = CommandReader()
    reader.feed(wire)
    return list(reader)


def test_parser_reads_what_the_builder_wrote() -> None:
    sequence = c.print_card_sequence(blank_side(), RibbonType.YMCKO, park_for_chip=True)
    assert parse_all(b"".join(cmd.encode() for cmd in sequence)) == sequence


def test_parser_keeps_a_cr_inside_bitmap_data() -> None:
    # dots 0000 1101 (bottom row first): the first packed byte is CR
    panel = filled(Panel.K, 2, [Rect(0, 642, 1, 644), Rect(0, 640, 1, 641)])
    download = c.download(panel)
    assert download.data is not None and download.data[0] == 0x0D
    parsed = parse_all(download.encode() + c.end_sequence().encode())
    assert parsed == [download, c.end_sequence()]


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=90_000), max_size=12))
def test_parser_does_not_care_how_the_stream_is_cut(cuts: list[int]) -> None:
    k = filled(Panel.K, 2, [Rect(0, 0, 500, 300)])
    sequence = [c.start_sequence(), c.download(k), c.download_compressed(k), c.read_feeder()]
    wire = b"".join(cmd.encode() for cmd in sequence)
    reader = CommandReader()
    parsed: list[Command] = []
    start = 0
    for cut in [*sorted(cuts), len(wire)]:
        reader.feed(wire[start : max(start, cut)])
        start = max(start, cut)
        parsed.extend(reader)
    assert parsed == sequence
    assert reader.pending == 0


def test_an_unknown_command_is_consumed_and_reported() -> None:
    reader = CommandReader()
    reader.feed(b"\x1bZz;1\r\x1bSs\r")
    with pytest.raises(ProtocolError, match="unknown command"):
        reader.next_command()
    assert reader.next_command() == c.start_sequence()


def test_bytes_before_an_escape_are_reported_then_skipped() -> None:
    reader = CommandReader()
    reader.feed(b"junk\x1bSe\r")
    with pytest.raises(ProtocolError, match="outside a command"):
        reader.next_command()
    assert reader.next_command() == c.end_sequence()


def test_a_download_with_unknown_levels_cannot_be_framed() -> None:
    reader = CommandReader()
    reader.feed(b"\x1bDb;k;3;\x00\x00\r")
    with pytest.raises(ProtocolError, match="3 levels"):
        reader.next_command()
    assert reader.pending == 0


def test_a_download_must_end_with_cr_after_its_data() -> None:
    reader = CommandReader()
    reader.feed(b"\x1bDbc;k;2;2;\x00\x00X\r\x1bSs\r")
    with pytest.raises(c.DownloadSizeError, match="longer than the 2 bytes"):
        reader.next_command()
    assert reader.next_command() == c.start_sequence()


def test_a_download_without_data_is_reported() -> None:
    reader = CommandReader()
    reader.feed(b"\x1bDb;k\r\x1bSs\r")
    with pytest.raises(ProtocolError, match="without its bitmap"):
        reader.next_command()
    assert reader.next_command() == c.start_sequence()


def test_an_endless_header_is_reported() -> None:
    reader = CommandReader()
    reader.feed(b"\x1b" + b"P" * 100)
    with pytest.raises(ProtocolError, match="header longer"):
        reader.next_command()


def test_an_incomplete_command_waits_for_more_bytes() -> None:
    reader = CommandReader()
    reader.feed(b"\x1bPr;ym")
    assert reader.next_command() is None
    reader.feed(b"cko\r")
    assert reader.next_command() == c.set_ribbon(RibbonType.YMCKO)


def test_parameters_must_be_printable_ascii() -> None:
    reader = CommandReader()
    reader.feed(b"\x1bPr;\xffx\r")
    with pytest.raises(ProtocolError, match="printable"):
        reader.next_command()
