"""The bank lifecycle through the API: decisions, the conditions of 第四条, deadlines in
China's working days (第六条), overdue steps for both sides, and the ordering gate."""

from __future__ import annotations

from datetime import timedelta

from issuance.api.bureau_schemas import BankOut, OverdueOut
from issuance.services import admin
from tests.integration.api.bureau_helpers import (
    LIFECYCLE_AFTER_APPROVAL,
    conditions,
    decide,
    new_bank_with_counter,
    register,
)
from tests.integration.api.world import PHOTO_B64, World


async def test_a_bank_goes_from_application_to_active_by_recorded_decisions(world: World) -> None:
    bank = await register(world, "NB")
    assert bank["stage"] == "applied"
    assert not bank["may_order"]
    # 26 Sep 2025 + 10 working days across National Day (1-8 Oct off, 28 Sep and 11 Oct on)
    deadline = {k: v for k, v in bank["deadline"].items() if k != "overdue"}
    assert deadline == {
        "stage": "applied", "clause": "第六条(一)", "owed_by": "bureau", "due": "2025-10-16",
        "error": None,
    }  # fmt: skip
    for on, late in (("2025-10-16", False), ("2025-10-17", True)):
        seen = await world.client.get(f"/v1/bureau/banks/NB?on={on}", headers=world.auth("auditor"))
        assert seen.json()["deadline"]["overdue"] is late
    assert (await decide(world, "NB", "under_review", "2025-09-29")).status_code == 200
    refused = await decide(world, "NB", "approved")
    assert refused.status_code == 409
    assert refused.json()["code"] == "conditions_missing"
    assert refused.json()["clause"] == "第四条"
    assert (await conditions(world, "NB")).status_code == 200
    approved = await decide(world, "NB", "approved", "2025-10-09")
    assert approved.status_code == 200, approved.text
    assert approved.json()["deadline"]["due"] == "2026-04-09"  # six months, owed by the bank
    assert approved.json()["deadline"]["owed_by"] == "bank"
    on = ["2025-10-20", "2026-03-02", "2026-03-10", "2026-03-20", "2026-03-23"]
    for stage, day in zip(LIFECYCLE_AFTER_APPROVAL, on, strict=True):
        r = await decide(world, "NB", stage, day)
        assert r.status_code == 200, r.text
        if stage == "acceptance":  # 10 working days from completion
            deadline = r.json()["deadline"]
            assert (deadline["clause"], deadline["owed_by"], deadline["due"]) == (
                "第六条(三)",
                "bureau",
                "2026-03-16",
            )
    final = (await world.client.get("/v1/bureau/banks/NB", headers=world.auth("auditor"))).json()
    BankOut.model_validate(final)  # the body is what the OpenAPI document says
    assert final["stage"] == "active" and final["may_order"]
    assert [d["to_stage"] for d in final["decisions"]] == [
        "applied",
        "under_review",
        "approved",
        *LIFECYCLE_AFTER_APPROVAL,
    ]
    assert all(d["decided_by"] is not None and d["documents"] for d in final["decisions"])
    log = await world.client.get("/v1/bureau/log?bank=NB", headers=world.auth("auditor"))
    assert {e["action"] for e in log.json()["log"]} >= {
        "bank_applied",
        "conditions_recorded",
        "bank_approved",
        "bank_active",
    }


async def test_steps_cannot_be_skipped_and_only_the_bureau_administrator_decides(
    world: World,
) -> None:
    await register(world, "NB")
    skipped = await decide(world, "NB", "published")
    assert skipped.status_code == 409
    assert skipped.json()["code"] == "transition_forbidden"
    for who in ("auditor", "admin_a", "clerk_a"):
        r = await world.post(who, "/v1/bureau/banks/NB/decisions",
                             {"stage": "under_review", "decided_on": "2025-09-29"})  # fmt: skip
        assert r.status_code == 403, (who, r.text)
    early = await decide(world, "NB", "under_review", "2025-09-01")
    assert early.status_code == 422  # before the application
    exit_by_decision = await decide(world, "NB", "exited")
    assert exit_by_decision.status_code == 422


