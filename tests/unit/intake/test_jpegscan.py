"""The marker-structure reading of a JPEG: which files are known sound without a decode."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from intake.jpegscan import read_header, runs_to_eoi, sound_baseline, tables_decode
from tests.unit.batches.builders import jpeg, portrait

PORTRAIT = portrait()


def _saved(**options: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 150), (9, 8, 7)).save(out, "JPEG", **options)
    return out.getvalue()


@pytest.mark.parametrize(
    "data", [PORTRAIT, jpeg(), _saved(restart_marker_rows=1), PORTRAIT + b"after eoi"],
    ids=["portrait", "flat", "restart markers", "bytes after eoi"],
)  # fmt: skip
def test_a_sound_baseline_jpeg_is_known_sound(data: bytes) -> None:
    assert sound_baseline(data)


NOT_KNOWN_SOUND = {
    "no eoi": PORTRAIT[:-2],
    "cut short": PORTRAIT[:5000],
    "stray marker in the data": PORTRAIT[:5000] + b"\xff\xc4\x00\x02" + PORTRAIT[5000:],
    "progressive": _saved(progressive=True),
    "png": b"\x89PNG\r\n\x1a\n" + bytes(40),
    "segment longer than the file": PORTRAIT[:30],
    "eoi before any scan": b"\xff\xd8\xff\xd9",
}


@pytest.mark.parametrize("name", sorted(NOT_KNOWN_SOUND))
def test_anything_else_is_left_to_the_full_decode(name: str) -> None:
    assert not sound_baseline(NOT_KNOWN_SOUND[name])


def _start(data: bytes) -> int:
    header = read_header(data)
    assert header is not None
    return header.start


def test_the_scan_starts_after_the_sos_segment_and_runs_to_the_last_marker() -> None:
    start = _start(PORTRAIT)
    sos = PORTRAIT.rindex(b"\xff\xda", 0, start)
    assert start == sos + 2 + int.from_bytes(PORTRAIT[sos + 2 : sos + 4], "big")
    assert runs_to_eoi(PORTRAIT, start)
    assert not runs_to_eoi(PORTRAIT[:-1], start)


def test_fill_bytes_before_the_eoi_are_allowed() -> None:
    assert runs_to_eoi(PORTRAIT[:-2] + b"\xff\xff\xff\xd9", _start(PORTRAIT))


def _with_exif(data: bytes, text: bytes) -> bytes:
    segment = b"\xff\xe1" + (len(text) + 2).to_bytes(2, "big") + text
    return data[:2] + segment + data[2:]


def test_the_tables_leave_out_exif_and_comments_only() -> None:
    plain = read_header(PORTRAIT)
    tagged = read_header(_with_exif(PORTRAIT, b"Exif\x00\x00 taken 2026-11-29"))
    assert plain is not None and tagged is not None
    assert tagged.tables == plain.tables
    assert tagged.start == plain.start + 4 + len(b"Exif\x00\x00 taken 2026-11-29")
    assert plain.tables.startswith(b"\xff\xd8\xff\xe0")  # JFIF (APP0) is read by libjpeg
    assert plain.tables.endswith(PORTRAIT[PORTRAIT.index(b"\xff\xda") : plain.start])


def test_tables_libjpeg_refuses_are_not_known_sound() -> None:
    plain = read_header(PORTRAIT)
    assert plain is not None and tables_decode(plain.tables)
    at = PORTRAIT.index(b"\xff\xc4") + 5  # the first DHT's code counts
    broken = PORTRAIT[:at] + bytes(15) + b"\xff" + PORTRAIT[at + 16 :]
    header = read_header(broken)
    assert header is not None and not tables_decode(header.tables)
    assert not sound_baseline(broken)


def test_a_warning_other_than_the_empty_scan_is_not_known_sound() -> None:
    """Scan parameters out of place are only a warning to libjpeg-turbo; Pillow refuses them."""
    at = PORTRAIT.index(b"\xff\xda") + 11  # Ss, the start of spectral selection
    odd = PORTRAIT[:at] + b"\x78" + PORTRAIT[at + 1 :]
    header = read_header(odd)
    assert header is not None and not tables_decode(header.tables)
    assert not sound_baseline(odd)
