"""Holder photos: from untrusted bytes to an RGB picture that fits the photo box.

A photo arrives from a counter scanner, a citizen's phone or the bureau's
batch files, so it is treated as hostile input. :func:`load_photo` checks, in
this order and before any pixel is decoded:

1. the byte size (:attr:`PhotoLimits.max_bytes`);
2. the magic bytes: JPEG (``FF D8 FF``) or PNG (the 8-byte signature), and
   Pillow must identify the same format (a GIF renamed ``.jpg`` is refused);
3. the dimensions from the header, after EXIF orientation (a portrait shot
   stored sideways is measured upright). ``Image.open`` is lazy, so this costs
   nothing; Pillow's own decompression-bomb guard fires inside ``Image.open``
   and its warning is turned into an error here, whatever the process's
   warning filters, so a bomb is always a :class:`PhotoRejected`. (The
   filter is swapped with ``warnings.catch_warnings``, which is process-wide:
   another thread's warnings of that one category are raised meanwhile.)

Only then is the image decoded; a truncated or corrupt file fails there.
EXIF orientation is applied, and CMYK, palette, grey, 16-bit and alpha images
become RGB (transparent areas on white). Every refusal is a
:class:`PhotoRejected` (an :class:`sscard_core.errors.PhotoError`) whose
``reason`` says which check failed.

:func:`fit_photo` centre-crops to the box's aspect ratio (4:5 for the card's
20 x 25 mm box) and resamples to the box size.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sscard_core.errors import PhotoError


class PhotoReason(StrEnum):
    """Why a photo was refused (the ``reason`` field of the error)."""

    TOO_LARGE = "too_large"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_SMALL = "too_few_pixels"
    TOO_MANY_PIXELS = "too_many_pixels"
    DECOMPRESSION_BOMB = "decompression_bomb"
    CORRUPT = "corrupt"


class PhotoRejected(PhotoError):
    """A photo that cannot be used; ``reason`` names the failed check."""

    def __init__(self, reason: PhotoReason, message: str) -> None:
        super().__init__(message, reason=reason.value)
        self.reason = reason


class PhotoFormat(StrEnum):
    JPEG = "JPEG"
    PNG = "PNG"


@dataclass(frozen=True)
class PhotoLimits:
    """What an acceptable photo looks like; pixel limits apply to the upright image."""

    max_bytes: int = 2 * 1024 * 1024
    min_width: int = 102
    min_height: int = 126
    max_width: int = 4000
    max_height: int = 4000


DEFAULT_LIMITS = PhotoLimits()

MAGIC: tuple[tuple[bytes, PhotoFormat], ...] = (
    (b"\xff\xd8\xff", PhotoFormat.JPEG),
    (b"\x89PNG\r\n\x1a\n", PhotoFormat.PNG),
)

# Pillow format names accepted for each format (camera JPEGs often open as MPO).
PILLOW_FORMATS: dict[str, PhotoFormat] = {
    "JPEG": PhotoFormat.JPEG,
    "MPO": PhotoFormat.JPEG,
    "PNG": PhotoFormat.PNG,
}

# Pillow plugins tried by Image.open (the JPEG one also yields MPO images).
OPENERS = ("JPEG", "PNG")

# EXIF orientations (tag 0x0112) that swap width and height.
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_ORIENTATION_TAG = 0x0112

# Errors Pillow raises on a corrupt or truncated file.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error)

# Pillow names the file object it was given ("cannot identify image file <_io.BytesIO object
# at 0x7f...>"): meaningless to whoever sent the photo, and different on every run.
_OBJECT_REPR = re.compile(r"\s*<[\w.]+ object at 0x[0-9a-fA-F]+>")


def describe(exc: BaseException) -> str:
    """A decoder's error as a person can read it, without Python object addresses."""
    if isinstance(exc, UnidentifiedImageError):
        return "not an image Pillow can identify"
    return _OBJECT_REPR.sub("", str(exc)).strip(" :") or type(exc).__name__


@dataclass(frozen=True)
class HolderPhoto:
    """A decoded, upright RGB photo and the format it arrived in."""

    image: Image.Image
    source_format: PhotoFormat


