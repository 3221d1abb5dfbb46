"""Speed and memory of expedited small batches.

* checking a 10 000-row CSV whose 10 000 photos sit in a zip (every row's ID,
  name, font coverage and photo decode), and the peak memory of that check
  measured with ``tracemalloc`` (printed; run with ``-s`` to see it);
* rendering a 10 000-row manifest with a QR code per card (target: under 5 s).

Run with ``pytest benchmarks/bench_batches.py --benchmark-enable -s``.
"""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from issuance.batches.archive import ZipPhotos
from issuance.batches.check import BatchCheck, check_batch
from issuance.domain.identity import random_citizen_id
from issuance.domain.names import random_name
from printers.manifest import BatchHeading, CardStatus, ManifestEntry, manifest_pdf
from tests.unit.batches.builders import TODAY, batch_csv, people, photo_zip

ROWS = 10_000


@pytest.fixture(scope="module")
def big_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 10 000-row GB 18030 CSV file and its zip of 10 000 small JPEG photos."""
    folder = tmp_path_factory.mktemp("batch")
    persons = people(ROWS, seed=11)
    csv_path = folder / "batch.csv"
    csv_path.write_bytes(batch_csv(persons).encode("gb18030"))
    zip_path = folder / "photos.zip"
    zip_path.write_bytes(photo_zip(persons))
    return csv_path, zip_path


def _check(csv_path: Path, zip_path: Path) -> BatchCheck:
    with ZipPhotos(zip_path) as photos:
        return check_batch(csv_path, photos=photos, today=TODAY)


def test_check_10000_rows_with_photos(
    benchmark: BenchmarkFixture, big_batch: tuple[Path, Path]
) -> None:
    csv_path, zip_path = big_batch
    result = benchmark.pedantic(_check, args=big_batch, rounds=3)  # type: ignore[no-untyped-call]
    assert len(result.applicants) == ROWS
    tracemalloc.start()
    try:
        _check(csv_path, zip_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\npeak traced memory while checking {ROWS} rows with photos: {peak / 2**20:.1f} MiB")


def test_render_10000_row_manifest(benchmark: BenchmarkFixture) -> None:
    rng = random.Random(3)
    entries = [
        ManifestEntry(f"A{i:08d}", random_name(rng), random_citizen_id(rng), CardStatus.ISSUED)
        for i in range(ROWS)
    ]
    heading = BatchHeading("B20261129-001", "北京农商银行朝阳支行", TODAY)
    pdf = benchmark.pedantic(manifest_pdf, args=(heading, entries), rounds=3)  # type: ignore[no-untyped-call]
    assert pdf.startswith(b"%PDF")
