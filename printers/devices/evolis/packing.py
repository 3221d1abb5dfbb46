"""Panel bitmaps to ``Db`` / ``Dbc`` data and back, with numpy.

``pack_panel`` turns a :class:`printers.documents.panels.PanelImage` (one byte per dot,
in printer order: 1016 lines of 648 dots) into the data of
``Db;<panel>;<levels>;<data>``: each dot becomes ``log2(levels)`` bits (1, 5,
6 or 7), the bits are packed end to end, most significant bit first, and the
result is exactly the panel: 82,296 bytes at 2 levels, 411,480 / 493,776 /
576,072 at 32 / 64 / 128 (:mod:`printers.devices.evolis.models`).

The work is vectorised: eight dots of b bits always make b whole bytes, so
each output byte is an OR of one or two shifted dot columns, following a
small precomputed plan per bit width; a full YMCKO side packs in a few
milliseconds.

``compress_mono`` builds the ``Dbc`` data of a 2-level panel (k or o) as the
vendor's driver sends it: every one of the 1016 lines as a count byte 81
followed by the line's 81 bytes (83,312 bytes in all, ``Dbc;k;2;83312;``).
``decompress_mono`` reads every form the printer accepts: per line ``0x00``
for a white line, ``0xFF`` for a black line, or a count N (1..81) followed by
the line's first N bytes, the rest being white.

The ``unpack_*`` functions are the exact inverses; the simulator uses them to
rebuild what it was sent, and rejects malformed data with
:class:`sscard_core.errors.ProtocolError`.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from printers.devices.evolis.models import DBC_LINE_BYTES, DownloadFormat, download_format
from printers.documents.panels import PANEL_DOTS, PANEL_LINES, Panel, PanelImage
from sscard_core.errors import DeviceError, ProtocolError

DOTS_PER_PANEL = PANEL_DOTS * PANEL_LINES
WHITE_LINE = 0x00
BLACK_LINE = 0xFF

U8Array = npt.NDArray[np.uint8]


class PanelValueError(DeviceError):
    """A panel holds a dot value its number of levels cannot express."""

    code = "panel_value"


def _dots(panel: PanelImage) -> U8Array:
    dots = np.frombuffer(panel.dots, dtype=np.uint8)
    top = int(dots.max())
    if top >= panel.levels:
        raise PanelValueError(
            f"panel {panel.panel} has dot value {top} but only {panel.levels} levels",
            panel=str(panel.panel),
        )
    return dots


Term = tuple[int, int, int]  # (byte, dot, left shift)


def _terms(bits: int) -> tuple[Term, ...]:
    """How 8 dots of ``bits`` bits fill ``bits`` bytes.

    Dot ``i`` occupies stream bits ``i*bits .. i*bits+bits-1`` (MSB first); it
    reaches byte ``j`` shifted left by ``8*j + 8 - (i+1)*bits`` (a negative
    shift means its high bits end the byte and its low bits start the next).
    """
    return tuple(
        (j, i, 8 * j + 8 - (i + 1) * bits)
        for j in range(bits)
        for i in range(8)
        if i * bits < 8 * j + 8 and (i + 1) * bits > 8 * j
    )


TERMS = MappingProxyType({bits: _terms(bits) for bits in (1, 5, 6, 7)})


def _shift(column: U8Array, left: int) -> U8Array:
    """Shift in uint8, so bits pushed past the byte fall away."""
    places = np.uint8(abs(left))
    return column << places if left >= 0 else column >> places


def _or_terms(columns: U8Array, terms: list[tuple[int, int]]) -> U8Array:
    result = _shift(columns[terms[0][0]], terms[0][1])
    for source, left in terms[1:]:
        result |= _shift(columns[source], left)
    return result


def pack_dots(dots: U8Array, fmt: DownloadFormat) -> bytes:
    """Pack dot values MSB-first at ``fmt.bits_per_dot`` (exactly ``fmt.wire_bytes``).

    Eight dots always fill ``bits_per_dot`` whole bytes, so the dots are taken
    as eight columns and each output byte column is the OR of the one or two
    shifted dot columns that reach it (:data:`TERMS`).
    """
    bits = fmt.bits_per_dot
    columns = np.ascontiguousarray(dots.reshape(-1, 8).T)
    out = np.empty((columns.shape[1], bits), dtype=np.uint8)
    for byte in range(bits):
        out[:, byte] = _or_terms(columns, [(i, s) for j, i, s in TERMS[bits] if j == byte])
    return out.tobytes()


def pack_panel(panel: PanelImage) -> bytes:
    """The ``Db`` data of ``panel`` (exactly ``wire_bytes`` long)."""
    return pack_dots(_dots(panel), download_format(panel.levels))


def unpack_dots(data: bytes, levels: int) -> U8Array:
    """Dot values from ``Db`` data; the inverse of :func:`pack_dots`."""
    fmt = download_format(levels)
    if len(data) != fmt.wire_bytes:
        raise ProtocolError(
            f"a {levels}-level download has {fmt.wire_bytes} bytes, not {len(data)}",
            raw_length=len(data),
        )
    return _unpack_columns(np.frombuffer(data, dtype=np.uint8), fmt.bits_per_dot)


def _unpack_columns(packed: U8Array, bits: int) -> U8Array:
    columns = np.ascontiguousarray(packed.reshape(-1, bits).T)
    dots = np.empty((columns.shape[1], 8), dtype=np.uint8)
    mask = np.uint8((1 << bits) - 1)
    for dot in range(8):
        terms = [(j, -s) for j, i, s in TERMS[bits] if i == dot]
        dots[:, dot] = _or_terms(columns, terms) & mask
    return dots.reshape(-1)


def unpack_panel(panel: Panel, levels: int, data: bytes) -> PanelImage:
    """Rebuild the :class:`PanelImage` a ``Db`` download carried."""
    return PanelImage(panel=panel, levels=levels, dots=unpack_dots(data, levels).tobytes())


def _mono_lines(panel: PanelImage) -> U8Array:
    if panel.levels != 2:
        raise PanelValueError(
            f"only 2-level panels compress, not {panel.levels}", panel=str(panel.panel)
        )
    return np.packbits(_dots(panel).reshape(PANEL_LINES, PANEL_DOTS), axis=1)


def compress_mono(panel: PanelImage) -> bytes:
    """The ``Dbc`` data of a 2-level panel as the vendor's driver sends it (83,312 bytes)."""
    lines = _mono_lines(panel)
    counts = np.full((PANEL_LINES, 1), DBC_LINE_BYTES, dtype=np.uint8)
    return np.hstack((counts, lines)).tobytes()


