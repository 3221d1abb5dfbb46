"""The check of a batch stays a bounded distance ahead of its writes; its workers are niced."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from issuance.batches import parallel
from issuance.batches.archive import ZipPhotos
from issuance.batches.rows import Applicant, RowContext
from issuance.services import batches
from issuance.services.batches import CHUNKS_AHEAD, Submission

from .builders import TODAY, batch_csv, people, photo_zip


class _NoLiveCards:
    async def citizen_ids_with_live_card(self, ids: Sequence[str]) -> set[str]:
        return set()


class _SlowWriter:
    def __init__(self) -> None:
        self.chunks = 0
        self.rows = 0

    async def prepare(self, chunk: Sequence[Applicant]) -> Sequence[Applicant]:
        return chunk

    async def store(self, chunk: Sequence[Applicant]) -> None:
        await asyncio.sleep(0.25)  # far slower than the check
        self.chunks += 1
        self.rows += len(chunk)


async def test_the_check_waits_for_the_writes_once_it_is_two_chunks_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    persons = people(6_000, seed=21)
    writer = _SlowWriter()
    ahead: list[int] = []  # chunks handed over and not yet written, after each handover
    real_check = batches.check_batch

    def check_batch(*args: Any, on_chunk: Callable[[Sequence[Applicant]], None], **kw: Any) -> Any:
        handed = 0

        def counting(chunk: Sequence[Applicant]) -> None:
            nonlocal handed
            on_chunk(chunk)
            handed += 1
            ahead.append(handed - writer.chunks)

        return real_check(*args, on_chunk=counting, **kw)

    monkeypatch.setattr(batches, "check_batch", check_batch)
    with ZipPhotos(photo_zip(persons)) as photos:
        submission = Submission(batch_csv(persons).encode(), today=TODAY)
        found = await batches._check_and_write(
            _NoLiveCards(),  # type: ignore[arg-type]
            submission,
            photos,
            writer,  # type: ignore[arg-type]
        )
    assert writer.rows == len(found.applicants) == 6_000
    assert len(ahead) == 7  # 250 applicants, then 5 chunks of 1 000, then 750
    assert max(ahead) <= CHUNKS_AHEAD


def test_check_workers_run_niced() -> None:
    ctx = RowContext(photos=None, declared=None, today=TODAY)
    before = os.nice(0)
    with parallel.ProcessPoolExecutor(
        1, mp_context=parallel.multiprocessing.get_context(parallel.START_METHOD),
        initializer=parallel._start, initargs=(parallel._Setup.of(ctx),),
    ) as pool:  # fmt: skip
        niceness = pool.submit(os.nice, 0).result()
    assert niceness == min(before + parallel.WORKER_NICENESS, 19)
