"""The public directory's estimated wait and the outlet desk, from the database."""

from __future__ import annotations

from cardqueue import NewJob
from issuance.runtime import Runtime
from issuance.services import admin, directory
from issuance.store import PrinterRecord
from issuance.store.pages import PagesStore
from sscard_core.messages import Capability
from tests.pages_support import new_bank

SITE = "dir-1"


async def _outlet(rt: Runtime) -> None:
    store = rt.store
    await new_bank(store, "DIRB", "目录测试银行")
    await admin.create_outlet(store, admin.OutletInput(SITE, "DIRB", "目录网点", "110102", "",
                                                       True, "PSAM-DIR"))  # fmt: skip
    await admin.create_outlet(store, admin.OutletInput("dir-2", "DIRB", "普通网点", "110105"))


async def _made_today(rt: Runtime, minutes_ago: tuple[int, ...]) -> None:
    """Cards the site finished today (history rows as the queue writes them)."""
    for i, ago in enumerate(minutes_ago):
        await rt.pool.execute(
            """INSERT INTO card_jobs_history (id, idempotency_key, kind, site, capability, priority,
                   outcome, payload, attempts, enqueued_at, finished_at)
               VALUES ($1, $2, 'card', $3, 'print_encode', 1, 'succeeded', '{}', 1,
                       now() - interval '1 hour', now() - make_interval(mins => $4))""",
            900_000 + i, f"dir-made-{i}", SITE, ago,
        )  # fmt: skip


async def test_the_wait_is_the_queue_times_todays_time_per_card(rt: Runtime) -> None:
    await _outlet(rt)
    store = rt.store
    await store.upsert_printer(PrinterRecord(SITE, "p1", "ok", None))
    await _made_today(rt, (10, 8, 6))  # three cards, two minutes apart
    for i in range(2):
        await rt.queue.enqueue(NewJob(f"dir-wait-{i}", "card", SITE, Capability.PRINT_ENCODE))
    views = {v.outlet.code: v for v in await directory.outlet_views(PagesStore(rt.pool))}
    instant, plain = views[SITE], views["dir-2"]
    assert instant.issuing_now and instant.waiting == 2
    assert instant.wait_minutes == 6  # (2 waiting + this one) x 2 minutes
    assert not plain.issuing_now and plain.wait_minutes is None
    assert [v.outlet.code for v in directory.search(list(views.values()), "110102", True)] == [SITE]


async def test_an_outlet_whose_printers_are_faulted_does_not_issue_now(rt: Runtime) -> None:
    await _outlet(rt)
    await rt.store.upsert_printer(PrinterRecord(SITE, "p1", "faulted", "jam"))
    views = {v.outlet.code: v for v in await directory.outlet_views(PagesStore(rt.pool))}
    assert not views[SITE].issuing_now and views[SITE].wait_minutes is None
