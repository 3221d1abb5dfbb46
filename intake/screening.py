"""Fast, equivalent checks of an applicant's name and photo, at the counter and in batches.

Design notes: ``docs/intake.md`` (section ``intake.screening``).
"""

from __future__ import annotations

import io
import warnings
from functools import cache, lru_cache

from PIL import Image

from intake.fonts import card_font, normalise_name, refused_name_characters
from intake.jpegscan import sound_baseline
from intake.photo import (
    PILLOW_FORMATS,
    PhotoFormat,
    PhotoLimits,
    PhotoReason,
    PhotoRejected,
    check_dimensions,
    describe,
    load_photo,
    oriented_size,
    sniff_format,
    upright_size,
)
from intake.typesetting import DEFAULT_LAYOUT, check_printable, mm_to_px
from sscard_core.errors import FieldError, UnprintableName

WIDTH_MARGIN_PX = 2
NAME_CACHE = 65_536
DRAFT_SIZE = (1, 1)  # ask for the smallest DCT scale (1/8)

_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError)


def _open_jpeg(data: bytes) -> Image.Image:
    """Open a JPEG header, with Pillow's bomb warning raised as an error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["JPEG"])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRejected(
            PhotoReason.DECOMPRESSION_BOMB, f"the photo declares too many pixels: {describe(exc)}"
        ) from exc
    except _DECODE_ERRORS as exc:
        raise PhotoRejected(
            PhotoReason.CORRUPT, f"the photo cannot be read: {describe(exc)}"
        ) from exc
    if PILLOW_FORMATS.get(image.format or "") is not PhotoFormat.JPEG:
        raise PhotoRejected(
            PhotoReason.UNSUPPORTED_FORMAT, f"the file starts like a JPEG but is {image.format}"
        )
    return image


def _draft_decode(image: Image.Image) -> None:
    try:
        image.draft(image.mode, DRAFT_SIZE)
        image.load()
    except _DECODE_ERRORS as exc:
        raise PhotoRejected(
            PhotoReason.CORRUPT, f"the photo cannot be decoded: {describe(exc)}"
        ) from exc


def screen_photo(data: bytes, limits: PhotoLimits) -> PhotoFormat:
    """Accept or refuse a photo as :func:`load_photo` would; the format it is in."""
    if len(data) > limits.max_bytes:
        raise PhotoRejected(
            PhotoReason.TOO_LARGE,
            f"the photo is {len(data)} bytes; at most {limits.max_bytes} are accepted",
        )
    fmt = sniff_format(data)
    if fmt is not PhotoFormat.JPEG:
        return load_photo(data, limits).source_format
    if _sound_and_within(data, limits):
        return fmt
    with _open_jpeg(data) as image:
        check_dimensions(upright_size(image), limits)
        _draft_decode(image)
    return fmt


def _sound_and_within(data: bytes, limits: PhotoLimits) -> bool:
    """True for a sound baseline JPEG whose upright size is within ``limits``.

    Such a photo is accepted without Pillow: its size and EXIF orientation come
    from the header :func:`sound_baseline` read. Any doubt (a size Pillow would
    call a decompression bomb, an EXIF block that does not parse, a size out of
    bounds) leaves the verdict, and its reason, to the full path.
    """
    header = sound_baseline(data)
    if header is None:
        return False
    width, height = header.size
    if width * height > (Image.MAX_IMAGE_PIXELS or 0):
        return False
    try:
        check_dimensions(oriented_size(header.size, header.exif), limits)
    except PhotoRejected:
        return False
    return True


@cache
def _largest() -> tuple[int, int]:
    """The largest name size in dots and the width a name may take at it."""
    lay = DEFAULT_LAYOUT
    return mm_to_px(lay.value_size_mm), lay.field_width_px - 2 * lay.stroke_px - WIDTH_MARGIN_PX


@lru_cache(maxsize=NAME_CACHE)
def _advance(char: str) -> float:
    return float(card_font(_largest()[0]).getlength(char))


def _fits_at_largest(printed: str) -> bool:
    return sum(_advance(c) for c in printed) <= _largest()[1]


@lru_cache(maxsize=NAME_CACHE)
def _accepted(name: str) -> str | None:
    """``check_printable``'s result for a name it accepts; None for one it refuses."""
    try:
        return check_printable(name)
    except (UnprintableName, FieldError):
        return None


def printed_name(name: str) -> str:
    """The name as printed, or the error :func:`check_printable` would raise."""
    printed = normalise_name(name).strip()
    if printed and printed == name and _fits_at_largest(printed):
        missing = refused_name_characters(name)
        if missing:
            raise UnprintableName(name, missing)
        return printed
    accepted = _accepted(name)
    return check_printable(name) if accepted is None else accepted  # raises the refusal
