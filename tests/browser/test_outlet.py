"""The outlet page: a printer's fault pushed to the page without a reload; a supervisor
reconciles a job in doubt, is refused one whose card may exist until the chip read from the
card found is recorded as evidence, and clears the fault."""

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


async def _in_doubt_job(site: Site, seq: int = 11, *, printed: bool = False) -> tuple[int, str]:
    """A card whose printer stopped answering after it fed the card (``printed``: after it
    announced the print, so the card may exist): its job is in doubt."""
    store = site.rt.store
    clerk = await PagesStore(site.rt.pool).operator_by_name(site.names[Role.CLERK])
    assert clerk is not None
    app = ApplyIn.model_validate(sample_application(seq)).to_application()
    card = await cards.apply(store, site.rt.queue, clerk, app)
    queue = site.rt.queue
    (job,) = await queue.claim(WORKER, DEMO_OUTLET, list(Capability), lease_seconds=0)
    await queue.heartbeat(WORKER, [job.id], JobStep.FED, lease_seconds=0)
    if printed:
        await store.insert_print(job.id, job.attempts, card.card_number, WORKER)
    while (await queue.get(job.id)).state is not JobState.IN_DOUBT:
        await queue.reap_expired()
    return job.id, card.card_number


async def test_a_supervisor_reconciles_and_records_evidence(site: Site, page: Page) -> None:
    job_id, number = await _in_doubt_job(site)
    store = site.rt.store
    await store.upsert_printer(PrinterRecord(DEMO_OUTLET, "p2", "ok", None))
    await sign_in(page, site, Role.SUPERVISOR)
    await page.goto(f"{site.url}/outlet")
    printers = page.locator("#printers")
    await expect(printers).to_contain_text("正常")
    await page.evaluate("window.sameDocument = true")
    await store.upsert_printer(PrinterRecord(DEMO_OUTLET, "p2", "faulted", "卡片卡住（进卡口）"))
    await expect(printers).to_contain_text("卡片卡住（进卡口）")  # pushed by the server
    assert await page.evaluate("window.sameDocument === true")  # no reload
    printed_id, printed = await _in_doubt_job(site, 12, printed=True)
    printed_doubt = page.get_by_role("article", name=f"任务 {printed_id} · 卡号 {printed}")
    await expect(printed_doubt).to_be_visible()  # pushed too
    assert await page.evaluate("window.sameDocument === true")
    doubt = page.get_by_role("article", name=f"任务 {job_id} · 卡号 {number}")
    await expect(doubt).to_contain_text("已进卡")
    await expect(printed_doubt.locator(f"#look-{printed_id}")).to_contain_text(printed)
    await screenshot(page, "outlet", full=True)

    await doubt.get_by_label("核对结论").select_option("made")
    await doubt.get_by_label("说明").fill("出卡口有完好的卡，芯片已核对")
    await doubt.get_by_role("button", name="提交核对").click()
    await expect(page.get_by_role("status")).to_have_text("已核对处理")
    card = await store.card_by_number(number)
    assert card is not None and card.status is CardStatus.READY

    printed_doubt = page.get_by_role("article", name=f"任务 {printed_id} · 卡号 {printed}")
    await printed_doubt.get_by_label("核对结论").select_option("made")
    await printed_doubt.get_by_role("button", name="提交核对").click()
    refusal = page.get_by_role("alert")
    await expect(refusal).to_contain_text(f"卡号 {printed} 的卡片可能已经制成")
    await expect(refusal).to_contain_text("登记证据之前不能核对")
    await screenshot(page, "outlet-refused")
    made = await store.card_by_number(printed)
    assert made is not None and made.status is CardStatus.IN_PRODUCTION

    printed_doubt = page.get_by_role("article", name=f"任务 {printed_id} · 卡号 {printed}")
    await printed_doubt.get_by_label("找到卡片，已读出芯片").check()
    await printed_doubt.get_by_label("芯片读出的卡号").fill(printed)
    await printed_doubt.get_by_label("芯片读出的卡识别码").fill(made.card_identifier)
    await printed_doubt.get_by_label("查找说明").fill("出卡口找到，读卡器核对")
    await printed_doubt.get_by_role("button", name="登记证据").click()
    await expect(page.get_by_role("status")).to_contain_text("证据已登记：卡片完好")
    await expect(page.get_by_text("没有待核对的任务")).to_be_visible()
    made = await store.card_by_number(printed)
    assert made is not None and made.status is CardStatus.READY

    await page.get_by_role("button", name="排除故障后清除").click()
    await expect(page.get_by_role("status")).to_have_text("故障已清除")
    assert all(p.status == "ok" for p in await store.printers_of_site(DEMO_OUTLET))
