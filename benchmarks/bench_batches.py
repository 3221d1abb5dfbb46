"""Speed and memory of expedited small batches.

* checking a 10 000-row CSV whose 10 000 photos sit in a zip (every row's ID,
  name, font coverage and photo decode), and the peak memory of that check
  measured with ``tracemalloc`` (printed; run with ``-s`` to see it);
* checking AND enqueueing a 10 000-applicant batch against the test database,
  with ID-photo-sized photos (358 x 441, about 20 kB) and with minimal ones, and
  with ID photos on a settled database (the last batch checkpointed before each)
  (``db_dsn``): the check, the live-card lookups and the one transaction that
  writes holders, photos, cards, events, jobs and the batch (target: 2 s),
  and the peak memory of one such submission (target: under 500 MB), both
  traced (``tracemalloc``, this process's Python heap) and resident (the
  RSS of this process plus its worker processes, sampled every 10 ms);
* where the CPU of one such submission goes, in core-seconds (printed): this
  process, its check workers, the database's backends connected to the
  benchmark's database, and everything else the machine did meanwhile, so that
  a wall-clock figure measured on a slower or busier machine can be read
  against the work it took; and what it wrote to the write-ahead log
  (``pg_stat_wal``: records, full-page images, bytes);
* rendering a 10 000-row manifest with a QR code per card (target: under 5 s).

Run with ``pytest benchmarks/bench_batches.py --benchmark-enable -s``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import psutil
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from cardqueue import Queue
from issuance.batches.archive import ZipPhotos
from issuance.batches.check import BatchCheck, check_batch
from issuance.domain.roles import Role
from issuance.services import admin, batches
from issuance.store import Operator, Store
from issuance.tools.testdata import random_citizen_id, random_name
from issuance.vault import FileMasterKey, SealedPayloadCodec, Vault
from printers.documents.manifest import BatchHeading, ManifestEntry, ManifestStatus, manifest_pdf
from tests.unit.batches.builders import (
    TODAY,
    Person,
    batch_csv,
    jpeg,
    people,
    photo_zip,
    portrait,
)

ROOT = Path(__file__).resolve().parents[1]
ROWS = 10_000
# 358 x 441 pixels and about 20 kB: an ID photo at the top of the 9-20 kB the card's photo
# rules ask for. The 0.6 kB flat-colour JPEG is what earlier figures were measured with.
PHOTO = portrait()
MINIMAL_PHOTO = jpeg()
# (photo, settle): a settled database has written out the previous batch (a CHECKPOINT, untimed,
# before each round), as a production database has between batches; the others take batch
# after batch, each while the database still holds the last one's dirty pages.
CASES = {
    "id_photo_20kB": (PHOTO, False),
    "id_photo_20kB_settled": (PHOTO, True),
    "minimal_photo_0.6kB": (MINIMAL_PHOTO, False),
}


@pytest.fixture(scope="module")
def big_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 10 000-row GB 18030 CSV file and its zip of 10 000 ID-photo-sized JPEGs."""
    folder = tmp_path_factory.mktemp("batch")
    persons = people(ROWS, seed=11)
    csv_path = folder / "batch.csv"
    csv_path.write_bytes(batch_csv(persons).encode("gb18030"))
    zip_path = folder / "photos.zip"
    zip_path.write_bytes(photo_zip(persons, PHOTO))
    return csv_path, zip_path


def _check(csv_path: Path, zip_path: Path) -> BatchCheck:
    with ZipPhotos(zip_path) as photos:
        return check_batch(csv_path, photos=photos, today=TODAY)


def _resident(me: psutil.Process) -> tuple[int, int]:
    """RSS and PSS (shared pages divided among their sharers) of ``me`` and its children."""
    rss = pss = 0
    for process in (me, *me.children(recursive=True)):
        try:
            full = process.memory_full_info()
        except psutil.NoSuchProcess:
            continue
        rss += int(full.rss)
        pss += int(full.pss)
    return rss, pss


