"""The counter page: a clerk applies with a photo and watches the card being made."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, Request, expect

from issuance.cli.agent import sample_application, synthetic_photo
from issuance.domain.cards import CardStatus
from issuance.domain.roles import Role
from printers.devices.simulators.outlet import SimulatedOutlet

from .conftest import HANG, PASSWORD, Site, screenshot, sign_in

pytestmark = pytest.mark.slow


async def _fill(page: Page, holder: dict[str, str], photo: Path) -> None:
    await page.locator("#f-citizen_id").fill(holder["citizen_id"])
    await page.locator("#f-name").fill(holder["name"])
    await page.locator("#f-gender").select_option(holder["gender"])
    await page.locator("#f-birth_date").fill(holder["birth_date"])
    await page.locator("#photo-file").set_input_files(str(photo))


async def test_a_clerk_applies_with_a_photo_and_sees_the_card_done(
    site: Site, outlet: SimulatedOutlet, page: Page, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(synthetic_photo(5))
    holder = sample_application(5)["holder"]
    streams: list[str] = []

    def seen(request: Request) -> None:
        if request.url.endswith("/events"):
            streams.append(request.url)

    page.on("request", seen)
    await sign_in(page, site, Role.CLERK)
    await expect(page).to_have_url(f"{site.url}/counter")
    await _fill(page, holder, photo)
    face = page.get_by_role("img", name=f"卡面预览：{holder['name']}")
    await expect(face).to_have_attribute("src", re.compile(r"^blob:"))
    await screenshot(page, "counter")

    await page.get_by_role("button", name="提交申领").click()
    await expect(page).to_have_url(re.compile(r"/counter/cards/[A-Z0-9]+$"))
    done = page.locator(".progress-note[data-stage=done]")
    await expect(done).to_be_visible(timeout=HANG)
    await expect(page.locator("ol.steps li.done")).to_have_count(5)
    await expect(page.locator("#card-status")).to_have_text(CardStatus.READY.info.label_zh)
    await screenshot(page, "card-progress")
    assert len(streams) == 1  # one Server-Sent Events stream, no polling

    number = page.url.rsplit("/", 1)[1]
    card = await site.rt.store.card_by_number(number)
    assert card is not None and card.status is CardStatus.READY
    assert outlet.cards_for(card.card_identifier)

    await page.get_by_role("button", name="领卡（交付持卡人）").click()
    await expect(page.get_by_role("status")).to_have_text("已领卡")
    await expect(page.locator("#card-status")).to_have_text(CardStatus.ISSUED.info.label_zh)
    receipt = await page.request.get(f"{site.url}/counter/cards/{number}/receipt.pdf")
    assert receipt.ok and (await receipt.body()).startswith(b"%PDF")


async def test_a_refused_field_shows_its_message_beside_it(site: Site, page: Page) -> None:
    holder = dict(sample_application(6)["holder"])
    wrong = "0" if holder["citizen_id"][-1] != "0" else "1"
    holder["citizen_id"] = holder["citizen_id"][:-1] + wrong
    photo = site.tmp / "photo.jpg"
    photo.write_bytes(synthetic_photo(6))
    await sign_in(page, site, Role.CLERK)
    await _fill(page, holder, photo)
    await page.get_by_role("button", name="提交申领").click()
    message = page.locator("#f-e-citizen_id")
    await expect(message).to_have_text("公民身份号码校验位错误")
    await expect(page.locator("#f-citizen_id")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#f-name")).to_have_value(holder["name"])  # the form is kept
    await screenshot(page, "counter-refused")


async def test_a_page_posted_without_its_csrf_token_is_refused(site: Site, page: Page) -> None:
    await sign_in(page, site, Role.CLERK)
    lookup = page.locator('form[action="/counter/lookup"]')
    await lookup.locator("input[name=csrf]").evaluate("e => e.remove()")
    await page.locator("#f-lookup_citizen_id").fill("110105199001011234")
    await lookup.get_by_role("button", name="查询").click()
    await expect(page.get_by_role("heading", name="操作被拒绝")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("安全令牌")
    response = await page.request.post(f"{site.url}/counter/lookup", form={"x": "1"})
    assert response.status == 403


@pytest.mark.camera
async def test_a_photo_taken_with_the_counter_camera_is_previewed(site: Site, page: Page) -> None:
    holder = sample_application(8)["holder"]
    await sign_in(page, site, Role.CLERK)
    await page.locator("#f-citizen_id").fill(holder["citizen_id"])
    await page.locator("#f-name").fill(holder["name"])
    await page.locator("#f-gender").select_option(holder["gender"])
    await page.locator("#f-birth_date").fill(holder["birth_date"])
    await page.get_by_role("button", name="使用柜台摄像头").click()
    shoot = page.get_by_role("button", name="拍照")
    await expect(shoot).to_be_focused()
    await shoot.click()
    await expect(page.locator("#photo-data")).to_have_value(re.compile(r"^data:image/jpeg;base64,"))
    face = page.get_by_role("img", name=f"卡面预览：{holder['name']}")
    await expect(face).to_have_attribute("src", re.compile(r"^blob:"))
    await page.locator("#photo-crop").press("ArrowLeft")  # the crop moves from the keyboard
    await page.get_by_role("button", name="提交申领").click()
    await expect(page).to_have_url(re.compile(r"/counter/cards/[A-Z0-9]+$"))


async def test_signing_in_and_out_works_from_the_keyboard(site: Site, page: Page) -> None:
    await page.goto(f"{site.url}/signin")
    await expect(page.get_by_label("用户名")).to_be_focused()  # autofocus
    await page.keyboard.type(site.names[Role.CLERK])
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("密码")).to_be_focused()
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{site.url}/counter")
    await page.get_by_role("button", name="退出登录").focus()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/signin$"))
    await page.goto(f"{site.url}/counter")
    await expect(page).to_have_url(re.compile(r"/signin\?next=/counter$"))
