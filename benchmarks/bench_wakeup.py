"""Enqueue to claim: how long a job waits before an agent's long-poll claim has it.

    pytest benchmarks/bench_wakeup.py --benchmark-enable -s

Each round starts an agent's claim (the service's long poll, as ``POST
/v1/agent/claim`` runs it), lets it find the queue empty and wait, then times
one enqueue until that claim returns with the job. With wake-ups the wait ends
on the enqueue's NOTIFY; without them only the fallback poll ends it. The
percentiles are printed and kept in the benchmark's ``extra_info``.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvloop

from cardqueue import NewJob, Queue
from cardqueue.wakeups import Wakeups
from issuance.config import Settings
from issuance.domain.roles import Role
from issuance.runtime import Runtime
from issuance.services import dispatch
from issuance.store import Operator, Store
from sscard_core.messages import Capability, Priority

SITE = "A1"
AGENT = Operator(id=1, name="bench-agent", role=Role.AGENT, bank="BKA", outlet=SITE)
_keys = itertools.count()


@dataclass
class Rig:
    loop: asyncio.AbstractEventLoop
    store: Store
    queue: Queue
    wakeups: Wakeups


@pytest.fixture
def rig(db_dsn: str, tmp_path: Path) -> Iterator[Rig]:
    loop = uvloop.new_event_loop()
    rt = Runtime(Settings(db_dsn, tmp_path, "127.0.0.1", 0), pool_size=4)
    loop.run_until_complete(rt.__aenter__())
    loop.run_until_complete(asyncio.wait_for(rt.wakeups.connected.wait(), 30))
    yield Rig(loop, rt.store, rt.queue, rt.wakeups)
    loop.run_until_complete(rt.__aexit__(None, None, None))
    loop.close()


async def _waiting_claim(rig: Rig, wakeups: Wakeups | None) -> asyncio.Task[dispatch.Claimed]:
    claim = dispatch.claim(
        rig.store, rig.queue, AGENT, worker="bench", site=SITE,
        capabilities=[Capability.PRINT], wait_seconds=30, wakeups=wakeups,
    )  # fmt: skip
    task = asyncio.create_task(claim)
    while rig.wakeups.watching(SITE) == 0 and wakeups is not None:  # noqa: ASYNC110
        await asyncio.sleep(0)
    await asyncio.sleep(0.02)  # past its first, empty claim: it is waiting now
    return task


async def _enqueue_until_claimed(rig: Rig, task: asyncio.Task[dispatch.Claimed]) -> None:
    job = NewJob(f"w{next(_keys)}", "card", SITE, Capability.PRINT, Priority.INSTANT)
    created = await rig.queue.enqueue(job)
    claimed = await task
    assert [j.id for j in claimed.jobs] == [created.job_id], "the claim ended without the job"
    await rig.queue.complete("bench", [created.job_id])


def _latencies(benchmark, rig: Rig, wakeups: Wakeups | None, rounds: int) -> None:  # type: ignore[no-untyped-def]
    def setup() -> tuple[tuple[asyncio.Task[dispatch.Claimed]], dict[str, object]]:
        return (rig.loop.run_until_complete(_waiting_claim(rig, wakeups)),), {}

    benchmark.pedantic(
        lambda task: rig.loop.run_until_complete(_enqueue_until_claimed(rig, task)),
        setup=setup,
        rounds=rounds,
    )
    if benchmark.disabled:
        return
    data = sorted(benchmark.stats.stats.data)
    p50 = statistics.median(data) * 1000
    p99 = data[min(len(data) - 1, round(0.99 * (len(data) - 1)))] * 1000
    benchmark.extra_info.update({"p50_ms": round(p50, 2), "p99_ms": round(p99, 2)})
    how = "NOTIFY wake-ups" if wakeups is not None else "fallback poll only"
    print(f"\nenqueue to claim, {how}, {len(data)} rounds: p50 {p50:.1f} ms, p99 {p99:.1f} ms")


def test_enqueue_to_claim_with_wakeups(benchmark, rig) -> None:  # type: ignore[no-untyped-def]
    _latencies(benchmark, rig, rig.wakeups, rounds=300)


def test_enqueue_to_claim_by_polling_alone(benchmark, rig) -> None:  # type: ignore[no-untyped-def]
    _latencies(benchmark, rig, None, rounds=20)
