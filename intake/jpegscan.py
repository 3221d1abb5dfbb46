"""A JPEG's marker structure, read without decoding its pixels.

Design notes: ``docs/intake.md`` (section ``intake.jpegscan``).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from functools import lru_cache

import simplejpeg

SOI = b"\xff\xd8"
EOI_MARKER = 0xD9
SOS = 0xDA
BASELINE_SOF = 0xC0
# Every start-of-frame marker (C4 DHT, C8 JPG and CC DAC are not frames).
FRAMES = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# Markers that stand alone, without a length: TEM and RST0..RST7.
STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# In entropy-coded data: a marker is FF followed by anything but 00 (a stuffed byte),
# D0..D7 (a restart marker) or FF (fill: the marker follows); its code is group 1.
# (Written without ``\xff+``, which makes the search fifteen times slower.)
_DATA_MARKER = re.compile(rb"\xff([^\x00\xd0-\xd7\xff])")
_LENGTH = struct.Struct(">H")
_FRAME_SIZE = struct.Struct(">HH")  # height, width: after marker, length and precision
APP1 = 0xE1
EXIF_PREFIX = b"Exif\x00\x00"
# Segments libjpeg skips unread, and which differ from photo to photo: APP1 (EXIF, XMP)
# and COM. The others (frame, tables, restart interval, JFIF, ICC, Adobe) are read.
SKIPPED = frozenset({0xE1, 0xFE})
TABLES_CACHE = 256
# libjpeg's warning (JWRN_HIT_MARKER) for a scan whose data ends at once.
EMPTY_SCAN = "Corrupt JPEG data: premature end of data segment"
# libjpeg errors simplejpeg raises as ValueError; anything else from it is a fault as well.
_LIBJPEG_ERRORS = (ValueError, RuntimeError, OSError)


@dataclass(frozen=True)
class Header:
    """Where a baseline JPEG's scan data begins, the segments libjpeg interprets, the frame's
    size and the EXIF block (the first APP1 that starts ``Exif``, as Pillow takes it)."""

    start: int
    tables: bytes  # SOI, every segment up to and including SOS but the SKIPPED ones
    size: tuple[int, int]  # width, height as stored (before any EXIF orientation)
    exif: bytes | None


@dataclass
class _Reading:
    parts: list[bytes]
    frame: int | None = None
    size: tuple[int, int] = (0, 0)
    exif: bytes | None = None

    def segment(self, marker: int, segment: bytes) -> None:
        """Take note of one segment (its marker, length and payload)."""
        if marker in FRAMES:
            self.frame = marker
            height, width = _FRAME_SIZE.unpack_from(segment, 5)
            self.size = (width, height)
        if marker == APP1 and self.exif is None and segment[4:10] == EXIF_PREFIX:
            self.exif = segment[4:]
        if marker not in SKIPPED:
            self.parts.append(segment)


def read_header(data: bytes) -> Header | None:
    """The header of a baseline JPEG whose markers are well formed; None for any other file."""
    if not data.startswith(SOI):
        return None
    pos, seen = 2, _Reading([SOI])
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF or marker in STANDALONE:  # a fill byte, or a marker without length
            pos += 1 if marker == 0xFF else 2
            continue
        end = pos + 2 + _LENGTH.unpack_from(data, pos + 2)[0]
        if end > len(data) or marker == EOI_MARKER or (marker in FRAMES and end - pos < 10):
            return None
        seen.segment(marker, data[pos:end])
        if marker == SOS:
            if seen.frame != BASELINE_SOF:
                return None
            return Header(end, b"".join(seen.parts), seen.size, seen.exif)
        pos = end
    return None


def runs_to_eoi(data: bytes, start: int) -> bool:
    """True if the entropy-coded data from ``start`` ends with an EOI marker."""
    found = _DATA_MARKER.search(data, start)
    return found is not None and found.group(1)[0] == EOI_MARKER


@lru_cache(maxsize=TABLES_CACHE)
def tables_decode(tables: bytes) -> bool:
    """True if libjpeg-turbo accepts these header segments and starts the scan.

    The segments are decoded followed at once by EOI, in strict mode (every
    libjpeg warning is an error): the first, and for sound tables the only,
    complaint must be the empty scan's. Any other warning (an undefined Huffman
    table that libjpeg-turbo would otherwise stand in for, a progression
    parameter out of place) means not known sound. Remembered per set of
    segments: the photos of one batch usually share their tables.
    """
    try:
        simplejpeg.decode_jpeg(
            tables + b"\xff\xd9", min_height=1, min_width=1, min_factor=8, strict=True
        )
    except _LIBJPEG_ERRORS as exc:
        return str(exc) == EMPTY_SCAN
    return True


def sound_baseline(data: bytes) -> Header | None:
    """The header of ``data`` if it is a baseline JPEG that decodes without a fatal error;
    None if it is not known to be one."""
    header = read_header(data)
    if header is None or not runs_to_eoi(data, header.start) or not tables_decode(header.tables):
        return None
    return header
