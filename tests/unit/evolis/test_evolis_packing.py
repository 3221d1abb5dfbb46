"""Packing panels into Db/Dbc data, unpacking them, and the download size table."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printers.devices.evolis.models import DOWNLOAD_FORMATS, CapabilityError
from printers.devices.evolis.packing import (
    PanelValueError,
    compress_mono,
    decompress_mono,
    pack_panel,
    unpack_compressed,
    unpack_panel,
)
from printers.documents.panels import PANEL_DOTS, PANEL_LINES, Panel, PanelImage
from sscard_core.errors import ProtocolError

from .evolis_panels import Rect, filled

DOTS = PANEL_DOTS * PANEL_LINES


def panel_from(levels: int, head: list[int], panel: Panel | None = None) -> PanelImage:
    """A panel whose first dots (in printer order) are ``head`` and the rest blank."""
    dots = bytes(head) + bytes(DOTS - len(head))
    which = panel or (Panel.K if levels == 2 else Panel.Y)
    return PanelImage(which, levels, dots)


@pytest.mark.parametrize(
    ("levels", "head", "expected"),
    [
        # 1 bit: 1010 0001
        (2, [1, 0, 1, 0, 0, 0, 0, 1], b"\xa1\x00"),
        # 5 bits: 11111 00000 00001 0... -> 1111 1000 | 0000 0010
        (32, [31, 0, 1], b"\xf8\x02\x00"),
        # 6 bits: 111111 000000 111111 -> 1111 1100 | 0000 1111 | 1100 0000
        (64, [63, 0, 63], b"\xfc\x0f\xc0\x00"),
        # 7 bits: 1111111 0000001 -> 1111 1110 | 0000 0100
        (128, [127, 1], b"\xfe\x04\x00"),
    ],
)
def test_dots_are_packed_msb_first_end_to_end(
    levels: int, head: list[int], expected: bytes
) -> None:
    assert pack_panel(panel_from(levels, head)).startswith(expected)


@pytest.mark.parametrize(
    ("levels", "guide", "real"),
    [(2, 84_624, 82_296), (32, 423_120, 411_480), (64, 507_744, 493_776), (128, 592_368, 576_072)],
)
def test_the_wire_size_is_the_real_panel_not_the_guide_slip(
    levels: int, guide: int, real: int
) -> None:
    fmt = DOWNLOAD_FORMATS[levels]
    assert (fmt.wire_bytes, fmt.packed_bytes, fmt.guide_bytes) == (real, real, guide)
    assert real * 8 == 648 * 1016 * fmt.bits_per_dot
    assert 1 << fmt.bits_per_dot == levels


def test_a_two_level_panel_is_1016_lines_of_81_bytes() -> None:
    assert DOWNLOAD_FORMATS[2].wire_bytes == 1016 * 81


@pytest.mark.parametrize("levels", [2, 32, 64, 128])
def test_a_full_panel_is_all_ones_at_the_wire_size(levels: int) -> None:
    fmt = DOWNLOAD_FORMATS[levels]
    full = PanelImage(Panel.K if levels == 2 else Panel.C, levels, bytes([levels - 1]) * DOTS)
    data = pack_panel(full)
    assert len(data) == fmt.wire_bytes
    assert set(data) == {0xFF}


@settings(max_examples=25, deadline=None)
@given(
    levels=st.sampled_from([2, 32, 64, 128]),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    density=st.floats(min_value=0.0, max_value=1.0),
)
def test_pack_then_unpack_gives_the_panel_back(levels: int, seed: int, density: float) -> None:
    rng = np.random.default_rng(seed)
    values = rng.integers(0, levels, DOTS, dtype=np.uint8)
    values[rng.random(DOTS) >= density] = 0
    panel = PanelImage(Panel.K if levels == 2 else Panel.M, levels, values.tobytes())
    assert unpack_panel(panel.panel, levels, pack_panel(panel)) == panel


def test_a_dot_beyond_the_levels_is_refused() -> None:
    with pytest.raises(PanelValueError, match="dot value 32 but only 32 levels"):
        pack_panel(panel_from(32, [32]))


def test_unpacking_the_wrong_size_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="82296 bytes, not 84624"):
        unpack_panel(Panel.K, 2, bytes(84_624))


def test_unknown_levels_are_a_capability_error() -> None:
    with pytest.raises(CapabilityError):
        unpack_panel(Panel.Y, 16, b"")


def test_compressed_lines() -> None:
    lines = [
        Rect(1, 0, 2, PANEL_DOTS),  # line 1 all black
        Rect(2, 0, 3, 1),  # line 2: first dot
        Rect(3, PANEL_DOTS - 1, 4, PANEL_DOTS),  # line 3: last dot only
        Rect(4, 0, 5, PANEL_DOTS - 1),  # line 4: black but for the last dot
    ]
    data = compress_mono(filled(Panel.K, 2, lines))
    white = b"\x51" + bytes(81)
    line1 = b"\x51" + b"\xff" * 81
    line2 = b"\x51" + bytes(80) + b"\x01"  # the top row is the line's last dot
    line3 = b"\x51\x80" + bytes(80)  # the bottom row is its first
    line4 = b"\x51\x7f" + b"\xff" * 80
    assert data == white + line1 + line2 + line3 + line4 + white * (PANEL_LINES - 5)
    assert len(data) == 83_312


def test_every_dbc_line_form_the_printer_reads() -> None:
    short = b"\x02\xc0\x01"  # two useful bytes, the rest of the line white
    data = b"\x00" + b"\xff" + short + b"\x51" + b"\x0f" * 81 + b"\x00" * (PANEL_LINES - 4)
    lines = np.frombuffer(decompress_mono(data), dtype=np.uint8).reshape(PANEL_LINES, 81)
    assert not lines[0].any() and (lines[1] == 0xFF).all()
    assert lines[2].tobytes() == b"\xc0\x01" + bytes(79)
    assert (lines[3] == 0x0F).all()


def test_a_dbc_line_count_above_81_is_refused() -> None:
    with pytest.raises(ProtocolError, match="claims 82 bytes"):
        decompress_mono(b"\x52" + bytes(82) + b"\x00" * (PANEL_LINES - 1))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    white=st.floats(min_value=0.0, max_value=1.0),
    black=st.floats(min_value=0.0, max_value=1.0),
)
def test_compress_then_decompress_gives_the_panel_back(
    seed: int, white: float, black: float
) -> None:
    rng = np.random.default_rng(seed)
    lines = rng.integers(0, 2, (PANEL_LINES, PANEL_DOTS), dtype=np.uint8)
    lines[:, rng.integers(1, PANEL_DOTS) :] = 0  # ragged white line ends
    lines[rng.random(PANEL_LINES) < white] = 0
    lines[rng.random(PANEL_LINES) < black] = 1
    panel = PanelImage(Panel.O, 2, lines.tobytes())
    assert unpack_compressed(Panel.O, compress_mono(panel)) == panel


def test_compressing_a_colour_panel_is_refused() -> None:
    with pytest.raises(PanelValueError, match="only 2-level"):
        compress_mono(panel_from(64, []))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00" * (PANEL_LINES - 1), "1015 lines"),
        (b"\x00" * (PANEL_LINES + 1), "past the panel's last line"),
        (b"\x00" * (PANEL_LINES - 1) + b"\x52" + bytes(82), "claims 82 bytes"),
        (b"\x00" * (PANEL_LINES - 1) + b"\x05\x01", "claims 5 bytes"),
    ],
)
def test_malformed_compressed_data(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decompress_mono(data)
