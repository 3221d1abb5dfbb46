"""Holder photos: every kind of bad file is refused with its reason; good ones become RGB."""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from intake.photo import (
    DEFAULT_LIMITS,
    PhotoFormat,
    PhotoLimits,
    PhotoReason,
    PhotoRejected,
    fit_photo,
    load_photo,
)
from sscard_core.errors import PhotoError


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def portrait(
    width: int = 240, height: int = 300, colour: tuple[int, int, int] = (40, 90, 200)
) -> Image.Image:
    return Image.new("RGB", (width, height), colour)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` with a one-byte image stream."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def rejected(data: bytes, limits: PhotoLimits = DEFAULT_LIMITS) -> PhotoRejected:
    with pytest.raises(PhotoRejected) as info:
        load_photo(data, limits)
    return info.value


def test_a_jpeg_loads_as_rgb() -> None:
    photo = load_photo(encode(portrait(), "JPEG", quality=95))
    assert photo.source_format is PhotoFormat.JPEG
    assert photo.image.mode == "RGB"
    assert photo.image.size == (240, 300)
    r, g, b = photo.image.getpixel((120, 150))  # type: ignore[misc]
    assert abs(r - 40) <= 3 and abs(g - 90) <= 3 and abs(b - 200) <= 3


def test_a_png_loads_as_rgb() -> None:
    photo = load_photo(encode(portrait(), "PNG"))
    assert photo.source_format is PhotoFormat.PNG
    assert photo.image.getpixel((0, 0)) == (40, 90, 200)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP"])
def test_other_formats_are_refused(fmt: str) -> None:
    error = rejected(encode(portrait(), fmt))
    assert error.reason is PhotoReason.UNSUPPORTED_FORMAT
    assert "JPEG or PNG" in error.message


def test_the_error_is_a_photo_error_with_a_reason_field() -> None:
    error = rejected(b"GIF89a")
    assert isinstance(error, PhotoError)
    assert error.to_dict() == {
        "code": "invalid_photo",
        "message": error.message,
        "reason": "unsupported_format",
    }


def test_too_many_bytes_is_refused_before_anything_else() -> None:
    error = rejected(b"\xff\xd8\xff" + bytes(DEFAULT_LIMITS.max_bytes))
    assert error.reason is PhotoReason.TOO_LARGE


def test_the_byte_limit_is_configurable() -> None:
    data = encode(portrait(), "PNG")
    error = rejected(data, PhotoLimits(max_bytes=len(data) - 1))
    assert error.reason is PhotoReason.TOO_LARGE
    assert load_photo(data, PhotoLimits(max_bytes=len(data))).image.size == (240, 300)


def test_too_many_pixels_is_refused() -> None:
    error = rejected(encode(portrait(4100, 130), "PNG"))
    assert error.reason is PhotoReason.TOO_MANY_PIXELS
    assert "4100x130" in error.message


def test_too_few_pixels_is_refused() -> None:
    error = rejected(encode(portrait(101, 200), "PNG"))
    assert error.reason is PhotoReason.TOO_SMALL


def test_pixel_limits_are_checked_before_decoding() -> None:
    # 5000 x 5000 declared, but no pixel data: decoding would fail as corrupt.
    error = rejected(png_header_only(5000, 5000))
    assert error.reason is PhotoReason.TOO_MANY_PIXELS


@pytest.mark.parametrize("side", [10_000, 30_000])  # Pillow's warning, then its error
def test_a_decompression_bomb_is_refused(side: int) -> None:
    error = rejected(png_header_only(side, side))
    assert error.reason is PhotoReason.DECOMPRESSION_BOMB


def test_a_bomb_is_refused_even_where_warnings_are_ignored() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        error = rejected(png_header_only(10_000, 10_000))
    assert error.reason is PhotoReason.DECOMPRESSION_BOMB


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_truncated_file_is_corrupt(fmt: str) -> None:
    rng = np.random.default_rng(7)
    noisy = Image.fromarray(rng.integers(0, 256, (300, 240, 3), dtype=np.uint8))
    data = encode(noisy, fmt)
    error = rejected(data[: len(data) // 2])
    assert error.reason is PhotoReason.CORRUPT


def test_garbage_after_the_magic_is_corrupt() -> None:
    error = rejected(b"\x89PNG\r\n\x1a\n" + b"not a png at all" * 10)
    assert error.reason is PhotoReason.CORRUPT


def test_a_cmyk_jpeg_becomes_rgb() -> None:
    red = Image.new("CMYK", (240, 300), (0, 255, 255, 0))
    photo = load_photo(encode(red, "JPEG", quality=95))
    assert photo.image.mode == "RGB"
    r, g, b = photo.image.getpixel((120, 150))  # type: ignore[misc]
    assert r > 220 and g < 40 and b < 40


def test_a_palette_png_with_transparency_becomes_rgb_on_white() -> None:
    image = Image.new("P", (240, 300), 1)
    image.putpalette([0, 0, 0, 200, 30, 30] + [0, 0, 0] * 254)
    image.paste(0, (0, 0, 120, 300))
    photo = load_photo(encode(image, "PNG", transparency=0))
    assert photo.image.mode == "RGB"
    assert photo.image.getpixel((10, 10)) == (255, 255, 255)
    assert photo.image.getpixel((200, 10)) == (200, 30, 30)


def test_a_grey_png_with_alpha_becomes_rgb() -> None:
    image = Image.new("LA", (240, 300), (60, 255))
    image.paste((0, 0), (0, 0, 10, 10))
    photo = load_photo(encode(image, "PNG"))
    assert photo.image.getpixel((100, 100)) == (60, 60, 60)
    assert photo.image.getpixel((5, 5)) == (255, 255, 255)


def test_a_sixteen_bit_png_becomes_rgb() -> None:
    grey = np.full((300, 240), 0x8080, dtype=np.uint16)
    photo = load_photo(encode(Image.fromarray(grey), "PNG"))
    assert photo.image.mode == "RGB"
    assert photo.image.getpixel((0, 0)) == (128, 128, 128)


def _sideways_jpeg(width: int, height: int) -> bytes:
    """A JPEG stored ``width`` x ``height`` whose EXIF says: rotate 90 degrees clockwise."""
    image = Image.new("RGB", (width, height), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 40, 40))  # a black block in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(image, "JPEG", quality=95, exif=exif.tobytes())


def test_exif_orientation_is_applied() -> None:
    photo = load_photo(_sideways_jpeg(300, 240))
    assert photo.image.size == (240, 300)
    # Rotating clockwise takes the stored top-left corner to the top-right.
    assert photo.image.getpixel((220, 20))[0] < 40  # type: ignore[index]
    assert photo.image.getpixel((20, 20))[0] > 215  # type: ignore[index]


def test_pixel_limits_apply_to_the_upright_photo() -> None:
    # Stored 130 x 110 (too short as stored), upright 110 x 130: acceptable.
    assert load_photo(_sideways_jpeg(130, 110)).image.size == (110, 130)


def test_fit_photo_centre_crops_to_the_box_aspect() -> None:
    wide = Image.new("RGB", (400, 200), (255, 0, 0))
    wide.paste((0, 0, 255), (150, 0, 250, 200))  # a blue band in the middle
    fitted = fit_photo(wide, (80, 100))
    assert fitted.size == (80, 100)
    # 4:5 of a 200-high image is 160 wide: columns 120..280, so the band fills the centre.
    r, _, b = fitted.getpixel((40, 50))  # type: ignore[misc]
    assert b > 200 and r < 50
    r, _, b = fitted.getpixel((2, 50))  # type: ignore[misc]
    assert r > 200 and b < 50


def test_fit_photo_keeps_an_image_of_the_right_size() -> None:
    image = portrait(80, 100)
    assert fit_photo(image, (80, 100)) is image


@pytest.mark.parametrize(
    "data", [b"\xff\xd8\xff" + b"\0" * 64, b"\x89PNG\r\n\x1a\n" + b"junk" * 16]
)
def test_a_corrupt_photo_is_described_without_python_object_addresses(data: bytes) -> None:
    error = rejected(data)
    assert error.reason is PhotoReason.CORRUPT
    assert "object at 0x" not in error.message
    assert "<_io" not in error.message