def decompress_mono(data: bytes) -> bytes:
    """Packed 1-bit lines (81 bytes each) from ``Dbc`` data; the inverse of the above."""
    out = bytearray()
    pos = 0
    while pos < len(data):
        if len(out) >= PANEL_LINES * DBC_LINE_BYTES:
            raise ProtocolError("compressed data runs past the panel's last line")
        head = data[pos]
        pos += 1
        line, pos = _expand_line(head, data, pos)
        out += line
    if len(out) != PANEL_LINES * DBC_LINE_BYTES:
        raise ProtocolError(f"compressed data holds {len(out) // DBC_LINE_BYTES} lines")
    return bytes(out)


def _expand_line(head: int, data: bytes, pos: int) -> tuple[bytes, int]:
    if head == WHITE_LINE:
        return bytes(DBC_LINE_BYTES), pos
    if head == BLACK_LINE:
        return b"\xff" * DBC_LINE_BYTES, pos
    if head > DBC_LINE_BYTES or pos + head > len(data):
        raise ProtocolError(f"a compressed line claims {head} bytes", line_head=head)
    body = data[pos : pos + head]
    return body + bytes(DBC_LINE_BYTES - head), pos + head


def unpack_compressed(panel: Panel, data: bytes) -> PanelImage:
    """Rebuild the 2-level :class:`PanelImage` a ``Dbc`` download carried."""
    packed = np.frombuffer(decompress_mono(data), dtype=np.uint8)
    dots = np.unpackbits(packed)
    return PanelImage(panel=panel, levels=2, dots=dots.tobytes())
