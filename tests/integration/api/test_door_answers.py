"""What the doors answer: another bank's card looks missing on every card route, names with
control characters are refused, and idempotency compares a request's meaning."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.api.world import PHOTO_B64, World

# (who, method, path under /v1/cards/{n}, body): every card route a bank-scoped operator calls
CARD_ROUTES: list[tuple[str, str, str, Any]] = [
    ("clerk_b", "GET", "", None),
    ("clerk_b", "POST", "/withdrawals", None),
    ("clerk_b", "POST", "/replace", {"reason": "damaged"}),
    ("clerk_b", "POST", "/reissue", {}),
    ("clerk_b", "POST", "/loss", {"kind": "temporary"}),
    ("clerk_b", "POST", "/loss/cancel", None),
    ("clerk_b", "POST", "/hand-over", None),
    ("clerk_b", "POST", "/activate", None),
    ("clerk_b", "POST", "/pin-change", None),
    ("clerk_b", "POST", "/pin-reset", None),
    ("supervisor_b", "POST", "/cancel", None),
    ("clerk_b", "GET", "/receipt.pdf", None),
]


@pytest.mark.parametrize(("who", "method", "tail", "body"), CARD_ROUTES)
async def test_another_banks_card_answers_exactly_like_a_missing_one(
    world: World, who: str, method: str, tail: str, body: Any
) -> None:
    number = (await world.active())["card_number"]
    absent = "Z" + number[1:]

    async def call(n: str) -> Any:
        return await world.client.request(
            method, f"/v1/cards/{n}{tail}", json=body, headers=world.auth(who)
        )

    foreign, missing = await call(number), await call(absent)
    assert foreign.status_code == missing.status_code == 404, foreign.text
    assert foreign.json() == json.loads(missing.text.replace(absent, number))


@pytest.mark.parametrize(
    "name", ["张三\n", "张三\r", "张\t三", "\n张三", "张\u200b三", "张三\u2028"]
)
async def test_a_name_with_control_characters_is_refused_not_trimmed(
    world: World, name: str
) -> None:
    body = {"holder": world.holder(name=name), "photo": PHOTO_B64}
    r = await world.client.post("/v1/applications", json=body, headers=world.auth("clerk_a"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {
            "field": "name",
            "code": "name_control_characters",
            "message": r.json()["errors"][0]["message"],
        }
    ]
    assert "U+" in r.json()["errors"][0]["message"]


async def test_surrounding_spaces_are_still_trimmed(world: World) -> None:
    body = {"holder": world.holder(name=" 张三\u3000"), "photo": PHOTO_B64}
    r = await world.client.post("/v1/applications", json=body, headers=world.auth("clerk_a"))
    assert r.status_code == 201, r.text


async def test_the_same_request_re_serialised_gets_the_first_answer(world: World) -> None:
    body = {"holder": world.holder(), "photo": PHOTO_B64, "wait": False}
    compact = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    reordered = json.dumps(dict(reversed(body.items())), indent=2, ensure_ascii=True)
    first = await world.client.post(
        "/v1/applications", content=compact.encode(),
        headers={**world.auth("clerk_a", "same-meaning"), "Content-Type": "application/json"},
    )  # fmt: skip
    again = await world.client.post(
        "/v1/applications", content=reordered.encode(),
        headers={**world.auth("clerk_a", "same-meaning"), "Content-Type": "application/json"},
    )  # fmt: skip
    assert first.status_code == again.status_code == 201, again.text
    assert first.json() == again.json()


async def test_the_same_key_with_another_meaning_is_still_409(world: World) -> None:
    body = {"holder": world.holder(), "photo": PHOTO_B64, "wait": False}
    first = await world.client.post(
        "/v1/applications", json=body, headers=world.auth("clerk_a", "other-meaning")
    )
    assert first.status_code == 201
    other = await world.client.post(
        "/v1/applications", json={**body, "wait": True},
        headers=world.auth("clerk_a", "other-meaning"),
    )  # fmt: skip
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
