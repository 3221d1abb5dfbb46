"""``sscard db prune-history``: old finished jobs and old idempotent answers are forgotten."""

from __future__ import annotations

import asyncio

import pytest

from cardqueue import NewJob, Queue
from issuance.cli import main
from issuance.config import Settings
from issuance.domain.roles import Role
from issuance.runtime import Runtime
from issuance.services import admin
from sscard_core.messages import Capability


async def _seed(dsn: str) -> None:
    settings = Settings.from_env({"SSCARD_DATABASE_URL": dsn})
    async with Runtime(settings) as rt:
        store = rt.store
        await admin.create_bank(store, "PB", "测试银行", active=True)
        op = await admin.create_operator(store, "auditor", Role.BUREAU_AUDITOR)
        operator = await store.operator_by_token(op.token)
        assert operator is not None
        for key, days in (("old", 30), ("recent", 1)):
            await rt.pool.execute(
                "INSERT INTO idempotency (operator, key, request_sha256, created_at)"
                " VALUES ($1, $2, '\\x00', now() - make_interval(days => $3))",
                operator.id, key, days,
            )  # fmt: skip
        queue = Queue(rt.pool)
        await queue.enqueue_many([NewJob(f"j{i}", "card", "s", Capability.PRINT) for i in range(3)])
        jobs = await queue.claim("w", "s", [Capability.PRINT], limit=3)
        await queue.complete("w", [j.id for j in jobs])
        await rt.pool.execute(
            "UPDATE card_jobs_history SET finished_at = now() - '200 days'::interval"
        )


async def _counts(dsn: str) -> tuple[int, int, list[str]]:
    settings = Settings.from_env({"SSCARD_DATABASE_URL": dsn})
    async with Runtime(settings) as rt:
        history = await rt.pool.fetchval("SELECT count(*) FROM card_jobs_history")
        keys = await rt.pool.fetchval("SELECT count(*) FROM card_job_keys")
        answers = [r["key"] for r in await rt.pool.fetch("SELECT key FROM idempotency")]
    return history, keys, answers


async def test_prune_history_forgets_old_jobs_and_answers(
    db_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seed(db_dsn)
    monkeypatch.setenv("SSCARD_DATABASE_URL", db_dsn)
    # the command runs its own event loop: run it in a thread, away from the test's loop
    code = await asyncio.to_thread(main, ["db", "prune-history", "--days", "180"])
    assert code == 0
    assert await _counts(db_dsn) == (0, 0, ["recent"])