@contextmanager
def _peak_memory(peaks: list[tuple[int, int, int]], every: float = 0.01) -> Iterator[None]:
    """Appends the peak (RSS, PSS) of this process and its children while the block ran,
    and the PSS this process had before it (what earlier tests left in it)."""
    me = psutil.Process()
    done = threading.Event()
    seen = [_resident(me)]

    def sample() -> None:
        while not done.wait(every):
            seen.append(_resident(me))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield
    finally:
        done.set()
        sampler.join()
        seen.append(_resident(me))
        peaks.append((max(r for r, _ in seen), max(p for _, p in seen), seen[0][1]))


@dataclass(frozen=True)
class _Cpu:
    """Core-seconds spent while a block ran: this process, its reaped children, the database's
    backends (those connected to the benchmark's database), the machine."""

    wall: float
    own: float
    workers: float
    backends: float
    machine: float

    def __add__(self, other: _Cpu) -> _Cpu:
        return _Cpu(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def _backend_times(database: str) -> dict[int, float]:
    """The CPU time of each PostgreSQL backend connected to ``database`` (by its process title)."""
    found: dict[int, float] = {}
    for process in psutil.process_iter(["cmdline"]):
        title = " ".join(process.info["cmdline"] or ())
        if title.startswith("postgres:") and f" {database} " in title:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                found[process.pid] = times.user + times.system
    return found


def _cpu_now(database: str) -> tuple[float, float, float, dict[int, float], float]:
    times = psutil.Process().cpu_times()
    machine = psutil.cpu_times()
    # Linux counts a guest's time in user time as well; iowait is idle time.
    uncounted = ("idle", "iowait", "guest", "guest_nice")
    busy = sum(machine) - sum(getattr(machine, name, 0.0) for name in uncounted)
    own = times.user + times.system
    children = times.children_user + times.children_system
    return time.perf_counter(), own, children, _backend_times(database), busy


@contextmanager
def _cpu(spent: list[_Cpu], database: str) -> Iterator[None]:
    """Appends the core-seconds the block took (workers count once the pool has reaped them;
    backends that exit while it runs are not counted, so the pool's connections should last)."""
    wall, own, workers, backends, busy = _cpu_now(database)
    try:
        yield
    finally:
        wall2, own2, workers2, backends2, busy2 = _cpu_now(database)
        database_s = sum(t - backends.get(pid, 0.0) for pid, t in backends2.items())
        spent.append(_Cpu(wall2 - wall, own2 - own, workers2 - workers, database_s, busy2 - busy))


def _report_cpu(what: str, spent: list[_Cpu]) -> None:
    total = sum(spent, _Cpu(0, 0, 0, 0, 0))
    n = len(spent)
    rest = total.machine - total.own - total.workers - total.backends
    batch = total.own + total.workers + total.backends
    cores = psutil.cpu_count() or 1
    print(f"\nCPU per batch while {what} (mean of {n}): {total.wall / n:.2f} s wall,", end=" ")
    print(f"{total.machine / n:.2f} core-s busy of {cores * total.wall / n:.2f} "
          f"({total.machine / (cores * total.wall):.0%}): this process {total.own / n:.2f},",
          end=" ")  # fmt: skip
    print(
        f"check workers {total.workers / n:.2f}, database backends {total.backends / n:.2f}",
        end=" ",
    )
    print(f"(the batch: {batch / n:.2f}), the rest of the machine {rest / n:.2f}")
    rounds = sorted(c.own + c.workers + c.backends for c in spent)
    print("the batch's core-s per round: " + ", ".join(f"{r:.2f}" for r in rounds))


@dataclass(frozen=True)
class _Wal:
    """What one submission wrote to the write-ahead log (the server's, whoever wrote it)."""

    records: int
    full_pages: int
    size: int


def _report_wal(wal: list[_Wal]) -> None:
    n = len(wal)
    records = sum(w.records for w in wal) / n
    print(f"WAL per batch (mean of {n}): {records:,.0f} records "
          f"({records / ROWS:.0f} an applicant), "
          f"{sum(w.full_pages for w in wal) / n:,.0f} full-page images, "
          f"{sum(w.size for w in wal) / n / 2**20:.1f} MiB")  # fmt: skip


def _report(what: str, traced: int, resident: tuple[int, int, int]) -> None:
    """Print the peaks (RSS counts pages a forked worker shares with this process twice)."""
    rss, pss, before = (size / 2**20 for size in resident)
    print(f"\npeak memory while {what}: traced {traced / 2**20:.1f} MiB;", end=" ")
    print(f"this process and its workers: RSS {rss:.1f} MiB, PSS {pss:.1f} MiB", end=" ")
    print(f"(PSS {before:.1f} MiB before it began)")


def test_check_10000_rows_with_photos(
    benchmark: BenchmarkFixture, big_batch: tuple[Path, Path]
) -> None:
    csv_path, zip_path = big_batch
    result = benchmark.pedantic(_check, args=big_batch, rounds=3)  # type: ignore[no-untyped-call]
    assert len(result.applicants) == ROWS
    resident: list[tuple[int, int, int]] = []
    with _peak_memory(resident):
        _check(csv_path, zip_path)
    tracemalloc.start()
    try:
        _check(csv_path, zip_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _report(f"checking {ROWS} rows with photos", peak, resident[0])


class _Line:
    """A seeded bank, outlet and clerk on a private event loop, for the sync benchmark."""

    def __init__(self, dsn: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.database = urlsplit(dsn).path.lstrip("/")
        self.pool = self.loop.run_until_complete(self._pool(dsn))
        # the master key also given to a server started on this database (SSCARD_MASTER_KEY)
        self.master_key = base64.b64encode(os.urandom(32)).decode()
        master = FileMasterKey(base64.b64decode(self.master_key))
        self.vault = self.loop.run_until_complete(Vault.load(self.pool, master))
        self.store = Store(self.pool, self.vault)
        self.spent: list[_Cpu] = []
        self.wal: list[_Wal] = []
        self.op = self.loop.run_until_complete(self._seed())

    @staticmethod
    async def _pool(dsn: str) -> asyncpg.Pool:
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)
        assert pool is not None
        return pool

    async def _seed(self) -> Operator:
        await admin.create_bank(self.store, "BENCH", "Bench bank", active=True)
        await admin.create_outlet(self.store, admin.OutletInput("BENCH1", "BENCH", "Bench outlet"))
        made = await admin.create_operator(self.store, "bench-clerk", Role.CLERK, bank="BENCH",
                                           outlet="BENCH1")  # fmt: skip
        self.token = made.token
        op = await self.store.operator_by_token(made.token)
        assert op is not None
        return op

    def submit(self, csv_path: Path, zip_path: Path) -> batches.Accepted:
        work = batches.submit(
            self.store,
            Queue(self.pool, codec=SealedPayloadCodec(self.vault)),
            self.op,
            batches.Submission(csv_path, zip_path),
        )
        before = self._wal()
        with _cpu(self.spent, self.database):
            accepted = self.loop.run_until_complete(work)
        self.wal.append(_Wal(*(b - a for a, b in zip(before, self._wal(), strict=True))))
        return accepted

    def _wal(self) -> tuple[int, int, int]:
        """The server's WAL records, full-page images and bytes written so far (pg_stat_wal)."""
        row = self.loop.run_until_complete(
            self.pool.fetchrow("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")
        )
        assert row is not None
        return int(row["wal_records"]), int(row["wal_fpi"]), int(row["wal_bytes"])

    def checkpoint(self) -> None:
        self.loop.run_until_complete(self.pool.execute("CHECKPOINT"))

    def close(self) -> None:
        self.loop.run_until_complete(self.pool.close())
        self.loop.close()


_USED: set[str] = set()


def _fresh_batch(folder: Path, seed: int, photo: bytes = PHOTO) -> tuple[Path, Path]:
    """A batch of applicants never used before in this process (random IDs may repeat)."""
    persons: list[Person] = []
    for p in people(ROWS + 200, seed=seed):
        if p.citizen_id not in _USED and len(persons) < ROWS:
            _USED.add(p.citizen_id)
            persons.append(p)
    csv_path = folder / f"batch-{seed}.csv"
    csv_path.write_bytes(batch_csv(persons).encode("gb18030"))
    zip_path = folder / f"photos-{seed}.zip"
    zip_path.write_bytes(photo_zip(persons, photo))
    return csv_path, zip_path


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_and_enqueue_10000_applicants(
    benchmark: BenchmarkFixture, db_dsn: str, tmp_path: Path, case: str
) -> None:
    line = _Line(db_dsn)
    first = 100 + 100 * sorted(CASES).index(case)  # each run's applicants are new people
    seeds = iter(range(first, first + 100))
    photo, settle = CASES[case]

    def fresh() -> tuple[Path, Path]:
        files = _fresh_batch(tmp_path, next(seeds), photo)
        if settle:
            line.checkpoint()
        return files

    try:
        result = benchmark.pedantic(  # type: ignore[no-untyped-call]
            line.submit, setup=lambda: (fresh(), {}), rounds=5
        )
        assert result.batch.accepted == ROWS
        _report_cpu(f"checking and enqueueing {ROWS} ({case})", line.spent)
        _report_wal(line.wal)
        resident: list[tuple[int, int, int]] = []
        with _peak_memory(resident):
            line.submit(*fresh())
        files = fresh()
        tracemalloc.start()
        try:
            line.submit(*files)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        line.close()
    _report(f"checking and enqueueing {ROWS} ({case})", peak, resident[0])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(dsn: str, master_key: str) -> Iterator[tuple[str, psutil.Process]]:
    """``sscard serve`` on a free port, its address and its process."""
    port = _free_port()
    env = {**os.environ, "SSCARD_DATABASE_URL": dsn, "SSCARD_MASTER_KEY": master_key}
    proc = subprocess.Popen(
        [sys.executable, "-m", "issuance.cli.serve", "--port", str(port)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url, psutil.Process(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def _post(url: str, token: str, csv_path: Path, zip_path: Path) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    with csv_path.open("rb") as batch_file, zip_path.open("rb") as photos:
        files = {"file": ("batch.csv", batch_file, "text/csv"),
                 "photos": ("photos.zip", photos, "application/zip")}  # fmt: skip
        return httpx.post(url + "/v1/batches", files=files, headers=headers, timeout=300)


def test_post_10000_applicants_over_http(
    benchmark: BenchmarkFixture, db_dsn: str, tmp_path: Path
) -> None:
    """The whole door: a 10 000-applicant batch with ID photos (about 200 MB) POSTed to
    ``sscard serve``, streamed in, checked and enqueued; the server's peak memory."""
    line = _Line(db_dsn)  # seeds the bank, outlet and clerk
    line.close()
    seeds = iter(range(400, 500))
    with _server(db_dsn, line.master_key) as (url, server):
        response = benchmark.pedantic(  # type: ignore[no-untyped-call]
            _post, setup=lambda: ((url, line.token, *_fresh_batch(tmp_path, next(seeds))), {}),
            rounds=3,
        )  # fmt: skip
        assert response.status_code == 201, response.text
        assert response.json()["batch"]["accepted"] == ROWS
        resident = _server_peak(server, url, line.token, _fresh_batch(tmp_path, next(seeds)))
    rss, pss = (size / 2**20 for size in resident)
    print(f"\npeak memory of the API server and its check workers while it took {ROWS}")
    print(f"applicants over HTTP: RSS {rss:.1f} MiB, PSS {pss:.1f} MiB")


def _server_peak(
    server: psutil.Process, url: str, token: str, files: tuple[Path, Path]
) -> tuple[int, int]:
    done = threading.Event()
    seen = [_resident(server)]

    def sample() -> None:
        while not done.wait(0.01):
            seen.append(_resident(server))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        assert _post(url, token, *files).status_code == 201
    finally:
        done.set()
        sampler.join()
    return max(r for r, _ in seen), max(p for _, p in seen)


def test_render_10000_row_manifest(benchmark: BenchmarkFixture) -> None:
    rng = random.Random(3)
    entries = [
        ManifestEntry(f"A{i:08d}", random_name(rng), random_citizen_id(rng), ManifestStatus.ISSUED)
        for i in range(ROWS)
    ]
    heading = BatchHeading("B20261129-001", "北京农商银行朝阳支行", TODAY)
    pdf = benchmark.pedantic(manifest_pdf, args=(heading, entries), rounds=3)  # type: ignore[no-untyped-call]
    assert pdf.startswith(b"%PDF")
