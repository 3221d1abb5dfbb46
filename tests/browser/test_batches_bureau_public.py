"""The batch page's rejects, the bureau's 70 % chart and audit search, the public directory
(only the banks on the public list)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.async_api import Page, expect

from issuance.cli.agent import DEMO_OUTLET
from issuance.domain.roles import Role
from issuance.services import admin, oversight
from issuance.store import PrinterRecord
from issuance.store.pages import PagesStore
from printers.devices.simulators.outlet import SimulatedOutlet
from tests.pages_support import new_bank
from tests.unit.batches.builders import batch_csv, people, photo_zip, with_name

from .conftest import Site, screenshot, sign_in

pytestmark = pytest.mark.slow


async def test_a_batch_with_a_bad_row_shows_its_rejects(
    site: Site, outlet: SimulatedOutlet, page: Page
) -> None:
    persons = people(4, seed=3)
    persons[2] = with_name(persons[2], "王A明")
    batch = site.tmp / "batch.csv"
    batch.write_text(batch_csv(persons), encoding="utf-8")
    photos = site.tmp / "photos.zip"
    photos.write_bytes(photo_zip(persons))
    await sign_in(page, site, Role.SUPERVISOR)
    await page.goto(f"{site.url}/batches")
    await page.get_by_label("申领名单（CSV 或 JSON）").set_input_files(str(batch))
    await page.get_by_label("照片压缩包（ZIP，可选）").set_input_files(str(photos))
    await page.get_by_role("button", name="上传并检查").click()
    rejects = page.locator("#rejects tbody tr")
    await expect(rejects).to_have_count(1)
    await expect(rejects.first).to_contain_text("4")  # line 4: the header, then rows 1-3
    await expect(rejects.first).to_contain_text("姓名")
    await expect(page.locator("#upload-bar")).to_have_attribute("value", "100")
    download = page.get_by_role("link", name="下载错误清单（CSV）")
    assert (await download.get_attribute("href") or "").startswith("data:text/csv")
    await screenshot(page, "batch-rejects")

    del persons[2]
    batch.write_text(batch_csv(persons), encoding="utf-8")
    await page.get_by_label("申领名单（CSV 或 JSON）").set_input_files(str(batch))
    await page.get_by_label("制卡地点").select_option(DEMO_OUTLET)  # made by the outlet's agent
    await page.get_by_role("button", name="上传并检查").click()
    await expect(page).to_have_url(re.compile(r"/batches/B[0-9]{8}-[0-9]{6}$"))
    facts = page.locator("#batch-progress")
    await expect(facts).to_contain_text("卡片3")
    await expect(facts).to_contain_text("已完成3")  # pushed as the outlet makes the cards
    await expect(facts).to_contain_text("预计完成已完成")
    for name in ("制卡清单（PDF）", "制卡完成报告（PDF）"):
        href = await page.get_by_role("link", name=name).get_attribute("href")
        pdf = await page.request.get(site.url + str(href))
        assert pdf.ok and (await pdf.body()).startswith(b"%PDF")
    await screenshot(page, "batch-progress")


async def test_a_bureau_user_sees_a_bank_below_70_percent_flagged(site: Site, page: Page) -> None:
    store = site.rt.store
    await new_bank(store, "LOWB", "北京低比例测试银行")
    for i, instant in enumerate((True, False, False)):
        psam = f"PSAM-LOW-{i}" if instant else None
        outlet = admin.OutletInput(f"low-{i}", "LOWB", f"低比例网点{i}", "110108", "",
                                   instant, psam)  # fmt: skip
        await admin.create_outlet(store, outlet)
    await sign_in(page, site, Role.BUREAU_AUDITOR)
    await expect(page).to_have_url(f"{site.url}/bureau")
    low = page.locator("#banks tr", has_text="北京低比例测试银行")
    await expect(low).to_contain_text("33.3%")
    await expect(low).to_contain_text("低于 70%")
    demo = page.locator("#banks tr", has_text="北京演示农村商业银行")
    await expect(demo).to_contain_text("达标")
    await expect(page.get_by_role("img", name="各银行即时制卡网点占比")).to_be_visible()
    await page.get_by_role("link", name="审计日志查询").click()
    await expect(page.get_by_role("heading", name="审计日志查询")).to_be_visible()
    await page.get_by_label("操作员").fill(site.names[Role.BUREAU_AUDITOR])
    await page.get_by_role("button", name="查询").click()
    rows = page.locator("#audit-rows tbody tr")
    await expect(rows.first).to_contain_text("sign_in")  # this sign-in, found by audit.search
    await screenshot(page, "audit")
    href = await page.get_by_role("link", name="导出查询结果（CSV）").get_attribute("href")
    assert href is not None and "operator=bureau-auditor" in href
    export = await page.request.get(site.url + href)
    text = (await export.body()).decode()
    assert export.ok and text.startswith("id,at,operator,") and ",sign_in," in text


async def test_the_public_page_lists_an_outlet_with_its_state(site: Site, page: Page) -> None:
    store = site.rt.store
    decider = await PagesStore(site.rt.pool).operator_by_name(site.names[Role.BUREAU_ADMIN])
    assert decider is not None
    applying = oversight.NewBank("APPL", "北京申请中测试银行", date(2026, 1, 5))
    await oversight.register_application(store, decider, applying)
    unlisted = admin.OutletInput("appl-1", "APPL", "申请中银行网点", "110101", "", True, "PSAM-A")
    await admin.create_outlet(store, unlisted)
    await store.upsert_printer(PrinterRecord(DEMO_OUTLET, "p1", "ok", None))
    await page.goto(site.url + "/")
    row = page.locator("table.outlets tr", has_text="演示网点")
    await expect(row).to_contain_text("北京演示农村商业银行")
    await expect(row).to_contain_text("排队 0 张")
    await expect(page.get_by_text("申请中银行网点")).to_have_count(0)  # its bank is not published
    await expect(
        page.get_by_label("银行").locator("option", has_text="北京申请中测试银行")
    ).to_have_count(0)
    await page.get_by_label("区").select_option(label="海淀区")
    await page.get_by_role("button", name="查找").click()
    await expect(page.get_by_text("没有符合条件的网点")).to_be_visible()
    await page.get_by_label("区").select_option(label="东城区")
    await page.get_by_label("只看即时制卡网点").check()
    await page.get_by_role("button", name="查找").click()
    await expect(row).to_be_visible()
    await store.upsert_printer(PrinterRecord(DEMO_OUTLET, "p1", "faulted", "jam"))
    await page.reload()
    await expect(row).to_contain_text("暂停即时制卡")
    await store.upsert_printer(PrinterRecord(DEMO_OUTLET, "p1", "ok", None))
    for i, ago in enumerate((9, 6, 3)):  # three cards made today, three minutes apart
        await site.rt.pool.execute(
            """INSERT INTO card_jobs_history (id, idempotency_key, kind, site, capability,
                   priority, outcome, payload, attempts, enqueued_at, finished_at)
               VALUES ($1, $2, 'card', $3, 'print_encode', 1, 'succeeded', '{}', 1,
                       now() - interval '1 hour', now() - make_interval(mins => $4))""",
            800_000 + i, f"made-{i}", DEMO_OUTLET, ago,
        )  # fmt: skip
    await page.reload()
    await expect(row).to_contain_text("约 3 分钟")  # nobody waiting: this card, 3 minutes
    await screenshot(page, "public")
