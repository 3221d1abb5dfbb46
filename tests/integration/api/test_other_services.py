"""PIN jobs, information change, bank change, home visits and fees."""

from __future__ import annotations

from typing import Any

import pytest

from sscard_core.messages import Capability, Priority
from tests.integration.api.world import PHOTO_B64, World


@pytest.mark.parametrize("operation", ["pin-change", "pin-reset"])
async def test_pin_job_carries_only_the_operation_and_card_number(
    world: World, operation: str
) -> None:
    number = (await world.active())["card_number"]
    r = await world.post("clerk_a", f"/v1/cards/{number}/{operation}", {})
    assert r.status_code == 202, r.text
    job = await world.queue.get(r.json()["job_id"])
    kind = operation.replace("-", "_")
    assert (job.kind, job.capability, job.site) == (kind, Capability.ENCODE, "A1")
    assert job.payload == {"card_number": number, "operation": kind}


@pytest.mark.parametrize("body", [{"pin": "123456"}, {"new_pin": "1"}, {"PIN": 1}])
async def test_a_body_with_a_pin_is_refused(world: World, body: dict[str, Any]) -> None:
    number = (await world.active())["card_number"]
    r = await world.post("clerk_a", f"/v1/cards/{number}/pin-change", body)
    assert r.status_code == 422
    assert r.json()["code"] == "pin_not_accepted"


async def test_pin_change_needs_the_card_in_hand(world: World) -> None:
    number = (await world.new_card())["card_number"]
    r = await world.post("clerk_a", f"/v1/cards/{number}/pin-reset")
    assert r.status_code == 409
    assert r.json()["current_state"] == "in_production"


async def _holder_of(world: World, number: str) -> dict[str, Any]:
    card = await world.store.card_by_number(number)
    assert card is not None
    holder = await world.store.holder(card.holder)
    return {"citizen_id": holder.citizen_id, "id": holder.id}


async def test_contact_change_updates_only_the_record(world: World) -> None:
    number = (await world.active())["card_number"]
    holder = await _holder_of(world, number)
    r = await world.post(
        "clerk_a",
        "/v1/holders/info-change",
        {"citizen_id": holder["citizen_id"], "phone": "13900000000"},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["changed"], r.json()["card"]) == (["phone"], None)
    assert r.json()["holder"]["phone"] == "13900000000"


async def test_a_printed_field_change_orders_a_replacement(world: World) -> None:
    number = (await world.active())["card_number"]
    holder = await _holder_of(world, number)
    r = await world.post(
        "clerk_a", "/v1/holders/info-change", {"citizen_id": holder["citizen_id"], "name": "李四"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["changed"] == ["name"]
    new = r.json()["card"]
    assert new["status"] == "in_production"
    job = await world.queue.get(new["job_id"])
    assert job.payload["card"]["name"] == "李四"
    old = await world.store.card_by_number(number)
    assert old is not None and old.status.value == "superseded"


async def test_bank_change_keeps_the_old_card_until_the_new_one_is_active(world: World) -> None:
    old = await world.active("clerk_a")
    holder = await _holder_of(world, old["card_number"])
    r = await world.post(
        "clerk_b", "/v1/holders/bank-change", {"citizen_id": holder["citizen_id"], "wait": True}
    )
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["bank"] == "BKB"
    before = await world.store.card_by_number(old["card_number"])
    assert before is not None and before.status.value == "active"
    await world.make(new, "agent_b")
    await world.post("clerk_b", f"/v1/cards/{new['card_number']}/hand-over")
    r = await world.post("clerk_b", f"/v1/cards/{new['card_number']}/activate")
    assert r.status_code == 200, r.text
    after = await world.store.card_by_number(old["card_number"])
    assert after is not None and after.status.value == "cancelled"


async def test_bank_change_at_the_same_bank_is_refused(world: World) -> None:
    old = await world.active("clerk_a")
    holder = await _holder_of(world, old["card_number"])
    r = await world.post("clerk_a", "/v1/holders/bank-change", {"citizen_id": holder["citizen_id"]})
    assert r.status_code == 409
    assert r.json()["code"] == "same_bank"


async def test_home_visit_sends_the_card_to_the_mobile_kit(world: World) -> None:
    body = {
        "holder": world.holder(),
        "photo": PHOTO_B64,
        "appointment_at": "2030-01-02T09:30:00+08:00",
        "visit_address": "北京市东城区某街1号",
    }
    r = await world.post("clerk_a", "/v1/home-visits", body)
    assert r.status_code == 201, r.text
    job = await world.queue.get(r.json()["card"]["job_id"])
    assert (job.site, job.priority) == ("A1:mobile", Priority.EXPEDITED)
    claimed = await world.post(
        "agent_a",
        "/v1/agent/claim",
        {"worker": "kit", "site": "A1:mobile", "capabilities": ["print_encode"], "wait_seconds": 0},
    )
    assert [j["id"] for j in claimed.json()["jobs"]] == [job.id]


async def test_fee_quote_shows_the_waivers(world: World) -> None:
    r = await world.client.get(
        "/v1/fees/quote?service=apply&delivered=true", headers=world.auth("clerk_a")
    )
    assert r.status_code == 200, r.text
    lines = {ln["item"]: ln for ln in r.json()["lines"]}
    assert lines["card_production"]["waived"] and lines["delivery"]["waived"]
    assert r.json()["total_fen"] == 0


async def test_a_schedule_that_breaks_a_waiver_is_refused_with_its_clause(world: World) -> None:
    r = await world.client.put(
        "/v1/banks/BKA/fee-schedule",
        headers=world.auth("admin_a"),
        json={"amounts": {"annual_fee": 1000}},
    )
    assert r.status_code == 422
    assert r.json()["code"] == "fee_waiver_breached"
    assert r.json()["clause"] == "第五条(五)第2项"
    r = await world.client.put(
        "/v1/banks/BKA/fee-schedule",
        headers=world.auth("admin_a"),
        json={"amounts": {}, "free_withdrawals_per_month": 4},
    )
    assert r.json()["clause"] == "第五条(五)第6项"


async def test_withdrawals_are_free_five_times_a_month(world: World) -> None:
    r = await world.client.put(
        "/v1/banks/BKA/fee-schedule",
        headers=world.auth("admin_a"),
        json={"amounts": {"interbank_withdrawal": 200}},
    )
    assert r.status_code == 204, r.text
    number = (await world.active())["card_number"]
    fees = []
    for _ in range(6):
        r = await world.post("clerk_a", f"/v1/cards/{number}/withdrawals")
        assert r.status_code == 200, r.text
        fees.append(r.json()["fee_fen"])
    assert fees == [0, 0, 0, 0, 0, 200]


async def test_a_lost_card_cannot_withdraw(world: World) -> None:
    number = (await world.active())["card_number"]
    await world.post("clerk_a", f"/v1/cards/{number}/loss", {"kind": "temporary"})
    r = await world.post("clerk_a", f"/v1/cards/{number}/withdrawals")
    assert (r.status_code, r.json()["code"]) == (409, "card_blocked")
