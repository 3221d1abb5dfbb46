"""The bureau's pages: a bank's onboarding step and its 第六条 deadline (overdue, or not
computable where the holiday calendar stops), the next decision, a filing acknowledged, an
unqualified year's interview owed, an incident recorded."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.async_api import Page, expect

from issuance.domain.banks import FilingKind
from issuance.domain.roles import Role
from issuance.services import evaluation, oversight
from issuance.services import outlets as filing_service
from issuance.store.pages import PagesStore
from issuance.store.records import Operator

from .conftest import Site, screenshot, sign_in

pytestmark = pytest.mark.slow


async def _operator(site: Site, role: Role) -> Operator:
    found = await PagesStore(site.rt.pool).operator_by_name(site.names[role])
    assert found is not None
    return found


async def _applications(site: Site) -> None:
    """One bank applied long ago (the bureau's answer is overdue), one whose answer falls in
    a year the holiday calendar does not know."""
    admin = await _operator(site, Role.BUREAU_ADMIN)
    late = oversight.NewBank("LATE", "北京逾期测试银行", date(2026, 1, 5), ("京社保函〔2026〕1号",))
    await oversight.register_application(site.rt.store, admin, late)
    far = oversight.NewBank("FAR", "北京远期测试银行", date(2099, 12, 1))
    await oversight.register_application(site.rt.store, admin, far)


async def _filing(site: Site) -> None:
    bank_admin = await _operator(site, Role.BANK_ADMIN)
    form = filing_service.OutletForm(
        "demo-new", "演示新网点", "110105", "朝阳区示例路 1 号", "周一至周五 9:00-17:00",
        ("apply", "activate"), instant=True, security_terminal=True, psam_serial="PSAM-NEW-1",
    )  # fmt: skip
    await filing_service.file(site.rt.store, bank_admin, "DEMO", FilingKind.ADD, form)


async def test_a_bureau_admin_follows_onboarding_and_acknowledges_a_filing(
    site: Site, page: Page
) -> None:
    await _applications(site)
    await _filing(site)
    await sign_in(page, site, Role.BUREAU_ADMIN)
    await page.goto(f"{site.url}/bureau")
    late = page.locator("#lifecycle tr", has_text="北京逾期测试银行")
    await expect(late).to_contain_text("已提交申请")
    await expect(late).to_contain_text("已逾期")
    await expect(late).to_contain_text("第六条(一)")
    far = page.locator("#lifecycle tr", has_text="北京远期测试银行")
    await expect(far).to_contain_text("无法计算截止日期")
    await expect(page.get_by_role("img", name="各银行即时制卡网点占比")).to_be_visible()
    await screenshot(page, "bureau", full=True)

    await late.get_by_role("link", name="北京逾期测试银行").click()
    await expect(page.locator("#deadline")).to_contain_text("已逾期")
    await page.get_by_label("进入环节").select_option(label="已批准")
    await page.get_by_label("决定日期").first.fill("2026-01-12")
    await page.get_by_role("button", name="记录决定").click()
    await expect(page.get_by_role("alert")).to_contain_text("第四条条件")  # refused: no 第四条
    await page.get_by_label("进入环节").select_option(label="审核中")
    await page.get_by_label("决定日期").first.fill("2026-01-12")
    await page.get_by_label("依据文件（每行一个文号）").first.fill("京社保函〔2026〕2号")
    await page.get_by_role("button", name="记录决定").click()
    await expect(page.get_by_role("status")).to_have_text("决定已记录")
    await expect(page.get_by_role("heading", name="当前环节：审核中")).to_be_visible()
    await screenshot(page, "bureau-bank", full=True)

    await page.get_by_role("link", name="网点与备案").click()
    filing = page.get_by_role("article", name="演示新网点")
    await expect(filing).to_be_visible()
    await screenshot(page, "bureau-filings", full=True)
    await filing.get_by_role("button", name="确认备案").click()
    await expect(page.get_by_role("status")).to_contain_text("备案已确认")
    await expect(page.locator("#decided")).to_contain_text("已确认")
    found = await oversight.oversight(site.rt.store).outlet("demo-new")
    assert found is not None and found.open


async def _unqualified_year(site: Site) -> None:
    admin = await _operator(site, Role.BUREAU_ADMIN)
    survey = b"year,bank,outlet,surveyed,satisfied\n2025,DEMO,,100,40\n"
    await evaluation.import_survey(site.rt.store, admin, survey)
    scores = evaluation.BureauScores("DEMO", 2025, 10, 10, 10, date(2026, 2, 2))
    await evaluation.run_evaluation(site.rt.store, admin, scores)


async def test_a_bureau_admin_sees_an_interview_owed_and_records_an_incident(
    site: Site, page: Page
) -> None:
    await _unqualified_year(site)
    await sign_in(page, site, Role.BUREAU_ADMIN)
    await page.goto(f"{site.url}/bureau/evaluations")
    row = page.locator("#evaluations tr", has_text="DEMO")
    await expect(row).to_contain_text("不合格")
    await expect(page.locator("#owed-title")).to_contain_text("1")
    await screenshot(page, "bureau-evaluations", full=True)

    await page.get_by_role("link", name="事件登记").click()
    await page.get_by_label("银行").select_option("DEMO")
    await page.get_by_label("类型").select_option(label="设备故障")
    await page.get_by_label("严重程度").select_option(label="中")
    await page.get_by_label("事件经过").fill("演示网点 p2 打印机卡卡，停机两小时")
    await page.get_by_label("发生时间（北京时间）").fill("2026-03-02T09:30")
    await page.get_by_label("报告人社局时间（北京时间）").fill("2026-03-01T09:00")
    await page.get_by_role("button", name="登记事件").click()
    await expect(page.get_by_role("alert")).to_contain_text("报告时间不能早于发生时间")
    await page.get_by_label("报告人社局时间（北京时间）").fill("2026-03-02T11:00")
    await page.get_by_role("button", name="登记事件").click()
    await expect(page.get_by_role("status")).to_have_text("事件已登记")
    incident = page.locator("#incidents tr", has_text="停机两小时")
    await expect(incident).to_contain_text("处理中")
    await expect(incident).to_contain_text("2026-03-02 09:30")
    await screenshot(page, "bureau-incidents", full=True)
