"""Idempotent retries, the audit trail of personal data, and 422s that name the field."""

from __future__ import annotations

import asyncio
import base64

import pytest

from issuance.domain.identity import check_character
from tests.integration.api.world import PHOTO_B64, World, photo_bytes


async def _cards_of(world: World, cid: str) -> int:
    holder = await world.store.holder_by_citizen_id(cid)
    assert holder is not None
    return len(await world.store.cards_of_holder(holder.id))


async def test_same_key_twice_makes_one_card_and_one_job(world: World) -> None:
    cid = world.citizen_id()
    first = await world.apply(citizen_id=cid, key="k-1")
    again = await world.apply(citizen_id=cid, key="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert await _cards_of(world, cid) == 1
    assert sum(d.depth for d in (await world.queue.stats()).depth) == 1


async def test_concurrent_retries_make_one_card(world: World) -> None:
    cid = world.citizen_id()
    answers = await asyncio.gather(*(world.apply(citizen_id=cid, key="same") for _ in range(4)))
    assert {r.status_code for r in answers} <= {201, 409}
    assert len({r.json()["card_number"] for r in answers if r.status_code == 201}) == 1
    assert await _cards_of(world, cid) == 1


async def test_a_key_made_of_quotes_and_sql_is_only_a_key(world: World) -> None:
    # the key travels in the same round trip as BEGIN and COMMIT, as a literal
    key = "x');DROP/**/TABLE/**/cards;--\\'\"$1{key}"
    cid = world.citizen_id()
    first = await world.apply(citizen_id=cid, key=key)
    again = await world.apply(citizen_id=cid, key=key)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json() == again.json()
    assert await _cards_of(world, cid) == 1
    stored = await world.store.idempotency_get(await clerk_id(world), key)
    assert stored is not None and stored.status == 201


async def clerk_id(world: World) -> int:
    operator = await world.store.operator_by_token(world.tokens["clerk_a"])
    assert operator is not None
    return operator.id


async def test_a_failed_request_keeps_no_key_and_its_retry_runs(world: World) -> None:
    number = (await world.active())["card_number"]
    path = f"/v1/cards/{number}/loss/cancel"  # an active card has no loss to cancel
    refused = await world.post("clerk_a", path, {}, key="retry-me")
    assert refused.status_code == 409, refused.text
    assert await world.store.idempotency_get(await clerk_id(world), "retry-me") is None
    loss = f"/v1/cards/{number}/loss"
    reported = await world.post("clerk_a", loss, {"kind": "temporary"}, key="first-loss")
    assert reported.status_code == 200, reported.text
    retried = await world.post("clerk_a", path, {}, key="retry-me")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "active"


async def test_same_key_with_another_body_is_409(world: World) -> None:
    assert (await world.apply(key="k-2")).status_code == 201
    other = await world.apply(key="k-2")  # another person
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"


async def test_a_retried_transition_changes_nothing(world: World) -> None:
    number = (await world.active())["card_number"]
    path = f"/v1/cards/{number}/loss"
    first = await world.post("clerk_a", path, {"kind": "temporary"}, key="loss-1")
    again = await world.post("clerk_a", path, {"kind": "temporary"}, key="loss-1")
    assert first.json() == again.json()
    card = await world.store.card_by_number(number)
    assert card is not None
    events = [e.action for e in await world.store.events_of_card(card.id)]
    assert events.count("report_loss_temporary") == 1


async def test_every_read_of_personal_data_is_audited(world: World) -> None:
    card = await world.new_card(wait=True)
    stored = await world.store.card_by_number(card["card_number"])
    assert stored is not None
    cid = (await world.store.holder(stored.holder)).citizen_id
    await world.client.get(f"/v1/cards/{card['card_number']}", headers=world.auth("clerk_a2"))
    await world.post("auditor", "/v1/holders/lookup", {"citizen_id": cid})
    photo = await world.client.get(
        f"/v1/agent/jobs/{card['job_id']}/photo", headers=world.auth("agent_a")
    )
    assert (photo.status_code, photo.headers["content-type"]) == (200, "image/jpeg")
    rows = await world.store.audit_of_holder(stored.holder)
    seen = [(r["purpose"], r["action"], r["bank"], r["outlet"]) for r in rows]
    assert seen == [
        ("apply", "change", "BKA", "A1"),
        ("query_status", "read", "BKA", "A2"),
        ("query_status", "read", None, None),
        ("production", "read", "BKA", "A1"),
    ]


def _bad_check_digit(world: World) -> str:
    cid = world.citizen_id()
    wrong = next(c for c in "0123456789X" if c != check_character(cid[:17]))
    return cid[:17] + wrong


async def test_a_wrong_check_digit_names_the_field(world: World) -> None:
    holder = world.holder()
    holder["citizen_id"] = _bad_check_digit(world)
    r = await world.post("clerk_a", "/v1/applications", {"holder": holder, "photo": PHOTO_B64})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "field": "citizen_id",
            "code": "citizen_id_check_digit",
            "message": "the check character is wrong",
        },
    ]


