"""Outlet filings (第七条), the 70 % rule (第五条(四)) and the public lists, through the API."""

from __future__ import annotations

from issuance.api.bureau_schemas import FilingOut, PublicBanksOut
from issuance.domain.roles import Role
from issuance.services import admin
from tests.integration.api.bureau_helpers import file_and_acknowledge, form, register
from tests.integration.api.world import PHOTO_B64, World


async def _outlets(world: World, bank: str) -> dict[str, dict[str, object]]:
    r = await world.client.get(f"/v1/bureau/banks/{bank}/outlets", headers=world.auth("auditor"))
    assert r.status_code == 200, r.text
    return {o["code"]: o for o in r.json()["outlets"]}


async def test_an_opening_takes_effect_when_the_bureau_acknowledges_it(world: World) -> None:
    filed = await world.post("admin_bkb", "/v1/bureau/banks/BKB/filings",
                             {"kind": "add", "outlet": form("B2")})  # fmt: skip
    assert filed.status_code == 201, filed.text
    filing = filed.json()
    FilingOut.model_validate(filing)
    assert filing["status"] == "filed"
    # BKB had one instant outlet of one; a second that is not instant leaves 1 of 2
    assert (filing["instant_after"], filing["open_after"]) == (1, 2)
    assert filing["below_instant_share"] is True
    assert "B2" not in await _outlets(world, "BKB")
    pending = await world.client.get(
        "/v1/bureau/filings?status=filed", headers=world.auth("auditor")
    )
    assert [f["id"] for f in pending.json()["filings"]] == [filing["id"]]
    ack = await world.post("bureau_admin", f"/v1/bureau/filings/{filing['id']}/acknowledge", {})
    assert ack.status_code == 200, ack.text
    assert ack.json()["status"] == "acknowledged" and ack.json()["decided_by"] is not None
    live = (await _outlets(world, "BKB"))["B2"]
    assert live["opening_hours"] == "周一至周五 9:00-17:00"
    assert live["services"] == ["apply", "activate", "report_loss"]
    again = await world.post("bureau_admin", f"/v1/bureau/filings/{filing['id']}/return",
                             {"note": "late"})  # fmt: skip
    assert (again.status_code, again.json()["code"]) == (409, "filing_decided")
    share = await world.client.get("/v1/bureau/banks/BKB/instant-share",
                                   headers=world.auth("admin_bkb"))  # fmt: skip
    assert share.json() == {"bank": "BKB", "instant": 1, "open": 2, "percent": 50.0,
                            "meets_rule": False, "required_percent": 70}  # fmt: skip


async def test_changes_and_closings_keep_the_outlets_history(world: World) -> None:
    await file_and_acknowledge(world, "BKB", "admin_bkb", {"kind": "add", "outlet": form("B2")})
    changed = form("B2", instant=True, security_terminal=True, psam_serial="PSAM-B2",
                   opening_hours="每日 9:00-20:00")  # fmt: skip
    after = await file_and_acknowledge(
        world, "BKB", "admin_bkb", {"kind": "change", "outlet": changed}
    )
    assert after["below_instant_share"] is False
    assert (await _outlets(world, "BKB"))["B2"]["can_issue_instantly"] is True
    await file_and_acknowledge(world, "BKB", "admin_bkb", {"kind": "close", "code": "B2"})
    assert (await _outlets(world, "BKB"))["B2"]["open"] is False
    history = await world.client.get(
        "/v1/bureau/filings?outlet=B2", headers=world.auth("admin_bkb")
    )
    kinds = [(f["kind"], f["outlet_as_filed"]["opening_hours"]) for f in history.json()["filings"]]
    assert kinds == [("close", "每日 9:00-20:00"), ("change", "每日 9:00-20:00"),
                     ("add", "周一至周五 9:00-17:00")]  # fmt: skip
    closed_again = await world.post("admin_bkb", "/v1/bureau/banks/BKB/filings",
                                    {"kind": "close", "code": "B2"})  # fmt: skip
    assert (closed_again.status_code, closed_again.json()["code"]) == (409, "outlet_closed")


