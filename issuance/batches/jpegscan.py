"""A JPEG's marker structure, read without decoding its pixels.

A batch of 10 000 ID photos carries about 200 MB of entropy-coded data. Decoding
it only to learn that it is complete costs more than every other check of the
batch together, and finds little: libjpeg reports corrupt Huffman data as a
*warning* (a decoder fills the damage with grey), so the fatal faults a full
decode can meet in a baseline JPEG are all in its headers and tables, or a
file that ends before its data does.

:func:`sound_baseline` therefore looks at a JPEG's structure only and answers
whether it is a *sound baseline JPEG*:

* the markers from SOI to the first SOS are well formed, with lengths inside
  the file, and name a baseline frame (SOF0: 8-bit, Huffman, sequential);
* there is one scan, whose entropy-coded data (with its stuffed ``FF 00``
  bytes and ``RSTn`` markers) runs to an EOI marker;
* libjpeg-turbo (through ``simplejpeg``) accepts the headers, derives its
  Huffman and quantisation tables and starts decoding: the file's headers
  followed at once by EOI are decoded at 1/8 scale (the scan then reads as
  empty, which libjpeg reports as a warning, not an error).

Such a file decodes without a fatal error. Anything else (progressive or
arithmetic-coded frames, several scans, a stray marker in the data, a missing
EOI, tables libjpeg refuses) is *not known sound*: the caller then decodes it
in full and takes that verdict, so this never decides a refusal.
"""

from __future__ import annotations

import re
import struct

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
# libjpeg errors simplejpeg raises as ValueError; anything else from it is a fault as well.
_LIBJPEG_ERRORS = (ValueError, RuntimeError, OSError)


def scan_start(data: bytes) -> int | None:
    """Where the first scan's data begins in a baseline JPEG; None for any other file."""
    if not data.startswith(SOI):
        return None
    pos, frame = 2, None
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in STANDALONE:
            pos += 2
            continue
        end = pos + 2 + _LENGTH.unpack_from(data, pos + 2)[0]
        if end > len(data) or marker == EOI_MARKER:
            return None
        if marker in FRAMES:
            frame = marker
        if marker == SOS:
            return end if frame == BASELINE_SOF else None
        pos = end
    return None


def runs_to_eoi(data: bytes, start: int) -> bool:
    """True if the entropy-coded data from ``start`` ends with an EOI marker."""
    found = _DATA_MARKER.search(data, start)
    return found is not None and found.group(1)[0] == EOI_MARKER


def tables_decode(data: bytes, start: int) -> bool:
    """True if libjpeg-turbo accepts the headers before ``start`` and starts the scan."""
    try:
        simplejpeg.decode_jpeg(
            data[:start] + b"\xff\xd9", min_height=1, min_width=1, min_factor=8, strict=False
        )
    except _LIBJPEG_ERRORS:
        return False
    return True


def sound_baseline(data: bytes) -> bool:
    """True if ``data`` is a baseline JPEG that decodes without a fatal error."""
    start = scan_start(data)
    return start is not None and runs_to_eoi(data, start) and tables_decode(data, start)