async def test_overdue_steps_are_listed_for_both_sides(world: World) -> None:
    await register(world, "LATE", applied_on="2025-09-26")
    await register(world, "SLOW", applied_on="2025-01-02")
    await conditions(world, "SLOW")
    await decide(world, "SLOW", "approved", "2025-01-10")
    r = await world.client.get("/v1/bureau/overdue?on=2025-10-16", headers=world.auth("auditor"))
    assert [(s["bank"], s["owed_by"]) for s in r.json()["overdue"]] == [("SLOW", "bank")]
    r = await world.client.get("/v1/bureau/overdue?on=2025-10-17", headers=world.auth("auditor"))
    OverdueOut.model_validate(r.json())
    assert [(s["bank"], s["owed_by"]) for s in r.json()["overdue"]] == [
        ("LATE", "bureau"),
        ("SLOW", "bank"),
    ]
    mine = await world.client.get("/v1/bureau/overdue?on=2025-10-17", headers=world.auth("admin_a"))
    assert mine.status_code == 200 and mine.json()["overdue"] == []
    clerk = await world.client.get("/v1/bureau/overdue", headers=world.auth("clerk_a"))
    assert clerk.status_code == 403


async def test_a_deadline_in_a_year_the_calendar_does_not_know_is_an_error(world: World) -> None:
    bank = await register(world, "XMAS", applied_on="2026-12-28")
    assert bank["deadline"]["due"] is None
    assert "2027" in bank["deadline"]["error"]


async def test_only_an_active_bank_orders_cards(world: World) -> None:
    await new_bank_with_counter(world, "NB")
    body = {"holder": world.holder(), "photo": PHOTO_B64}
    r = await world.post("clerk_NB", "/v1/applications", body)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "bank_not_active"
    assert r.json()["clause"] == "第六条(一)"
    visit = {**body, "appointment_at": "2030-01-02T09:30:00+08:00", "visit_address": "某街1号"}
    assert (await world.post("clerk_NB", "/v1/home-visits", visit)).status_code == 409


async def test_a_suspended_or_exited_bank_orders_nothing(world: World) -> None:
    card = await world.active("clerk_a")
    damaged = await world.active("clerk_a")
    lost = await world.post("clerk_a", f"/v1/cards/{card['card_number']}/loss", {"kind": "formal"})
    assert lost.status_code == 200, lost.text
    later = [(admin.today() + timedelta(days=n)).isoformat() for n in (1, 2, 3)]
    suspended = await decide(world, "BKA", "suspended", later[0])
    assert suspended.status_code == 200, suspended.text
    orders = [
        ("/v1/applications", {"holder": world.holder(), "photo": PHOTO_B64}),
        (f"/v1/cards/{card['card_number']}/reissue", {}),
        (f"/v1/cards/{damaged['card_number']}/replace", {"reason": "damaged"}),
    ]
    for path, body in orders:
        r = await world.post("clerk_a", path, body)
        assert r.status_code == 409, (path, r.text)
        assert (r.json()["code"], r.json()["clause"]) == ("bank_not_active", "第九条")
    assert (await world.post("clerk_b", "/v1/applications", orders[0][1])).status_code == 201
    assert (await decide(world, "BKA", "active", later[1])).status_code == 200
    exited = await world.post(
        "bureau_admin", "/v1/bureau/banks/BKA/exit",
        {"ground": "mutual_termination", "decided_on": later[2],
         "documents": ["终止协议"]},
    )  # fmt: skip
    assert exited.status_code == 200, exited.text
    assert exited.json()["exit_ground"] == "mutual_termination"
    fresh = {"holder": world.holder(), "photo": PHOTO_B64}
    r = await world.post("clerk_a", "/v1/applications", fresh)
    assert (r.status_code, r.json()["clause"]) == (409, "第十条")


async def test_a_suspended_bank_submits_no_batch(world: World) -> None:
    from tests.integration.batches.helpers import batch_people, submit, table_count

    later = (admin.today() + timedelta(days=1)).isoformat()
    assert (await decide(world, "BKA", "suspended", later)).status_code == 200
    r = await submit(world, batch_people(2))
    assert r.status_code == 409, r.text
    assert (r.json()["code"], r.json()["clause"]) == ("bank_not_active", "第九条")
    assert await table_count(world, "batches") == 0