async def test_a_returned_filing_changes_nothing_and_says_why(world: World) -> None:
    filed = await world.post("admin_bkb", "/v1/bureau/banks/BKB/filings",
                             {"kind": "close", "code": "B1"})  # fmt: skip
    assert filed.json()["below_instant_share"] is True  # no open outlet would be left
    second = await world.post("admin_bkb", "/v1/bureau/banks/BKB/filings",
                              {"kind": "close", "code": "B1"})  # fmt: skip
    assert (second.status_code, second.json()["code"]) == (409, "filing_pending")
    no_reason = await world.post(
        "bureau_admin", f"/v1/bureau/filings/{filed.json()['id']}/return", {}
    )
    assert no_reason.status_code == 422
    r = await world.post("bureau_admin", f"/v1/bureau/filings/{filed.json()['id']}/return",
                         {"note": "须保留即时制卡网点"})  # fmt: skip
    assert r.json()["status"] == "returned"
    assert (await _outlets(world, "BKB"))["B1"]["open"] is True


async def test_filing_refusals(world: World) -> None:
    cases = [
        ("admin_a", "BKB", {"kind": "add", "outlet": form("X1")}, 403),  # another bank's
        ("clerk_b", "BKB", {"kind": "add", "outlet": form("X1")}, 403),
        ("auditor", "BKB", {"kind": "add", "outlet": form("X1")}, 403),
        ("admin_bkb", "BKB", {"kind": "add", "outlet": form("X1", district="310101")}, 422),
        ("admin_bkb", "BKB", {"kind": "add", "outlet": form("X1", instant=True)}, 422),  # no PSAM
        ("admin_bkb", "BKB", {"kind": "add", "outlet": form("X1", services=["fly"])}, 422),
        ("admin_bkb", "BKB", {"kind": "add", "outlet": form("B1")}, 409),  # exists
        ("admin_bkb", "BKB", {"kind": "change", "outlet": form("A1")}, 404),  # not this bank's
        ("admin_bkb", "BKB", {"kind": "close", "code": "NOPE"}, 404),
    ]
    for who, bank, body, status in cases:
        r = await world.post(who, f"/v1/bureau/banks/{bank}/filings", body)
        assert r.status_code == status, (who, body, r.text)
    filed = await world.post("admin_bkb", "/v1/bureau/banks/BKB/filings",
                             {"kind": "add", "outlet": form("X2")})  # fmt: skip
    for who in ("auditor", "admin_bkb"):
        r = await world.post(who, f"/v1/bureau/filings/{filed.json()['id']}/acknowledge", {})
        assert r.status_code == 403, who


async def test_an_activation_only_outlet_outside_beijing(world: World) -> None:
    outlet = form("SH1", district="310101", address="上海市黄浦区某路2号",
                  services=["activate"], activation_only=True)  # fmt: skip
    body = {"kind": "add", "outlet": outlet}
    filing = await file_and_acknowledge(world, "BKB", "admin_bkb", body)
    assert filing["below_instant_share"] is False  # it does not count in the 70 % rule
    assert (await _outlets(world, "BKB"))["SH1"]["activation_only"] is True
    clerk = await admin.create_operator(
        world.store, "clerk_sh", Role.CLERK, bank="BKB", outlet="SH1"
    )
    world.tokens["clerk_sh"] = clerk.token
    order = await world.post("clerk_sh", "/v1/applications",
                             {"holder": world.holder(), "photo": PHOTO_B64})  # fmt: skip
    assert order.status_code == 409, order.text
    assert (order.json()["code"], order.json()["clause"]) == (
        "activation_only_outlet",
        "第四条(二)",
    )
    issuing = form("SH2", district="310101", activation_only=True)  # offers "apply"
    r = await world.post(
        "admin_bkb", "/v1/bureau/banks/BKB/filings", {"kind": "add", "outlet": issuing}
    )
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "activation_only")


async def test_the_public_list_needs_no_login(world: World) -> None:
    await register(world, "NEW")  # applied: not on the list
    await file_and_acknowledge(world, "BKB", "admin_bkb", {"kind": "add", "outlet": form("B2")})
    await file_and_acknowledge(world, "BKB", "admin_bkb", {"kind": "close", "code": "B2"})
    r = await world.client.get("/public/banks")
    assert r.status_code == 200, r.text
    PublicBanksOut.model_validate(r.json())
    banks = {b["code"]: b for b in r.json()["banks"]}
    assert set(banks) == {"BKA", "BKB"}
    assert [o["code"] for o in banks["BKB"]["outlets"]] == ["B1"]  # B2 is closed
    assert set(banks["BKB"]["outlets"][0]) == {
        "code", "name", "district", "address", "opening_hours", "services",
        "can_issue_instantly", "activation_only",
    }  # fmt: skip
    doc = (await world.client.get("/openapi.json")).json()
    assert "security" not in doc["paths"]["/public/banks"]["get"]
    assert doc["paths"]["/v1/bureau/banks/{code}/decisions"]["post"]["security"]
