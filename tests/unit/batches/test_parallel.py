"""The pool of worker processes gives exactly the serial check's outcome."""

from __future__ import annotations

import io
import json
import multiprocessing
import random
import zipfile
from collections.abc import Sequence
from dataclasses import replace

import pytest

from issuance.batches import parallel
from issuance.batches.archive import ZipPhotos
from issuance.batches.check import BatchCheck, check_batch
from issuance.batches.parallel import CHUNK_ROWS, PARALLEL_MIN_ROWS
from issuance.batches.rows import Applicant, ArchivePhoto
from sscard_core.errors import BatchRejected, FieldProblem

from .builders import TODAY, Person, batch_csv, csv_text, inline, jpeg, people, with_name

ROWS = 3 * CHUNK_ROWS + 137  # four chunks, the last one short
PHOTO = jpeg()
C = CHUNK_ROWS
EXPECTED = [  # (line, code), the header being line 1
    (5, "citizen_id_check_digit"),
    (11, "active_card"),
    (C + 1, "unprintable_character"),
    (C + 2, "gender_mismatch"),
    (C + 11, "archive_refused:no_such_member"),
    (C + 42, "truncated_row"),
    (2 * C + 4, "invalid_ethnicity"),
    (2 * C + 4, "invalid_phone"),
    (2 * C + 5, "birth_date_mismatch"),
    (2 * C + 5, "duplicate_in_batch"),
    (2 * C + 300, "active_card"),
    (3 * C + 8, "invalid_photo:corrupt"),
    (ROWS + 1, "required"),
]


