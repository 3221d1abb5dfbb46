"""The fast name and photo checks accept and refuse exactly what the full checks do."""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Sequence

import pytest
from PIL import Image

from intake.photo import DEFAULT_LIMITS, PhotoFormat, PhotoRejected, load_photo
from intake.screening import printed_name, screen_photo
from intake.typesetting import check_printable
from issuance.batches.archive import ZipPhotos
from issuance.batches.check import check_batch
from issuance.batches.rows import Applicant
from issuance.tools.testdata import random_name
from sscard_core.errors import InputError
from tests.unit.batches.builders import TODAY, batch_csv, jpeg, people, photo_zip, portrait


def _outcome(check: Callable[[], object]) -> tuple[str, str]:
    try:
        return "ok", str(check())
    except InputError as exc:
        return exc.code, exc.message


def _reason(check: Callable[[], object]) -> str:
    try:
        return str(check())
    except InputError as exc:
        return str(exc.fields.get("reason"))


def _png(size: tuple[int, int] = (120, 150), mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 20, 30, 128)).save(out, "PNG")
    return out.getvalue()


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: upright it is 150 wide and 120 high
    out = io.BytesIO()
    Image.new("RGB", (120, 150), (1, 2, 3)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def _saved(mode: str = "RGB", **options: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (120, 150), 90).save(out, "JPEG", **options)
    return out.getvalue()


def _bad_huffman_table(data: bytes) -> bytes:
    """The first DHT's code counts say 255 codes of 16 bits: libjpeg refuses the table."""
    at = data.index(b"\xff\xc4") + 5
    return data[:at] + bytes(15) + b"\xff" + data[at + 16 :]


def _bad_scan_parameters(data: bytes) -> bytes:
    """The third component names DC table 12 and the spectral selection starts at 120:
    libjpeg-turbo only warns of it, the full decode fails."""
    at = data.index(b"\xff\xda") + 10  # the third component's selectors, then Ss
    return data[:at] + b"\xc0\x78" + data[at + 2 :]


PORTRAIT = portrait()

PHOTOS: dict[str, bytes] = {
    "portrait": PORTRAIT,
    "portrait without eoi": PORTRAIT[:-2],
    "portrait cut short": PORTRAIT[:9000],
    "portrait cut short, eoi appended": PORTRAIT[:9000] + b"\xff\xd9",
    "portrait with a stray marker in its data": PORTRAIT[:9000] + b"\xff\xc4" + PORTRAIT[9000:],
    "portrait with bytes after eoi": PORTRAIT + b"trailing bytes",
    "portrait with a bad huffman table": _bad_huffman_table(PORTRAIT),
    "portrait with bad scan parameters": _bad_scan_parameters(PORTRAIT),
    "progressive jpeg": _saved(progressive=True),
    "jpeg with restart markers": _saved(restart_marker_rows=1),
    "grey jpeg": _saved("L"),
    "cmyk jpeg": _saved("CMYK"),
    "jpeg": jpeg(),
    "large jpeg": jpeg(1200, 1500),
    "truncated jpeg": jpeg(600, 750)[:-400],
    "corrupt scan": jpeg(600, 750)[:700] + bytes(range(256)) * 8 + jpeg(600, 750)[2748:],
    "too small jpeg": jpeg(60, 80),
    "too large jpeg": jpeg(4100, 120),
    "rotated jpeg": _exif_rotated_jpeg(),
    "png": _png(),
    "truncated png": _png()[:-30],
    "gif": b"GIF89a" + bytes(40),
    "jpeg magic, not a jpeg": b"\xff\xd8\xff" + bytes(200),
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_a_photo_is_screened_as_the_full_decode_judges_it(name: str) -> None:
    data = PHOTOS[name]
    full = _reason(lambda: load_photo(data, DEFAULT_LIMITS).source_format)
    fast = _reason(lambda: screen_photo(data, DEFAULT_LIMITS))
    assert fast == full


def _rotated_portrait() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 8
    out = io.BytesIO()
    Image.open(io.BytesIO(PORTRAIT)).save(out, "JPEG", exif=exif.tobytes(), quality=80)
    return out.getvalue()


@pytest.mark.parametrize("base", [PORTRAIT, _rotated_portrait()], ids=["plain", "exif rotated"])
def test_mutated_photos_are_screened_as_the_full_decode_judges_them(base: bytes) -> None:
    """Truncations, overwritten bytes (FF among them) and insertions anywhere in the file."""
    rng = random.Random(17)
    header_end = base.index(b"\xff\xda")
    for _ in range(300):
        data = bytearray(base)
        # half of the mutations hit the headers, where every byte matters
        at = rng.randrange(header_end) if rng.random() < 0.5 else rng.randrange(len(base))
        patch = bytes(rng.choice((0xFF, 0x00, 0xD9, rng.randrange(256))) for _ in range(2))
        kind = rng.choice(("cut", "overwrite", "insert"))
        if kind == "cut":
            del data[at:]
        elif kind == "overwrite":
            data[at : at + 2] = patch
        else:
            data[at:at] = patch
        mutated = bytes(data)
        full = _reason(lambda m=mutated: load_photo(m, DEFAULT_LIMITS).source_format)
        fast = _reason(lambda m=mutated: screen_photo(m, DEFAULT_LIMITS))
        assert fast == full, (kind, at, patch)


def test_the_reason_of_a_refused_photo_is_kept() -> None:
    with pytest.raises(PhotoRejected) as caught:
        screen_photo(jpeg(60, 80), DEFAULT_LIMITS)
    assert caught.value.fields["reason"] == "too_few_pixels"
    assert screen_photo(jpeg(), DEFAULT_LIMITS) is PhotoFormat.JPEG


NAMES = [
    "张三", "欧阳娜娜", "阿依古丽·买买提", "阿卜杜热合曼·阿卜杜克热木·买买提依明",
    "王" * 20, "李\u200b四", "张三!", "𠮷野家", "MARIE CURIE", "张 三", "",
]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_a_name_is_judged_as_check_printable_judges_it(name: str) -> None:
    assert _outcome(lambda: printed_name(name)) == _outcome(lambda: check_printable(name))


def test_random_names_agree_with_check_printable() -> None:
    rng = random.Random(5)
    for _ in range(500):
        name = random_name(rng)
        assert printed_name(name) == check_printable(name)


def test_chunks_are_handed_on_as_they_pass_and_cover_every_applicant() -> None:
    persons = people(2_300, seed=3)
    handed: list[list[Applicant]] = []
    asked: list[int] = []

    def has_active_card(ids: Sequence[str]) -> set[str]:
        asked.append(len(ids))
        return {persons[5].citizen_id}

    with ZipPhotos(photo_zip(persons)) as photos:
        found = check_batch(
            batch_csv(persons).encode(), photos=photos, partial=True, today=TODAY,
            has_active_card=has_active_card, on_chunk=lambda c: handed.append(list(c)),
        )  # fmt: skip
    assert asked == [250, 1000, 1000, 50]  # the first chunk is handed on early
    assert [len(c) for c in handed] == [249, 1000, 1000, 50]
    assert [a for chunk in handed for a in chunk] == list(found.applicants)
    assert [p.code for p in found.problems] == ["active_card"]
