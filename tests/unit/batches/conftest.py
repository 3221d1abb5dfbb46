from __future__ import annotations

from collections.abc import Iterator

import pytest

from issuance.batches.archive import ZipPhotos

from .builders import Person, people, photo_zip


@pytest.fixture
def five() -> list[Person]:
    return people(5)


@pytest.fixture
def five_photos(five: list[Person]) -> Iterator[ZipPhotos]:
    with ZipPhotos(photo_zip(five)) as photos:
        yield photos
