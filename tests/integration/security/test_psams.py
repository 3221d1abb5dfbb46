"""Security terminals and PSAM cards: the register, its lifecycle and the check at every claim."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from issuance.domain.roles import Role
from issuance.runtime import Runtime
from issuance.services import admin
from tests.integration.api.world import World


async def _claim(
    world: World, psam: str | None, agent: str = "agent_a", wait: float = 0
) -> httpx.Response:
    body: dict[str, Any] = {"worker": agent, "site": "A1", "capabilities": ["print_encode"],
                            "limit": 5, "wait_seconds": wait}  # fmt: skip
    if psam is not None:
        body["psam"] = psam
    return await world.client.post("/v1/agent/claim", json=body, headers=world.auth(agent))


async def _install(
    world: World, serial: str, terminal: str, outlet: str, *, bank: str = "BKA",
    admin: str = "admin_a",
) -> None:  # fmt: skip
    r = await world.post(admin, "/v1/terminals", {"serial": terminal, "model": "SAM-T9",
                                                   "outlet": outlet})  # fmt: skip
    assert r.status_code == 201, r.text
    r = await world.post(admin, "/v1/psams", {"serial": serial, "bank": bank})
    assert r.status_code == 201 and r.json()["state"] == "received", r.text
    r = await world.post(admin, f"/v1/psams/{serial}/install", {"terminal": terminal})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["outlet"]) == ("installed", outlet)


def _reason(r: httpx.Response) -> str:
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "psam_refused"
    reason: str = r.json()["reason"]
    return reason


async def test_only_an_installed_psam_of_the_outlet_lets_the_agent_claim(world: World) -> None:
    card = await world.new_card()
    await _install(world, "PSAM-0001", "T-A1", "A1")
    assert _reason(await _claim(world, None)) == "psam_missing"
    assert _reason(await _claim(world, "PSAM-9999")) == "psam_unknown"
    await _install(world, "PSAM-0002", "T-A2", "A2")
    assert _reason(await _claim(world, "PSAM-0002")) == "psam_wrong_outlet"
    r = await world.post("admin_a", "/v1/psams", {"serial": "PSAM-B", "bank": "BKA"})
    assert r.status_code == 201
    assert _reason(await _claim(world, "PSAM-B")) == "psam_not_installed"
    ok = await _claim(world, "PSAM-0001")
    assert ok.status_code == 200, ok.text
    assert card["job_id"] in [j["id"] for j in ok.json()["jobs"]]


async def test_a_psam_of_another_bank_is_unknown_here(world: World) -> None:
    made = await admin.create_operator(world.store, "admin_b", Role.BANK_ADMIN, bank="BKB")
    world.tokens["admin_b"] = made.token
    await _install(world, "PSAM-A", "T-A1", "A1")
    await _install(world, "PSAM-B9", "T-B9", "B1", bank="BKB", admin="admin_b")
    assert _reason(await _claim(world, "PSAM-B9")) == "psam_unknown"


async def test_an_outlet_with_no_psam_installed_is_refused_chip_work(world: World) -> None:
    made = await admin.create_operator(world.store, "agent_a2", Role.AGENT, bank="BKA", outlet="A2")
    world.tokens["agent_a2"] = made.token

    async def claim(psam: str | None) -> httpx.Response:
        body: dict[str, Any] = {"worker": "w2", "site": "A2", "capabilities": ["encode"],
                                "wait_seconds": 0}  # fmt: skip
        if psam is not None:
            body["psam"] = psam
        return await world.client.post("/v1/agent/claim", json=body, headers=world.auth("agent_a2"))

    assert _reason(await claim(None)) == "psam_missing"
    assert _reason(await claim("PSAM-A1")) == "psam_wrong_outlet"
    print_only = {"worker": "w2", "site": "A2", "capabilities": ["print"], "wait_seconds": 0}
    r = await world.client.post("/v1/agent/claim", json=print_only, headers=world.auth("agent_a2"))
    assert r.status_code == 200, r.text
    await _install(world, "PSAM-A2", "T-A2", "A2")
    assert (await claim("PSAM-A2")).status_code == 200


async def test_revoking_stops_the_outlet_at_once_even_during_a_long_poll(world: World) -> None:
    await _install(world, "PSAM-R", "T-A1", "A1")
    assert (await _claim(world, "PSAM-R")).status_code == 200
    waiting = asyncio.create_task(_claim(world, "PSAM-R", wait=5))
    r = await world.post("admin_a", "/v1/psams/PSAM-R/revoke", {"note": "reported stolen"})
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    assert _reason(await waiting) == "psam_not_installed"
    assert _reason(await _claim(world, "PSAM-R")) == "psam_not_installed"
    again = await world.post("admin_a", "/v1/psams/PSAM-R/install", {"terminal": "T-A1"})
    assert again.status_code == 409 and again.json()["code"] == "psam_transition_forbidden"
    gone = await world.post("admin_a", "/v1/psams/PSAM-R/destroy", {})
    assert gone.status_code == 200 and gone.json()["state"] == "destroyed"
    shown = await world.client.get("/v1/psams/PSAM-R", headers=world.auth("supervisor_a"))
    moves = [(m["action"], m["to"], m["by"]) for m in shown.json()["moves"]]
    assert moves == [
        ("receive", "received", "admin_a"), ("install", "installed", "admin_a"),
        ("revoke", "revoked", "admin_a"), ("destroy", "destroyed", "admin_a"),
    ]  # fmt: skip
    assert shown.json()["moves"][2]["note"] == "reported stolen"


async def test_suspend_resume_and_a_terminal_out_of_service(world: World) -> None:
    await _install(world, "PSAM-S", "T-A1", "A1")
    assert (await world.post("admin_a", "/v1/psams/PSAM-S/suspend", {})).status_code == 200
    assert _reason(await _claim(world, "PSAM-S")) == "psam_not_installed"
    assert (await world.post("admin_a", "/v1/psams/PSAM-S/resume", {})).status_code == 200
    assert (await _claim(world, "PSAM-S")).status_code == 200
    r = await world.post("admin_a", "/v1/terminals/T-A1/state", {"state": "out_of_service"})
    assert r.status_code == 200, r.text
    assert _reason(await _claim(world, "PSAM-S")) == "terminal_not_in_service"
    second = await world.post("admin_a", "/v1/psams", {"serial": "PSAM-S2", "bank": "BKA"})
    assert second.status_code == 201
    await world.post("admin_a", "/v1/terminals/T-A1/state", {"state": "in_service"})
    taken = await world.post("admin_a", "/v1/psams/PSAM-S2/install", {"terminal": "T-A1"})
    assert taken.status_code == 409 and taken.json()["code"] == "terminal_occupied"


async def test_who_may_manage_and_read_the_register(world: World) -> None:
    other = await world.post("admin_a", "/v1/terminals", {"serial": "T-X", "model": "m",
                                                          "outlet": "B1"})  # fmt: skip
    assert other.status_code == 403
    clerk = await world.post("clerk_a", "/v1/psams", {"serial": "P-C", "bank": "BKA"})
    assert clerk.status_code == 403
    await _install(world, "PSAM-V", "T-A1", "A1")
    for who, status in (("supervisor_a", 200), ("auditor", 200), ("admin_a", 200),
                        ("clerk_a", 403), ("supervisor_b", 403)):  # fmt: skip
        r = await world.client.get("/v1/outlets/A1/security-modules", headers=world.auth(who))
        assert r.status_code == status, (who, r.text)
    body = (await world.client.get("/v1/outlets/A1/security-modules",
                                   headers=world.auth("auditor"))).json()  # fmt: skip
    assert [p["serial"] for p in body["psams"]] == ["PSAM-A1", "PSAM-V"]
    bad = await world.post("admin_a", "/v1/psams", {"serial": "bad serial!", "bank": "BKA"})
    assert bad.status_code == 422


def _cli(dsn: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SSCARD_DATABASE_URL": dsn, "SSCARD_DATA_DIR": str(tmp)}
    return subprocess.run([sys.executable, "-m", "issuance.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


async def test_the_cli_keeps_the_register(world: World, rt: Runtime, db_dsn: str) -> None:
    data = rt.settings.data_dir
    steps = (
        ("terminal", "register", "T-CLI", "--model", "SAM-T9", "--outlet", "A1"),
        ("psam", "receive", "PSAM-CLI", "--bank", "BKA"),
        ("psam", "install", "PSAM-CLI", "--terminal", "T-CLI"),
    )
    for args in steps:
        r = await asyncio.to_thread(_cli, db_dsn, data, *args)
        assert r.returncode == 0, r.stderr
    assert (await _claim(world, "PSAM-CLI")).status_code == 200
    revoked = await asyncio.to_thread(_cli, db_dsn, data, "psam", "revoke", "PSAM-CLI")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert _reason(await _claim(world, "PSAM-CLI")) == "psam_not_installed"
    shown = await asyncio.to_thread(_cli, db_dsn, data, "psam", "show", "PSAM-CLI")
    assert shown.returncode == 0 and "by cli" in shown.stdout
    refused = await asyncio.to_thread(_cli, db_dsn, data, "psam", "resume", "PSAM-CLI")
    assert refused.returncode == 1 and "cannot resume" in refused.stderr
