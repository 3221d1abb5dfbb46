"""Speed of making a card face: render + rasterise one card (target: under 20 ms).

Run with ``pytest benchmarks/bench_face.py --benchmark-enable``.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from pytest_benchmark.fixture import BenchmarkFixture

from intake.photo import HolderPhoto, load_photo
from printers.documents.face import render_face
from printers.documents.panels import CardSide
from printers.documents.raster import rasterise
from sscard_core.card_data import Gender
from tests.samples import card_data

DATA = card_data(name="阿依古丽·买买提", gender=Gender.FEMALE, ethnicity=5)


def id_photo() -> Image.Image:
    """A photo the size of a scanned 2-inch ID photo (358 x 441)."""
    rng = np.random.default_rng(11)
    return Image.fromarray(rng.integers(0, 256, (441, 358, 3), dtype=np.uint8))


def test_render_and_rasterise_one_card(benchmark: BenchmarkFixture) -> None:
    photo = id_photo()

    def make() -> CardSide:
        return rasterise(render_face(DATA, photo), colour_levels=32)

    make()  # load the font sizes and the label layer once, as a running outlet has
    side = benchmark(make)
    assert len(side.panels) == 5


def test_load_a_jpeg_photo(benchmark: BenchmarkFixture) -> None:
    out = io.BytesIO()
    id_photo().save(out, format="JPEG", quality=90)
    data = out.getvalue()

    photo: HolderPhoto = benchmark(load_photo, data)
    assert photo.image.size == (358, 441)