def sniff_format(data: bytes) -> PhotoFormat:
    """The format announced by the magic bytes, or :class:`PhotoRejected`."""
    for magic, fmt in MAGIC:
        if data.startswith(magic):
            return fmt
    raise PhotoRejected(PhotoReason.UNSUPPORTED_FORMAT, "the photo must be a JPEG or PNG file")


def _open(data: bytes, expected: PhotoFormat) -> Image.Image:
    """Open lazily (header only), with Pillow's bomb warning raised as an error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(OPENERS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRejected(
            PhotoReason.DECOMPRESSION_BOMB, f"the photo declares too many pixels: {describe(exc)}"
        ) from exc
    except _DECODE_ERRORS as exc:
        raise PhotoRejected(
            PhotoReason.CORRUPT, f"the photo cannot be read: {describe(exc)}"
        ) from exc
    if PILLOW_FORMATS.get(image.format or "") is not expected:
        raise PhotoRejected(
            PhotoReason.UNSUPPORTED_FORMAT,
            f"the file starts like a {expected} but is {image.format}",
        )
    return image


def upright_size(image: Image.Image) -> tuple[int, int]:
    """Width and height once EXIF orientation is applied, from the header alone.

    The EXIF block is parsed from ``image.info`` rather than ``getexif()``,
    which on a PNG decodes the whole image to look for a trailing eXIf chunk.
    """
    return oriented_size(image.size, image.info.get("exif"))


def oriented_size(size: tuple[int, int], raw_exif: object) -> tuple[int, int]:
    """``size`` (width, height as stored) once the orientation in ``raw_exif`` is applied."""
    try:
        exif = Image.Exif()
        if isinstance(raw_exif, bytes):
            exif.load(raw_exif)
        orientation = exif.get(_ORIENTATION_TAG, 1)
    except _DECODE_ERRORS as exc:
        raise PhotoRejected(
            PhotoReason.CORRUPT, f"the photo's EXIF is corrupt: {describe(exc)}"
        ) from exc
    width, height = size
    return (height, width) if orientation in _SWAPPING_ORIENTATIONS else (width, height)


def check_dimensions(size: tuple[int, int], limits: PhotoLimits) -> None:
    """Refuse an upright ``size`` outside ``limits``."""
    width, height = size
    if width > limits.max_width or height > limits.max_height:
        raise PhotoRejected(
            PhotoReason.TOO_MANY_PIXELS,
            f"the photo is {width}x{height}; at most "
            f"{limits.max_width}x{limits.max_height} is accepted",
        )
    if width < limits.min_width or height < limits.min_height:
        raise PhotoRejected(
            PhotoReason.TOO_SMALL,
            f"the photo is {width}x{height}; at least "
            f"{limits.min_width}x{limits.min_height} is needed",
        )


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any decoded mode as RGB; transparency is flattened onto white."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L"):
        grey = np.asarray(image, dtype=np.uint32) // 257
        image = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8), mode="L")
    has_alpha = "A" in image.mode or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def _decode(image: Image.Image) -> Image.Image:
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
        return _to_rgb(upright)
    except _DECODE_ERRORS as exc:
        raise PhotoRejected(
            PhotoReason.CORRUPT, f"the photo cannot be decoded: {describe(exc)}"
        ) from exc


def load_photo(data: bytes, limits: PhotoLimits = DEFAULT_LIMITS) -> HolderPhoto:
    """Check and decode a holder photo; every refusal is a :class:`PhotoRejected`."""
    if len(data) > limits.max_bytes:
        raise PhotoRejected(
            PhotoReason.TOO_LARGE,
            f"the photo is {len(data)} bytes; at most {limits.max_bytes} are accepted",
        )
    fmt = sniff_format(data)
    with _open(data, fmt) as image:
        check_dimensions(upright_size(image), limits)
        decoded = _decode(image)
    check_dimensions(decoded.size, limits)  # an eXIf chunk after the pixels may rotate a PNG
    return HolderPhoto(image=decoded, source_format=fmt)


def fit_photo(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Centre-crop ``image`` to the aspect of ``size`` and resample to ``size``."""
    if image.size == size:
        return image
    return ImageOps.fit(image, size, method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
