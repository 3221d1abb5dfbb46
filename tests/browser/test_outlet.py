"""The outlet page: a supervisor sees a faulted printer and reconciles a job in doubt."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from issuance.api.schemas import ApplyIn
from issuance.cli.agent import DEMO_OUTLET, sample_application
from issuance.domain.cards import CardStatus
from issuance.domain.roles import Role
from issuance.services import cards
from issuance.store import PrinterRecord
from issuance.store.pages import PagesStore
from sscard_core.messages import Capability, JobState, JobStep

from .conftest import Site, screenshot, sign_in

pytestmark = pytest.mark.slow
WORKER = "p1"


async def _in_doubt_job(site: Site) -> tuple[int, str]:
    """A card whose printer stopped answering after it fed the card: its job is in doubt."""
    store = site.rt.store
    clerk = await PagesStore(site.rt.pool).operator_by_name(site.names[Role.CLERK])
    assert clerk is not None
    app = ApplyIn.model_validate(sample_application(11)).to_application()
    card = await cards.apply(store, site.rt.queue, clerk, app)
    queue = site.rt.queue
    (job,) = await queue.claim(WORKER, DEMO_OUTLET, list(Capability), lease_seconds=0)
    await queue.heartbeat(WORKER, [job.id], JobStep.FED, lease_seconds=0)
    while (await queue.get(job.id)).state is not JobState.IN_DOUBT:
        await queue.reap_expired()
    return job.id, card.card_number


async def test_a_supervisor_reconciles_a_job_in_doubt(site: Site, page: Page) -> None:
    job_id, number = await _in_doubt_job(site)
    store = site.rt.store
    await store.upsert_printer(PrinterRecord(DEMO_OUTLET, "p2", "faulted", "卡片卡住（进卡口）"))
    await sign_in(page, site, Role.SUPERVISOR)
    await page.goto(f"{site.url}/outlet")
    doubt = page.get_by_role("article", name=f"任务 {job_id} · 卡号 {number}")
    await expect(doubt).to_be_visible()
    await expect(doubt).to_contain_text("已进卡")
    await expect(page.get_by_role("button", name="排除故障后清除")).to_be_visible()
    await screenshot(page, "outlet", full=True)

    await doubt.get_by_label("核对结论").select_option("made")
    await doubt.get_by_label("说明").fill("出卡口有完好的卡，芯片已核对")
    await doubt.get_by_role("button", name="提交核对").click()
    await expect(page.get_by_role("status")).to_have_text("已核对处理")
    await expect(page.get_by_text("没有待核对的任务")).to_be_visible()
    card = await store.card_by_number(number)
    assert card is not None and card.status is CardStatus.READY

    await page.get_by_role("button", name="排除故障后清除").click()
    await expect(page.get_by_role("status")).to_have_text("故障已清除")
    assert all(p.status == "ok" for p in await store.printers_of_site(DEMO_OUTLET))
