"""Who may call what: the role × endpoint matrix, bearer tokens, and bank scope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.api.world import PHOTO_B64, World

CLERK, SUPERVISOR, ADMIN, AUDITOR, AGENT = (
    "clerk_a",
    "supervisor_a",
    "admin_a",
    "auditor",
    "agent_a",
)
ROLES = (CLERK, SUPERVISOR, ADMIN, AUDITOR, AGENT)
COUNTER = frozenset({CLERK, SUPERVISOR})
READERS = frozenset({CLERK, SUPERVISOR, ADMIN, AUDITOR})


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # {n} is a card of bank A, {j} its job
    body: Any
    allowed: frozenset[str]


def _holder(world: World) -> dict[str, Any]:
    return world.holder()


CALLS: dict[str, Call] = {
    "apply": Call("POST", "/v1/applications", "apply", COUNTER),
    "status": Call("GET", "/v1/cards/{n}", None, READERS),
    "replace": Call("POST", "/v1/cards/{n}/replace", {"reason": "damaged"}, COUNTER),
    "reissue": Call("POST", "/v1/cards/{n}/reissue", {}, COUNTER),
    "loss": Call("POST", "/v1/cards/{n}/loss", {"kind": "formal"}, COUNTER),
    "cancel_loss": Call("POST", "/v1/cards/{n}/loss/cancel", None, COUNTER),
    "cancel": Call("POST", "/v1/cards/{n}/cancel", None, frozenset({SUPERVISOR})),
    "activate": Call("POST", "/v1/cards/{n}/activate", None, COUNTER),
    "hand_over": Call("POST", "/v1/cards/{n}/hand-over", None, COUNTER),
    "pin_change": Call("POST", "/v1/cards/{n}/pin-change", {}, COUNTER),
    "pin_reset": Call("POST", "/v1/cards/{n}/pin-reset", {}, COUNTER),
    "withdrawal": Call("POST", "/v1/cards/{n}/withdrawals", None, READERS),
    "read_holder": Call(
        "POST", "/v1/holders/lookup", "cid", frozenset({CLERK, SUPERVISOR, AUDITOR})
    ),
    "info_change": Call("POST", "/v1/holders/info-change", "cid", COUNTER),
    "bank_change": Call("POST", "/v1/holders/bank-change", "cid", COUNTER),
    "home_visit": Call("POST", "/v1/home-visits", "visit", COUNTER),
    "quote": Call("GET", "/v1/fees/quote?service=apply&bank=BKA", None, READERS),
    "fee_schedule": Call("PUT", "/v1/banks/BKA/fee-schedule", {}, frozenset({ADMIN})),
    "queue_stats": Call("GET", "/v1/queue/stats", None, READERS),
    "claim": Call(
        "POST",
        "/v1/agent/claim",
        {
            "worker": "w",
            "site": "A1",
            "capabilities": ["print_encode"],
            "wait_seconds": 0,
            "psam": "PSAM-A1",
        },
        frozenset({AGENT}),
    ),
    "printers": Call("GET", "/v1/agent/printers?site=A1", None, frozenset({AGENT})),
    "put_printer": Call(
        "PUT", "/v1/agent/printers/p1", {"site": "A1", "status": "ok"}, frozenset({AGENT})
    ),
    "clear_printer": Call(
        "POST", "/v1/outlets/A1/printers/p1/clear", None, frozenset({SUPERVISOR})
    ),
    "reconcile": Call(
        "POST", "/v1/agent/jobs/{j}/reconcile", {"outcome": "made"}, frozenset({AGENT, SUPERVISOR})
    ),
    "photo": Call("GET", "/v1/agent/jobs/{j}/photo", None, frozenset({AGENT})),
    "cancel_job": Call("POST", "/v1/jobs/{j}/cancel", {"reason": "x"}, frozenset({SUPERVISOR})),
    "redrive_job": Call("POST", "/v1/jobs/{j}/redrive", None, frozenset({SUPERVISOR})),
}


def _body(world: World, spec: Any, cid: str) -> Any:
    bodies = {
        "apply": {"holder": world.holder(), "photo": PHOTO_B64},
        "cid": {"citizen_id": cid},
        "visit": {
            "holder": world.holder(),
            "photo": PHOTO_B64,
            "appointment_at": "2030-01-01T10:00:00+08:00",
            "visit_address": "家",
        },
    }
    return bodies.get(spec, spec) if isinstance(spec, str) else spec


@pytest.mark.parametrize("name", sorted(CALLS))
async def test_role_matrix(world: World, name: str) -> None:
    call = CALLS[name]
    card = await world.new_card(wait=True)
    stored = await world.store.card_by_number(card["card_number"])
    assert stored is not None
    cid = (await world.store.holder(stored.holder)).citizen_id
    path = call.path.format(n=card["card_number"], j=card["job_id"])
    wrong = {}
    for who in ROLES:
        r = await world.client.request(
            call.method, path, json=_body(world, call.body, cid), headers=world.auth(who)
        )
        denied = r.status_code == 403
        if denied == (who in call.allowed) or r.status_code in (401, 500):
            wrong[who] = (r.status_code, r.text[:200])
    assert not wrong, wrong


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
async def test_missing_or_unknown_token_is_401(world: World, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    r = await world.client.get("/v1/cards/A00000001", headers=headers)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthenticated"


async def test_another_banks_card_is_indistinguishable_from_a_missing_one(world: World) -> None:
    number = (await world.new_card())["card_number"]
    absent = "Z" + number[1:]
    foreign = await world.client.get(f"/v1/cards/{number}", headers=world.auth("clerk_b"))
    missing = await world.client.get(f"/v1/cards/{absent}", headers=world.auth("clerk_b"))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == {
        **missing.json(),
        "message": missing.json()["message"].replace(absent, number),
    }


async def test_another_banks_holder_is_indistinguishable_from_a_missing_one(world: World) -> None:
    card = await world.new_card()
    stored = await world.store.card_by_number(card["card_number"])
    assert stored is not None
    cid = (await world.store.holder(stored.holder)).citizen_id
    foreign = await world.post("clerk_b", "/v1/holders/lookup", {"citizen_id": cid})
    missing = await world.post("clerk_b", "/v1/holders/lookup", {"citizen_id": world.citizen_id()})
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    own = await world.post("clerk_a", "/v1/holders/lookup", {"citizen_id": cid})
    assert own.status_code == 200
    bureau = await world.post("auditor", "/v1/holders/lookup", {"citizen_id": cid})
    assert bureau.status_code == 200


async def test_an_agent_reports_only_its_own_banks_jobs(world: World) -> None:
    card = await world.new_card()
    r = await world.post("agent_b", f"/v1/agent/jobs/{card['job_id']}/complete", {"worker": "w"})
    assert (r.status_code, r.json()["code"]) == (404, "job_not_found")
    r = await world.client.get(
        f"/v1/agent/jobs/{card['job_id']}/photo", headers=world.auth("agent_b")
    )
    assert r.status_code == 404


async def test_an_agent_claims_only_its_own_sites(world: World) -> None:
    body = {"worker": "w", "site": "B1", "capabilities": ["print_encode"], "wait_seconds": 0}
    r = await world.post("agent_a", "/v1/agent/claim", body)
    assert (r.status_code, r.json()["code"]) == (403, "wrong_site")
