"""Builders of batch files, photos and archives for the batch tests and benchmarks."""

from __future__ import annotations

import base64
import io
import random
import zipfile
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from issuance.domain.identity import CitizenId
from issuance.tools.testdata import random_citizen_id, random_name
from sscard_core.card_data import Gender

TODAY = date(2026, 11, 29)
EN_HEADER = ("citizen_id", "name", "gender", "birth_date", "ethnicity", "phone", "photo")
ZH_HEADER = ("身份证号", "姓名", "性别", "出生日期", "民族", "电话", "照片")


def jpeg(width: int = 120, height: int = 150, shade: int = 180) -> bytes:
    """A small, valid JPEG photo."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (shade, shade - 20, shade - 40)).save(out, "JPEG")
    return out.getvalue()


def portrait(seed: int = 0, noise: float = 5.0) -> bytes:
    """A photo the size of a real one: 358 x 441 (the ID-photo size), about 20 KB.

    A blurred head and shoulders with sensor-like noise, so the JPEG's entropy-coded
    data is as long as a scanned portrait's (a flat colour would compress to ~1 KB).
    """
    rng = np.random.default_rng(seed)
    width, height = 358, 441
    image = Image.new("RGB", (width, height), (236, 240, 245))
    draw = ImageDraw.Draw(image)
    draw.ellipse((104, 70, 254, 260), fill=(224, 186, 160))
    draw.rectangle((60, 300, 298, 441), fill=(40, 50, 80))
    draw.ellipse((90, 40, 268, 150), fill=(30, 25, 20))
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(3)), dtype=np.float32)
    pixels += rng.normal(0.0, noise, pixels.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=85)
    return out.getvalue()


@dataclass(frozen=True)
class Person:
    citizen_id: str
    name: str
    gender: str
    birth_date: str
    ethnicity: str = "1"
    phone: str = "13800138000"
    photo: str = ""

    def cells(self) -> tuple[str, ...]:
        return (
            self.citizen_id,
            self.name,
            self.gender,
            self.birth_date,
            self.ethnicity,
            self.phone,
            self.photo,
        )

    def as_json(self) -> dict[str, str]:
        return dict(zip(EN_HEADER, self.cells(), strict=True))


def person(rng: random.Random, index: int, name: str | None = None) -> Person:
    """A consistent applicant whose photo is ``photos/{index}.jpg``."""
    cid = CitizenId.parse(random_citizen_id(rng), today=TODAY)
    gender = "男" if cid.gender is Gender.MALE else "女"
    return Person(
        citizen_id=cid.value,
        name=name or random_name(rng),
        gender=gender,
        birth_date=cid.birth_date.isoformat(),
        photo=f"photos/{index}.jpg",
    )


def people(count: int, seed: int = 7) -> list[Person]:
    rng = random.Random(seed)
    return [person(rng, i) for i in range(count)]


def csv_text(rows: list[tuple[str, ...]], header: tuple[str, ...] = EN_HEADER) -> str:
    lines = [",".join(header), *(",".join(r) for r in rows)]
    return "\r\n".join(lines) + "\r\n"


def batch_csv(persons: list[Person], header: tuple[str, ...] = EN_HEADER) -> str:
    return csv_text([p.cells() for p in persons], header)


def photo_zip(persons: list[Person], photo: bytes | None = None) -> bytes:
    """A zip holding each person's photo (the same small JPEG under every name)."""
    data = photo or jpeg()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for p in persons:
            archive.writestr(p.photo, data)
    return out.getvalue()


def inline(p: Person, photo: bytes | None = None) -> dict[str, str]:
    """The person as a JSON object with an inline base64 photo."""
    body = p.as_json()
    del body["photo"]
    body["photo_base64"] = base64.b64encode(photo or jpeg()).decode()
    return body


def with_name(p: Person, name: str) -> Person:
    return replace(p, name=name)
