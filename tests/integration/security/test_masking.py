"""Holder answers are masked unless the role needs the whole value for the service at hand;
a read that shows whole values is audited with its purpose."""

from __future__ import annotations

import pytest

from issuance.domain.disclosure import DISCLOSED, Need
from issuance.runtime import Runtime
from tests.integration.api.world import PHOTO_B64, World


async def _person(world: World) -> dict[str, str]:
    holder = world.holder(phone="13912345678", address="北京市东城区某街1号")
    r = await world.post("clerk_a", "/v1/applications", {"holder": holder, "photo": PHOTO_B64})
    assert r.status_code == 201, r.text
    return holder


async def _lookup(world: World, who: str, cid: str, purpose: str | None = None) -> dict[str, str]:
    body = {"citizen_id": cid} | ({} if purpose is None else {"purpose": purpose})
    r = await world.post(who, "/v1/holders/lookup", body)
    assert r.status_code == 200, r.text
    holder: dict[str, str] = r.json()["holder"]
    return holder


async def _audit(rt: Runtime) -> list[tuple[str, str]]:
    await rt.store.chain_pending_audit()
    rows = await rt.pool.fetch("SELECT purpose, action FROM audit_log ORDER BY id")
    return [(r["purpose"], r["action"]) for r in rows]


async def test_a_clerk_sees_the_id_as_the_receipt_does_and_a_masked_phone(
    world: World, rt: Runtime
) -> None:
    p = await _person(world)
    shown = await _lookup(world, "clerk_a", p["citizen_id"])
    cid = p["citizen_id"]
    assert shown["citizen_id"] == cid[:6] + "********" + cid[-4:]
    assert shown["phone"] == "139****5678"
    assert shown["address"] == "北京市东城区****"
    assert shown["name"] == p["name"]
    assert (await _audit(rt))[-1] == ("query_status", "read")


@pytest.mark.parametrize(
    ("who", "purpose", "whole"),
    [
        ("clerk_a", "home_visit", {"phone", "address"}),
        ("clerk_a", "identity_check", set()),  # not a clerk's service
        ("supervisor_a", "identity_check", {"citizen_id", "phone", "address"}),
        ("auditor", "supervision", {"citizen_id", "phone", "address"}),
        ("auditor", "query_status", set()),
        ("supervisor_a", "query_status", set()),
        ("supervisor_a", "supervision", set()),  # the bureau's service, not a bank's
    ],
)
async def test_whole_values_follow_the_table_and_are_audited_with_their_purpose(
    world: World, rt: Runtime, who: str, purpose: str, whole: set[str]
) -> None:
    p = await _person(world)
    shown = await _lookup(world, who, p["citizen_id"], purpose)
    assert {f for f in ("citizen_id", "phone", "address") if shown[f] == p[f]} == whole
    action = "read_unmasked" if whole else "read"
    assert (await _audit(rt))[-1] == (purpose, action)


def test_the_table_names_only_services_and_grants_something() -> None:
    assert all(isinstance(need, Need) and fields for (_, need), fields in DISCLOSED.items())


async def test_an_info_change_answer_shows_the_contact_values_it_changed_and_is_audited(
    world: World, rt: Runtime
) -> None:
    p = await _person(world)
    change = {"citizen_id": p["citizen_id"], "phone": "13700001111"}
    r = await world.post("clerk_a", "/v1/holders/info-change", change)
    assert r.status_code == 200, r.text
    holder = r.json()["holder"]
    assert holder["phone"] == "13700001111"
    assert holder["citizen_id"] != p["citizen_id"]
    assert ("change_info", "read_unmasked") in await _audit(rt)


async def test_an_unknown_purpose_is_a_422(world: World) -> None:
    p = await _person(world)
    r = await world.post(
        "clerk_a", "/v1/holders/lookup", {"citizen_id": p["citizen_id"], "purpose": "curiosity"}
    )
    assert r.status_code == 422