@pytest.mark.parametrize(
    "photo",
    [
        base64.b64encode(b"not an image").decode(),
        base64.b64encode(photo_bytes(size=(20, 20))).decode(),
        base64.b64encode(photo_bytes()[:200]).decode(),
        "%%% not base64",
    ],
)
async def test_a_bad_photo_names_the_field(world: World, photo: str) -> None:
    r = await world.post("clerk_a", "/v1/applications", {"holder": world.holder(), "photo": photo})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["photo"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ethnicity": 99}, "holder.ethnicity"),
        ({"birthplace": "1101"}, "holder.birthplace"),
        ({"gender": "3"}, "holder.gender"),
        ({"birth_date": "1990-02-30"}, "holder.birth_date"),
        ({"name": "张\x00三"}, "holder.name"),
    ],
)
async def test_schema_errors_name_the_field(
    world: World, change: dict[str, object], field: str
) -> None:
    r = await world.post(
        "clerk_a", "/v1/applications", {"holder": world.holder(**change), "photo": PHOTO_B64}
    )
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_input"
    assert field in [e["field"] for e in r.json()["errors"]]


async def test_a_declared_birth_date_must_match_the_id(world: World) -> None:
    r = await world.post(
        "clerk_a",
        "/v1/applications",
        {"holder": world.holder(birth_date="1901-01-01"), "photo": PHOTO_B64},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "birth_date"


async def test_an_unprintable_name_names_the_field(world: World) -> None:
    r = await world.post(
        "clerk_a",
        "/v1/applications",
        {"holder": world.holder(name="张\U0001f600"), "photo": PHOTO_B64},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "name"


async def test_the_openapi_document_lists_the_key_only_where_it_is_honoured(world: World) -> None:
    paths = (await world.client.get("/openapi.json")).json()["paths"]

    def takes_key(method: str, path: str) -> bool:
        parameters = paths[path][method].get("parameters", [])
        return any(p["name"] == "Idempotency-Key" for p in parameters)

    assert takes_key("post", "/v1/applications")
    assert takes_key("post", "/v1/jobs/{job_id}/redrive")
    assert not takes_key("post", "/v1/agent/claim")
    assert not takes_key("post", "/v1/holders/lookup")
    assert not takes_key("get", "/v1/cards/{number}")


async def test_a_claim_with_a_used_key_is_a_new_claim_not_a_replay(world: World) -> None:
    first_card = await world.new_card(wait=True)
    body = {"worker": "w1", "site": "A1", "capabilities": ["print_encode"], "wait_seconds": 0}
    first = await world.post("agent_a", "/v1/agent/claim", body, key="claim-1")
    assert [j["id"] for j in first.json()["jobs"]] == [first_card["job_id"]]
    second_card = await world.new_card(wait=True)
    again = await world.post("agent_a", "/v1/agent/claim", body, key="claim-1")
    assert [j["id"] for j in again.json()["jobs"]] == [second_card["job_id"]]
