"""The incidents register (第五条(八)) and home visits for every counter service."""

from __future__ import annotations

from issuance.api.bureau_schemas import IncidentOut, VisitsOut
from tests.integration.api.world import World

INCIDENT = {
    "outlet": "A1", "kind": "device", "severity": "high",
    "description": "制卡机卡片走纸故障", "occurred_at": "2025-06-01T09:00:00+08:00",
    "reported_at": "2025-06-01T10:30:00+08:00",
}  # fmt: skip


async def test_incidents_are_recorded_reported_and_closed(world: World) -> None:
    r = await world.post("admin_a", "/v1/incidents", INCIDENT)
    assert r.status_code == 201, r.text
    first = r.json()
    IncidentOut.model_validate(first)
    assert first["bank"] == "BKA" and first["open"] is True
    by_bureau = await world.post("bureau_admin", "/v1/incidents",
                                 {**INCIDENT, "bank": "BKB", "outlet": None,
                                  "kind": "personal_data", "severity": "critical"})  # fmt: skip
    assert by_bureau.status_code == 201, by_bureau.text
    open_ = await world.client.get("/v1/incidents?open_only=true", headers=world.auth("auditor"))
    assert {i["id"] for i in open_.json()["incidents"]} == {first["id"], by_bureau.json()["id"]}
    close = {"resolution": "更换进卡组件", "closed_at": "2025-06-01T15:00:00+08:00"}
    done = await world.post("supervisor_a", f"/v1/incidents/{first['id']}/close", close)
    assert done.status_code == 200, done.text
    assert done.json()["open"] is False
    again = await world.post("admin_a", f"/v1/incidents/{first['id']}/close", close)
    assert (again.status_code, again.json()["code"]) == (409, "closed")
    open_ = await world.client.get("/v1/incidents?open_only=true", headers=world.auth("auditor"))
    assert [i["id"] for i in open_.json()["incidents"]] == [by_bureau.json()["id"]]
    mine = await world.client.get("/v1/incidents", headers=world.auth("admin_a"))
    assert [i["id"] for i in mine.json()["incidents"]] == [first["id"]]


async def test_incident_refusals(world: World) -> None:
    cases = [
        ("clerk_a", INCIDENT, 403),
        ("auditor", {**INCIDENT, "bank": "BKA"}, 403),
        ("admin_a", {**INCIDENT, "bank": "BKB", "outlet": None}, 403),
        ("admin_a", {**INCIDENT, "outlet": "B1"}, 422),
        ("admin_a", {**INCIDENT, "reported_at": "2025-06-01T08:00:00+08:00"}, 422),
        ("admin_a", {**INCIDENT, "occurred_at": "2025-06-01T09:00:00"}, 422),
        ("admin_a", {**INCIDENT, "kind": "weather"}, 422),
    ]
    for who, body, status in cases:
        r = await world.post(who, "/v1/incidents", body)
        assert r.status_code == status, (who, body, r.text)
    r = await world.post("admin_a", "/v1/incidents", INCIDENT)
    other = await world.post("admin_bkb", f"/v1/incidents/{r.json()['id']}/close",
                             {"resolution": "x"})  # fmt: skip
    assert other.status_code == 403


async def _citizen_of(world: World, card_number: str) -> str:
    async with world.store.transaction() as tx:
        card = await tx.card_by_number(card_number, lock=False)
        assert card is not None
        return (await tx.holder(card.holder)).citizen_id


async def test_home_visits_cover_every_counter_service(world: World) -> None:
    card = await world.active("clerk_a")
    citizen = await _citizen_of(world, card["card_number"])
    ids = []
    for service in ("report_loss", "pin_reset", "change_info", "activate"):
        r = await world.post("clerk_a", "/v1/home-visits/services", {
            "citizen_id": citizen, "service": service,
            "appointment_at": "2030-01-02T09:30:00+08:00", "address": "东城区某街1号"})  # fmt: skip
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    application = await world.post("clerk_a", "/v1/home-visits/services", {
        "citizen_id": citizen, "service": "apply",
        "appointment_at": "2030-01-02T09:30:00+08:00", "address": "某街1号"})  # fmt: skip
    assert application.status_code == 422  # an application at home orders its card
    listed = await world.client.get("/v1/home-visits", headers=world.auth("supervisor_a"))
    assert [v["service"] for v in listed.json()["visits"]] == [
        "report_loss",
        "pin_reset",
        "change_info",
        "activate",
    ]
    assert {v["status"] for v in listed.json()["visits"]} == {"scheduled"}
    r = await world.post("clerk_a", f"/v1/home-visits/{ids[0]}/outcome",
                         {"status": "done", "outcome": "已办理正式挂失"})  # fmt: skip
    assert r.status_code == 204, r.text
    again = await world.post("clerk_a", f"/v1/home-visits/{ids[0]}/outcome",
                             {"status": "missed", "outcome": "x"})  # fmt: skip
    assert (again.status_code, again.json()["code"]) == (409, "visit_finished")
    other = await world.post("clerk_b", f"/v1/home-visits/{ids[1]}/outcome",
                             {"status": "done", "outcome": "x"})  # fmt: skip
    assert other.status_code == 404
    bank_admin = await world.client.get("/v1/home-visits", headers=world.auth("admin_a"))
    assert len(bank_admin.json()["visits"]) == 4
    theirs = await world.client.get("/v1/home-visits", headers=world.auth("clerk_b"))
    assert theirs.json()["visits"] == []
    bureau = await world.client.get("/v1/home-visits?status=done", headers=world.auth("auditor"))
    VisitsOut.model_validate(bureau.json())
    assert [(v["id"], v["outcome"]) for v in bureau.json()["visits"]] == [
        (ids[0], "已办理正式挂失")
    ]
    assert bureau.json()["visits"][0]["address"] == "东城区某街1号"
    async with world.store.transaction() as tx:  # sealed at rest (第五条(七))
        stored = await tx.connection.fetchval(
            "SELECT address FROM home_visits WHERE id = $1", ids[0]
        )
    assert stored.startswith("sealed:") and "东城" not in stored
    stranger = await world.post("clerk_b", "/v1/home-visits/services", {
        "citizen_id": citizen, "service": "pin_reset",
        "appointment_at": "2030-01-02T09:30:00+08:00", "address": "某街1号"})  # fmt: skip
    assert stranger.status_code == 404
