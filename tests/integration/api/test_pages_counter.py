"""The counter page's services over HTTP: look-up, information change, a refused service, fees."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from issuance.api.app import create_app
from issuance.api.schemas import ApplyIn
from issuance.cli.agent import sample_application
from issuance.domain.roles import Role
from issuance.runtime import Runtime
from issuance.services import admin, cards, credentials
from issuance.store.pages import PagesStore
from tests.pages_support import new_bank

PASSWORD = "a long enough password"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
async def clerk(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    store = rt.store
    await new_bank(store, "CTB", "柜台测试银行")
    await admin.create_outlet(store, admin.OutletInput("ct-1", "CTB", "柜台网点"))
    await admin.create_operator(store, "ct-clerk", Role.CLERK, bank="CTB", outlet="ct-1")
    await credentials.set_password_named(rt.store, "ct-clerk", PASSWORD)
    transport = httpx.ASGITransport(app=create_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://sscard.test") as http:
        token = CSRF.search((await http.get("/signin")).text)
        assert token
        form = {"csrf": token[1], "name": "ct-clerk", "password": PASSWORD}
        assert (await http.post("/signin", data=form)).status_code == 303
        yield http


async def _csrf(http: httpx.AsyncClient) -> str:
    found = CSRF.search((await http.get("/counter")).text)
    assert found
    return found[1]


async def _card(rt: Runtime) -> tuple[str, str]:
    op = await PagesStore(rt.pool).operator_by_name("ct-clerk")
    assert op is not None
    app = ApplyIn.model_validate(sample_application(21)).to_application()
    card = await cards.apply(rt.store, rt.queue, op, app)
    return app.holder.citizen_id, card.card_number


async def test_look_up_change_the_phone_and_be_refused_a_loss(
    clerk: httpx.AsyncClient, rt: Runtime
) -> None:
    citizen_id, number = await _card(rt)
    csrf = await _csrf(clerk)
    found = await clerk.post(
        "/counter/lookup", data={"csrf": csrf, "lookup_citizen_id": citizen_id}
    )
    assert found.status_code == 200 and number in found.text

    changed = await clerk.post(
        "/counter/holders/info-change",
        data={"csrf": csrf, "citizen_id": citizen_id, "phone": "13800000000"},
    )
    assert changed.status_code == 200 and "已更新：电话" in changed.text
    holder = await rt.store.holder_by_citizen_id(citizen_id)
    assert holder is not None and holder.phone == "13800000000"

    loss = await clerk.post(f"/counter/cards/{number}/loss", data={"csrf": csrf, "kind": "formal"})
    assert loss.status_code == 409 and "卡片当前状态不允许此项业务" in loss.text

    missing = await clerk.post(
        "/counter/lookup", data={"csrf": csrf, "lookup_citizen_id": "110101199001010011"}
    )
    assert missing.status_code in (404, 422) and 'id="f-e-lookup_citizen_id"' in missing.text


async def test_a_pin_field_is_never_on_the_page(clerk: httpx.AsyncClient, rt: Runtime) -> None:
    _, number = await _card(rt)
    page = (await clerk.get(f"/counter/cards/{number}")).text
    assert "修改密码" in page and 'type="password"' not in page


async def test_a_fee_quote_shows_the_waivers(clerk: httpx.AsyncClient) -> None:
    page = await clerk.get("/counter/fees", params={"service": "apply"})
    assert page.status_code == 200 and "合计" in page.text
