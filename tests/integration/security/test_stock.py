"""Blank card bodies: dual control of receipts, transfers and destruction; daily reconciliation."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from issuance.domain.roles import Role
from issuance.services import admin
from tests.integration.api.world import World

BEIJING = timezone(timedelta(hours=8))


async def _second_supervisor(world: World) -> None:
    made = await admin.create_operator(
        world.store, "supervisor_a1b", Role.SUPERVISOR, bank="BKA", outlet="A1"
    )
    world.tokens["supervisor_a1b"] = made.token


async def _ask(world: World, who: str, **body: Any) -> httpx.Response:
    return await world.post(who, "/v1/stock/requests", body)


async def _stock(world: World, outlet: str = "A1", who: str = "supervisor_a") -> dict[str, Any]:
    r = await world.client.get(f"/v1/outlets/{outlet}/stock", headers=world.auth(who))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _receive(world: World, lot: str, quantity: int) -> None:
    r = await _ask(world, "supervisor_a", kind="receipt", outlet="A1", lot=lot, quantity=quantity)
    assert r.status_code == 201, r.text
    ok = await world.post("supervisor_a1b", f"/v1/stock/requests/{r.json()['id']}/confirm")
    assert ok.status_code == 200, ok.text


async def test_a_receipt_needs_a_second_different_operator(world: World) -> None:
    await _second_supervisor(world)
    r = await _ask(world, "supervisor_a", kind="receipt", outlet="A1", lot="L-0001", quantity=500)
    assert r.status_code == 201 and r.json()["state"] == "pending", r.text
    request_id = r.json()["id"]
    assert (await _stock(world))["balance"] == 0
    same = await world.post("supervisor_a", f"/v1/stock/requests/{request_id}/confirm")
    assert same.status_code == 409 and same.json()["code"] == "same_operator"
    clerk = await world.post("clerk_a", f"/v1/stock/requests/{request_id}/confirm")
    assert clerk.status_code == 403
    other_bank = await world.post("supervisor_b", f"/v1/stock/requests/{request_id}/confirm")
    assert other_bank.status_code == 404
    ok = await world.post("supervisor_a1b", f"/v1/stock/requests/{request_id}/confirm")
    assert ok.status_code == 200, ok.text
    assert (ok.json()["state"], ok.json()["decided_by"]) == ("confirmed", "supervisor_a1b")
    assert (await _stock(world))["balance"] == 500
    again = await world.post("supervisor_a1b", f"/v1/stock/requests/{request_id}/confirm")
    assert again.status_code == 409 and again.json()["code"] == "request_decided"
    twice = await _ask(world, "supervisor_a", kind="receipt", outlet="A1", lot="L-0001",
                       quantity=5)  # fmt: skip
    assert twice.status_code == 409 and twice.json()["code"] == "lot_received"


async def test_transfer_and_destruction_take_only_what_the_outlet_holds(world: World) -> None:
    await _second_supervisor(world)
    await _receive(world, "L-0002", 100)
    too_many = await _ask(world, "supervisor_a", kind="transfer", outlet="A1", to_outlet="A2",
                          lot="L-0002", quantity=101)  # fmt: skip
    assert too_many.status_code == 201
    refused = await world.post("admin_a", f"/v1/stock/requests/{too_many.json()['id']}/confirm")
    assert refused.status_code == 409 and refused.json()["code"] == "insufficient_stock"
    cancelled = await world.post(
        "supervisor_a", f"/v1/stock/requests/{too_many.json()['id']}/cancel"
    )
    assert cancelled.json()["state"] == "cancelled"
    moved = await _ask(world, "supervisor_a", kind="transfer", outlet="A1", to_outlet="A2",
                       lot="L-0002", quantity=30)  # fmt: skip
    assert (await world.post("admin_a", f"/v1/stock/requests/{moved.json()['id']}/confirm")
            ).status_code == 200  # fmt: skip
    destroyed = await _ask(world, "admin_a", kind="destruction", outlet="A1", lot="L-0002",
                           quantity=5, note="bent in storage")  # fmt: skip
    assert (await world.post("supervisor_a1b",
                             f"/v1/stock/requests/{destroyed.json()['id']}/confirm")
            ).status_code == 200  # fmt: skip
    assert (await _stock(world))["balance"] == 65
    assert (await _stock(world, "A2", "admin_a"))["balance"] == 30
    foreign = await _ask(world, "supervisor_a", kind="transfer", outlet="A1", to_outlet="B1",
                         lot="L-0002", quantity=1)  # fmt: skip
    assert foreign.status_code == 422
    elsewhere = await _ask(world, "supervisor_a", kind="receipt", outlet="A2", lot="L-9",
                           quantity=1)  # fmt: skip
    assert elsewhere.status_code == 403 and elsewhere.json()["code"] == "not_your_outlet"


async def test_who_sees_an_outlets_stock(world: World) -> None:
    for who, status in (("supervisor_a", 200), ("admin_a", 200), ("auditor", 200),
                        ("clerk_a", 403), ("supervisor_b", 403), ("agent_a", 403)):  # fmt: skip
        r = await world.client.get("/v1/outlets/A1/stock", headers=world.auth(who))
        assert r.status_code == status, (who, r.text)


async def _run_job(world: World, *, spoil: bool) -> None:
    card = await world.new_card()
    claimed = await world.post("agent_a", "/v1/agent/claim", {
        "worker": "w", "site": "A1", "capabilities": ["print_encode"], "limit": 1,
        "wait_seconds": 0})  # fmt: skip
    job = claimed.json()["jobs"][0]["id"]
    assert job == card["job_id"]
    for _ in range(2):  # heartbeats repeat; the body is counted once
        hb = await world.post("agent_a", f"/v1/agent/jobs/{job}/heartbeat",
                              {"worker": "w", "step": "fed"})  # fmt: skip
        assert hb.status_code == 204, hb.text
    if spoil:
        r = await world.post("agent_a", f"/v1/agent/jobs/{job}/fail", {
            "worker": "w", "error": "chip", "transient": False, "spoiled_card": True})  # fmt: skip
        assert r.status_code == 200, r.text
    else:
        r = await world.post("agent_a", f"/v1/agent/jobs/{job}/complete",
                             {"worker": "w", "result": {}})  # fmt: skip
        assert r.status_code == 204, r.text


async def test_the_day_reconciles_and_lists_every_difference(world: World) -> None:
    await _second_supervisor(world)
    await _receive(world, "L-0100", 50)
    await _run_job(world, spoil=False)
    await _run_job(world, spoil=False)
    await _run_job(world, spoil=True)
    assert (await _stock(world))["balance"] == 47
    today = datetime.now(UTC).astimezone(BEIJING).date().isoformat()
    path = "/v1/outlets/A1/stock/reconciliations"
    clerk = await world.post("clerk_a", path, {"day": today, "counted": 47})
    assert clerk.status_code == 403
    r = await world.post("supervisor_a", path, {"day": today, "counted": 46})
    assert r.status_code == 201, r.text
    day = r.json()
    figures = [day[k] for k in ("opening", "received", "issued", "spoiled", "destroyed",
                                "expected", "counted", "fed")]  # fmt: skip
    assert figures == [0, 50, 2, 1, 0, 47, 46, 3]
    assert day["exceptions"] == [
        {"kind": "count_difference", "expected": 47, "counted": 46, "difference": -1}
    ]
    again = await world.post("supervisor_a", path, {"day": today, "counted": 47})
    assert again.status_code == 409
    shown = await _stock(world, who="admin_a")
    assert shown["reconciliations"][0]["exceptions"][0]["kind"] == "count_difference"


async def test_a_body_fed_but_never_reported_is_an_exception(world: World) -> None:
    await _second_supervisor(world)
    await _receive(world, "L-0200", 10)
    card = await world.new_card()
    claimed = await world.post("agent_a", "/v1/agent/claim", {
        "worker": "w", "site": "A1", "capabilities": ["print_encode"], "limit": 1,
        "wait_seconds": 0})  # fmt: skip
    job = claimed.json()["jobs"][0]["id"]
    assert job == card["job_id"]
    await world.post("agent_a", f"/v1/agent/jobs/{job}/heartbeat", {"worker": "w", "step": "fed"})
    today = datetime.now(UTC).astimezone(BEIJING).date().isoformat()
    r = await world.post("supervisor_a", "/v1/outlets/A1/stock/reconciliations",
                         {"day": today, "counted": 10})  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["exceptions"] == [
        {"kind": "unaccounted_feeds", "fed": 1, "printed": 0, "spoiled": 0, "difference": 1}
    ]


def _cli(api: str, token: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SSCARD_API": api, "SSCARD_TOKEN": token, "SSCARD_DATA_DIR": str(tmp)}
    return subprocess.run([sys.executable, "-m", "issuance.cli", "stock", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


async def test_the_cli_asks_and_a_second_operator_confirms(
    world: World, served: str, tmp_path: Path
) -> None:
    await _second_supervisor(world)
    first, second = world.tokens["supervisor_a"], world.tokens["supervisor_a1b"]
    args = ("request", "receipt", "--outlet", "A1", "--lot", "L-CLI", "--quantity", "20")
    asked = await asyncio.to_thread(_cli, served, first, tmp_path, *args)
    assert asked.returncode == 0, asked.stderr
    request_id = asked.stdout.split()[1].rstrip(":")
    same = await asyncio.to_thread(_cli, served, first, tmp_path, "confirm", request_id)
    assert same.returncode == 1 and "same_operator" in same.stderr
    ok = await asyncio.to_thread(_cli, served, second, tmp_path, "confirm", request_id)
    assert ok.returncode == 0 and "confirmed by supervisor_a1b" in " ".join(ok.stdout.split())
    shown = await asyncio.to_thread(_cli, served, first, tmp_path, "show", "A1")
    assert "20 blank bodies" in " ".join(shown.stdout.split())
    today = datetime.now(UTC).astimezone(BEIJING).date().isoformat()
    short = await asyncio.to_thread(_cli, served, first, tmp_path, "reconcile", "A1", "--day",
                                    today, "--counted", "19")  # fmt: skip
    assert short.returncode == 1 and "count_difference" in short.stdout