def _zip(persons: Sequence[Person], corrupt: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for p in persons:
            data = PHOTO[:200] if p.photo == corrupt else PHOTO
            archive.writestr(p.photo, data)
    return out.getvalue()


def _spoiled(persons: list[Person]) -> list[Person]:
    """Bad rows of several kinds, spread over every chunk."""
    bad = list(persons)
    wrong_digit = "0" if bad[3].citizen_id[-1] != "0" else "1"
    bad[3] = replace(bad[3], citizen_id=bad[3].citizen_id[:-1] + wrong_digit)
    bad[CHUNK_ROWS - 1] = with_name(bad[CHUNK_ROWS - 1], "张\U00020000")
    bad[CHUNK_ROWS] = replace(
        bad[CHUNK_ROWS], gender="男" if bad[CHUNK_ROWS].gender == "女" else "女"
    )
    bad[CHUNK_ROWS + 9] = replace(bad[CHUNK_ROWS + 9], photo="photos/absent.jpg")
    bad[2 * CHUNK_ROWS + 1] = replace(bad[2 * CHUNK_ROWS + 1], ethnicity="99", phone="call me")
    bad[2 * CHUNK_ROWS + 2] = replace(bad[2 * CHUNK_ROWS + 2], citizen_id=bad[7].citizen_id)
    bad[ROWS - 2] = replace(bad[ROWS - 2], name="")
    return bad


@pytest.fixture(scope="module")
def batch() -> tuple[bytes, bytes]:
    persons = people(ROWS, seed=23)
    corrupt = persons[3 * CHUNK_ROWS + 5].photo
    rows = [p.cells() for p in _spoiled(persons)]
    rows.insert(CHUNK_ROWS + 40, ("110101199001011237", "王五"))  # a truncated row
    return csv_text(rows).encode("gb18030"), _zip(persons, corrupt)


def _check(
    batch: tuple[bytes, bytes], workers: int, *, partial: bool = True, max_rows: int = 10_000
) -> tuple[BatchCheck, list[list[Applicant]]]:
    text, archive = batch
    handed: list[list[Applicant]] = []
    active = set(_ids(text, (11, 2 * CHUNK_ROWS + 300)))
    with ZipPhotos(archive) as photos:
        found = check_batch(
            text, photos=photos, partial=partial, today=TODAY, workers=workers,
            has_active_card=lambda ids: active & set(ids), max_rows=max_rows,
            on_chunk=lambda chunk: handed.append(list(chunk)),
        )  # fmt: skip
        for a in found.applicants[:: CHUNK_ROWS // 2]:
            assert isinstance(a.photo, ArchivePhoto)
            assert a.photo.archive is photos
            assert a.photo.read() == PHOTO
    return found, handed


def _ids(text: bytes, lines: tuple[int, ...]) -> list[str]:
    rows = text.decode("gb18030").split("\r\n")
    return [rows[line - 1].split(",")[0] for line in lines]


def test_parallel_and_serial_checks_agree(batch: tuple[bytes, bytes]) -> None:
    serial, serial_chunks = _check(batch, workers=1)
    pooled, pooled_chunks = _check(batch, workers=2)
    assert pooled == serial
    assert pooled_chunks == serial_chunks
    assert [(p.line, p.code) for p in serial.problems] == EXPECTED
    assert len(serial.applicants) == ROWS + 1 - len({line for line, _ in EXPECTED})
    assert not multiprocessing.active_children()


def test_rejected_batches_agree(batch: tuple[bytes, bytes]) -> None:
    outcomes: list[tuple[FieldProblem, ...]] = []
    for workers in (1, 2):
        with pytest.raises(BatchRejected) as caught:
            _check(batch, workers, partial=False)
        outcomes.append(tuple(caught.value.problems))
    assert outcomes[0] == outcomes[1]
    assert len(outcomes[0]) >= 10


def test_too_many_rows_agree(batch: tuple[bytes, bytes]) -> None:
    serial, _ = _check(batch, workers=1, max_rows=2 * CHUNK_ROWS + 3)
    pooled, _ = _check(batch, workers=2, max_rows=2 * CHUNK_ROWS + 3)
    assert pooled == serial
    assert serial.rows_read == 2 * CHUNK_ROWS + 4
    assert serial.problems[-1].code == "too_many_rows"


def test_inline_photos_agree() -> None:
    rng = random.Random(5)
    persons = people(PARALLEL_MIN_ROWS + 20, seed=rng.randrange(1000))
    items = [inline(p) for p in persons]
    items[PARALLEL_MIN_ROWS + 3]["photo_base64"] = "not base64!"
    text = json.dumps(items).encode()
    serial = check_batch(text, partial=True, today=TODAY, workers=1)
    pooled = check_batch(text, partial=True, today=TODAY, workers=2)
    assert pooled == serial
    assert [p.code for p in serial.problems] == ["invalid_base64"]
    assert pooled.applicants[-1].photo.read() == serial.applicants[-1].photo.read()


def test_small_batches_are_checked_in_this_process() -> None:
    persons = people(20, seed=3)
    text = batch_csv(persons).encode()
    archive = _zip(persons, corrupt="")
    with ZipPhotos(archive) as photos:
        found = check_batch(text, photos=photos, today=TODAY, workers=2)
    assert len(found.applicants) == 20
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("workers", [2, 4, 16, 64])
def test_processes_and_chunks_in_flight_do_not_grow_with_the_cores(workers: int) -> None:
    processes, in_flight = parallel.pool_bounds(workers)
    assert processes == min(workers, parallel.MAX_WORKERS)
    assert in_flight <= parallel.MAX_IN_FLIGHT
    assert parallel.pool_bounds(2) == (2, 2 * parallel.IN_FLIGHT_PER_WORKER)  # 2 cores as before


def test_a_many_core_host_holds_no_more_chunks_than_a_small_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Asked for 16 workers, the check never has more than MAX_IN_FLIGHT chunks unmerged."""
    unmerged: list[int] = []
    most = 0
    real_submit, real_merge = parallel._submit, parallel._merge

    def submit(*args: object, **kwargs: object) -> object:
        nonlocal most
        unmerged.append(1)
        most = max(most, len(unmerged))
        return real_submit(*args, **kwargs)  # type: ignore[arg-type]

    def merge(*args: object) -> object:
        unmerged.pop()
        return real_merge(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "_submit", submit)
    monkeypatch.setattr(parallel, "_merge", merge)
    persons = people(CHUNK_ROWS * 12, seed=3)
    with ZipPhotos(_zip(persons, corrupt="")) as photos:
        checked = check_batch(batch_csv(persons).encode(), photos=photos, today=TODAY, workers=16)
    assert len(checked.applicants) == len(persons)
    assert most == parallel.MAX_IN_FLIGHT + 1  # the one just sent, before the oldest is merged
