"""Every door bounded before the body is read: 401 and 413 without reading, depth limits,
the one error shape, and an OpenAPI document that lists every status.

Request bodies are async generators that count the bytes the server pulls
from them, so "not read" is measured in bytes, never in time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from issuance.api.doors import DEFAULT_BODY_LIMIT
from issuance.api.uploads import MAX_BODY_BYTES
from issuance.jsondepth import MAX_JSON_DEPTH
from tests.integration.api.world import PHOTO_B64, World

MIB = 1024 * 1024
HUGE = 200 * MIB
CHUNK = b"x" * MIB
STATUSES = ("400", "401", "403", "404", "409", "413", "422", "503")


class Counted:
    """A request body of ``total`` bytes in 1 MiB chunks that counts what was pulled."""

    def __init__(self, total: int, first: bytes = b"") -> None:
        self.total = total
        self.first = first
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.total:
            chunk = (self.first if sent == 0 and self.first else CHUNK)[: self.total - sent]
            self.pulled += len(chunk)
            sent += len(chunk)
            yield chunk


def headers(world: World, who: str | None, **extra: str) -> dict[str, str]:
    out = {"Content-Type": "application/json", **extra}
    if who is not None:
        out.update(world.auth(who))
    return out


def assert_error(body: dict[str, Any], code: str) -> None:
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]


async def test_a_huge_body_without_a_token_is_401_before_a_byte_is_read(world: World) -> None:
    body = Counted(HUGE, b'{"holder": "')
    r = await world.client.post(
        "/v1/applications",
        content=body,
        headers=headers(world, None, **{"Content-Length": str(HUGE)}),
    )
    assert r.status_code == 401
    assert_error(r.json(), "unauthenticated")
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert body.pulled <= MIB  # at most the chunk the client had already handed over


async def test_a_huge_declared_body_is_413_before_a_byte_is_read(world: World) -> None:
    body = Counted(HUGE)
    r = await world.client.post(
        "/v1/applications", content=body,
        headers=headers(world, "clerk_a", **{"Content-Length": str(HUGE)}),
    )  # fmt: skip
    assert r.status_code == 413
    assert_error(r.json(), "payload_too_large")
    assert r.json()["limit"] == DEFAULT_BODY_LIMIT
    assert body.pulled <= MIB


async def test_a_huge_chunked_body_is_cut_off_at_the_limit(world: World) -> None:
    body = Counted(HUGE)  # no Content-Length: the server must count
    r = await world.client.post("/v1/applications", content=body, headers=headers(world, "clerk_a"))
    assert r.status_code == 413
    assert_error(r.json(), "payload_too_large")
    assert body.pulled <= DEFAULT_BODY_LIMIT + MIB


async def test_a_body_on_a_route_without_one_is_bounded_too(world: World) -> None:
    body = Counted(HUGE)
    r = await world.client.post(
        "/v1/cards/A12345678/cancel", content=body, headers=headers(world, "supervisor_a")
    )
    assert r.status_code == 413
    assert body.pulled <= 2 * MIB


async def test_the_batch_door_has_its_own_limit_and_checks_the_token_first(world: World) -> None:
    over = str(MAX_BODY_BYTES + 1)
    stranger = Counted(HUGE)
    r = await world.client.post("/v1/batches", content=stranger, headers=headers(world, None))
    assert r.status_code == 401 and stranger.pulled <= MIB
    declared = Counted(HUGE)
    r = await world.client.post(
        "/v1/batches", content=declared,
        headers=headers(world, "clerk_a", **{"Content-Length": over}),
    )  # fmt: skip
    assert r.status_code == 413 and declared.pulled <= MIB
    assert r.json()["limit"] == MAX_BODY_BYTES


async def test_a_body_nested_too_deep_is_400(world: World) -> None:
    deep = "[" * 3000 + "]" * 3000
    r = await world.client.post("/v1/applications", content=deep, headers=headers(world, "clerk_a"))
    assert r.status_code == 400
    assert_error(r.json(), "json_too_deep")
    ok_depth = {"holder": world.holder(), "photo": PHOTO_B64}
    r = await world.client.post("/v1/applications", json=ok_depth, headers=world.auth("clerk_a"))
    assert r.status_code == 201, r.text


async def test_nesting_inside_strings_does_not_count(world: World) -> None:
    holder = world.holder(address="[" * (MAX_JSON_DEPTH + 5))
    r = await world.client.post(
        "/v1/applications",
        json={"holder": holder, "photo": PHOTO_B64},
        headers=world.auth("clerk_a"),
    )
    assert r.status_code == 201, r.text


async def test_a_json_batch_nested_3000_deep_is_a_rejected_batch(world: World) -> None:
    deep = '{"applicants": [' + "[" * 3000 + "]" * 3000 + "]}"
    r = await world.client.post("/v1/batches", content=deep, headers=headers(world, "clerk_a"))
    assert r.status_code == 422, r.text
    assert_error(r.json(), "batch_rejected")
    assert any("nested deeper" in e["message"] for e in r.json()["errors"]), r.json()
    again = await world.client.get("/health")  # the connection and the server are fine
    assert again.status_code == 200


@pytest.mark.parametrize(
    ("content", "code"),
    [(b'{"holder": "\xff"}', "malformed_body"), (b'{"holder": ', "invalid_input")],
)
async def test_an_unparsable_body_has_the_error_shape(
    world: World, content: bytes, code: str
) -> None:
    r = await world.client.post(
        "/v1/applications", content=content, headers=headers(world, "clerk_a")
    )
    assert r.status_code in (400, 422)
    assert "detail" not in r.json()
    assert_error(r.json(), code)


async def test_a_malformed_content_length_is_400(world: World) -> None:
    r = await world.client.post(
        "/v1/applications", content=b"{}",
        headers=headers(world, "clerk_a", **{"Content-Length": "2x"}),
    )  # fmt: skip
    assert r.status_code == 400
    assert_error(r.json(), "malformed_body")


async def test_openapi_lists_every_status_with_the_error_shape(world: World) -> None:
    doc = (await world.client.get("/openapi.json")).json()
    error = doc["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message"}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if path == "/health":
                continue
            for status in STATUSES:
                response = operation["responses"].get(status)
                assert response is not None, (method, path, status)
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
            assert operation["x-body-limit"] > 0


async def test_openapi_shows_the_batch_limit(world: World) -> None:
    doc = (await world.client.get("/openapi.json")).json()
    assert doc["paths"]["/v1/batches"]["post"]["x-body-limit"] == MAX_BODY_BYTES
    apply = doc["paths"]["/v1/applications"]["post"]
    assert apply["x-body-limit"] == DEFAULT_BODY_LIMIT


async def test_an_unknown_path_reads_no_large_body_and_answers_in_the_error_shape(
    world: World,
) -> None:
    body = Counted(HUGE)
    r = await world.client.post("/v1/no-such-door", content=body, headers=headers(world, None))
    assert r.status_code == 413
    assert body.pulled <= MIB
    small = await world.client.post("/v1/no-such-door", content=b"{}", headers=headers(world, None))
    assert small.status_code == 404
    assert_error(small.json(), "not_found")
