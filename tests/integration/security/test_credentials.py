"""Operators' tokens expire, rotate and are revoked at once; sign-in, TOTP and attempt limits."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from issuance.api.operators import OperatorCache, watch_revocations
from issuance.domain.credentials import CredentialPolicy, totp_code
from issuance.runtime import Runtime
from issuance.services import credentials
from issuance.store import Operator
from tests.integration.api.world import World

PASSWORD = "correct horse battery"


async def _me(world: World, token: str) -> int:
    r = await world.client.get("/v1/audit", headers={"Authorization": f"Bearer {token}"})
    return r.status_code


async def _sign_in(
    world: World, name: str, password: str = PASSWORD, code: str | None = None
) -> httpx.Response:
    body = {"name": name, "password": password}
    if code is not None:
        body["totp_code"] = code
    return await world.client.post("/v1/sessions", json=body)


async def test_an_expired_token_is_refused(world: World, db_dsn: str) -> None:
    assert await _me(world, world.tokens["admin_a"]) == 200
    conn = await asyncpg.connect(db_dsn)
    try:
        await conn.execute(
            "UPDATE operator_tokens SET expires_at = now() - interval '1 second'"
            " WHERE operator = (SELECT id FROM operators WHERE name = 'admin_a')"
        )
    finally:
        await conn.close()
    assert await _me(world, world.tokens["admin_a"]) == 401


async def test_rotation_gives_a_new_token_and_refuses_the_old_one(world: World) -> None:
    old = world.tokens["supervisor_a"]
    r = await world.client.post(
        "/v1/operators/me/token/rotate", headers={"Authorization": f"Bearer {old}"}
    )
    assert r.status_code == 200, r.text
    new = r.json()["token"]
    assert new != old and r.json()["operator"]["name"] == "supervisor_a"
    expires = datetime.fromisoformat(r.json()["expires_at"])
    assert timedelta(hours=11) < expires - datetime.now(UTC) <= timedelta(hours=12)
    assert await _me(world, old) == 401
    assert await _me(world, new) == 200


async def test_a_bank_admin_revokes_an_operator_at_once(world: World) -> None:
    assert await _me(world, world.tokens["supervisor_a"]) == 200
    other_bank = await world.post("admin_a", "/v1/operators/supervisor_b/tokens/revoke")
    assert other_bank.status_code == 403
    clerk = await world.post("clerk_a", "/v1/operators/supervisor_a/tokens/revoke")
    assert clerk.status_code == 403
    r = await world.post("admin_a", "/v1/operators/supervisor_a/tokens/revoke")
    assert r.status_code == 200 and r.json() == {"revoked": 1}
    assert await _me(world, world.tokens["supervisor_a"]) == 401
    assert await _me(world, world.tokens["supervisor_b"]) == 200
    missing = await world.post("admin_a", "/v1/operators/nobody/tokens/revoke")
    assert missing.status_code == 404


async def test_sign_out_revokes_the_calling_token(world: World) -> None:
    r = await world.client.delete("/v1/sessions/current", headers=world.auth("clerk_a"))
    assert r.status_code == 204
    assert (await world.apply()).status_code == 401


async def test_a_clerk_signs_in_with_a_password(world: World) -> None:
    await credentials.set_password_named(world.store, "clerk_a", PASSWORD)
    r = await _sign_in(world, "clerk_a")
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    applied = await world.client.post(
        "/v1/applications", headers={"Authorization": f"Bearer {token}"}, json={}
    )
    assert applied.status_code == 422  # signed in: the body is what is wrong
    wrong = await _sign_in(world, "clerk_a", "wrong password!")
    assert wrong.status_code == 401 and wrong.json()["code"] == "bad_credentials"
    unknown = await _sign_in(world, "nobody")
    assert unknown.status_code == 401 and unknown.json()["code"] == "bad_credentials"
    weak = credentials.set_password_named(world.store, "clerk_a", "short")
    with pytest.raises(Exception, match="must be 12"):
        await weak


async def test_a_supervisor_needs_a_second_factor(world: World) -> None:
    await credentials.set_password_named(world.store, "supervisor_a", PASSWORD)
    unenrolled = await _sign_in(world, "supervisor_a")
    assert unenrolled.status_code == 403 and unenrolled.json()["code"] == "totp_not_enrolled"
    enrolment = await credentials.enrol_totp_named(world.store, "supervisor_a")
    assert enrolment.uri.startswith("otpauth://totp/sscard:supervisor_a?secret=")
    no_code = await _sign_in(world, "supervisor_a")
    assert no_code.status_code == 401 and no_code.json()["code"] == "totp_required"
    now = datetime.now(UTC)
    wrong_code = f"{(int(totp_code(enrolment.secret, now)) + 1) % 10**6:06d}"
    bad = await _sign_in(world, "supervisor_a", code=wrong_code)
    assert bad.status_code == 401 and bad.json()["code"] == "bad_totp"
    code = totp_code(enrolment.secret, now)
    good = await _sign_in(world, "supervisor_a", code=code)
    assert good.status_code == 201, good.text
    replay = await _sign_in(world, "supervisor_a", code=code)
    assert replay.status_code == 401 and replay.json()["code"] == "bad_totp"
    signed = (await world.client.get("/v1/audit", params={"action": "sign_in"},
                                     headers=world.auth("auditor"))).json()["records"]  # fmt: skip
    assert [x["operator_name"] for x in signed] == ["supervisor_a"]


async def test_an_operator_enrols_their_own_second_factor(world: World) -> None:
    await credentials.set_password_named(world.store, "clerk_a2", PASSWORD)
    begun = await world.post("clerk_a2", "/v1/operators/me/totp")
    assert begun.status_code == 200, begun.text
    secret = begun.json()["secret"]
    assert (await _sign_in(world, "clerk_a2")).status_code == 201  # not confirmed yet
    wrong = f"{(int(totp_code(secret, datetime.now(UTC))) + 1) % 10**6:06d}"
    bad = await world.post("clerk_a2", "/v1/operators/me/totp/confirm", {"code": wrong})
    assert bad.status_code == 401 and bad.json()["code"] == "bad_totp"
    code = totp_code(secret, datetime.now(UTC))
    ok = await world.post("clerk_a2", "/v1/operators/me/totp/confirm", {"code": code})
    assert ok.status_code == 204, ok.text
    needed = await _sign_in(world, "clerk_a2")
    assert needed.status_code == 401 and needed.json()["code"] == "totp_required"


async def test_failed_sign_ins_are_limited_per_operator(world: World) -> None:
    await credentials.set_password_named(world.store, "clerk_a", PASSWORD)
    for _ in range(CredentialPolicy().max_failures_per_operator):
        assert (await _sign_in(world, "clerk_a", "not the password")).status_code == 401
    locked = await _sign_in(world, "clerk_a")
    assert locked.status_code == 429 and locked.json()["code"] == "too_many_attempts"
    await credentials.set_password_named(world.store, "clerk_b", PASSWORD)
    assert (await _sign_in(world, "clerk_b")).status_code == 201  # another operator signs in


async def test_failed_sign_ins_are_limited_per_address(world: World) -> None:
    await credentials.set_password_named(world.store, "clerk_b", PASSWORD)
    for n in range(CredentialPolicy().max_failures_per_address):
        assert (await _sign_in(world, f"guess{n}", "not the password")).status_code == 401
    locked = await _sign_in(world, "clerk_b")
    assert locked.status_code == 429


async def test_a_revocation_empties_every_process_cache(world: World, db_dsn: str) -> None:
    cache = OperatorCache()
    token = world.tokens["clerk_a"]
    op = await world.store.operator_by_token(token)
    assert isinstance(op, Operator)
    async with watch_revocations(db_dsn, cache):
        cache.put(token, op)
        assert cache.get(token) == op
        await credentials.revoke_named(world.store, "clerk_a")
        for _ in range(500):
            if cache.get(token) is None:
                break
            await asyncio.sleep(0.01)
        assert cache.get(token) is None
    cache.put(token, op)
    assert cache.get(token) is None  # not listening: no cache at all


def _cli(dsn: str, tmp: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SSCARD_DATABASE_URL": dsn, "SSCARD_DATA_DIR": str(tmp),
           "SSCARD_AGENT_TOKEN_TTL_DAYS": "2"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "issuance.cli", *args], env=env, capture_output=True, text=True,
        input=stdin, timeout=120, check=False,
    )  # fmt: skip


async def test_the_cli_rotates_revokes_and_enrols(world: World, rt: Runtime, db_dsn: str) -> None:
    data = rt.settings.data_dir
    rotated = await asyncio.to_thread(_cli, db_dsn, data, "operator", "token", "rotate",
                                      "agent_a")  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip().splitlines()[-1]
    assert await world.store.operator_by_token(world.tokens["agent_a"]) is None
    op = await world.store.operator_by_token(new)
    assert op is not None and op.token_expires_at is not None
    left = op.token_expires_at - datetime.now(UTC)
    assert timedelta(days=1) < left <= timedelta(days=2)  # SSCARD_AGENT_TOKEN_TTL_DAYS=2

    revoked = await asyncio.to_thread(_cli, db_dsn, data, "operator", "token", "revoke",
                                      "agent_a")  # fmt: skip
    assert revoked.returncode == 0 and "1 token(s) of agent_a revoked" in revoked.stdout
    assert await world.store.operator_by_token(new) is None

    pw = await asyncio.to_thread(_cli, db_dsn, data, "operator", "password", "auditor",
                                 stdin=PASSWORD + "\n")  # fmt: skip
    assert pw.returncode == 0, pw.stderr
    weak = await asyncio.to_thread(_cli, db_dsn, data, "operator", "password", "auditor",
                                   stdin="short\n")  # fmt: skip
    assert weak.returncode == 2 and "password" in weak.stderr
    enrol = await asyncio.to_thread(_cli, db_dsn, data, "operator", "totp", "enrol", "auditor")
    assert enrol.returncode == 0, enrol.stderr
    secret, uri = enrol.stdout.strip().splitlines()[-2:]
    assert uri.startswith("otpauth://totp/")
    signed = await _sign_in(world, "auditor", code=totp_code(secret, datetime.now(UTC)))
    assert signed.status_code == 201, signed.text
    unknown = await asyncio.to_thread(_cli, db_dsn, data, "operator", "token", "revoke", "x")
    assert unknown.returncode == 1 and "no operator x" in unknown.stderr
