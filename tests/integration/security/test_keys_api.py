"""Data keys and retention through the API and the CLI: listing, rotation with progress,
destroying a retired key (refused while a value uses it), the TOTP secret sealed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp

from issuance.domain.credentials import totp_code
from issuance.runtime import Runtime
from issuance.services import credentials, keys
from issuance.store.store import SEALED_TEXT
from tests.integration.api.world import World

PASSWORD = "correct horse battery"


async def _keys(world: World, who: str = "bureau_admin") -> Any:
    r = await world.client.get("/v1/keys", headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


async def _rotated(world: World) -> dict[str, Any]:
    r = await world.post("bureau_admin", "/v1/keys/rotate", {"activate_in_seconds": 0})
    assert r.status_code == 202, r.text
    for _ in range(200):
        rotation: dict[str, Any] = (await _keys(world))["rotation"]
        if rotation["state"] in ("done", "failed"):
            return rotation
        await asyncio.sleep(0.05)
    raise AssertionError("the rotation did not finish")


async def _audit_actions(rt: Runtime) -> list[str]:
    await rt.store.chain_pending_audit()
    rows = await rt.pool.fetch("SELECT action FROM audit_log ORDER BY id")
    return [r["action"] for r in rows]


async def test_only_the_bureau_admin_manages_keys_and_runs_retention(world: World) -> None:
    for who in ("admin_a", "supervisor_a", "auditor", "clerk_a"):
        assert (await world.client.get("/v1/keys", headers=world.auth(who))).status_code == 403
        r = await world.post(who, "/v1/keys/rotate", {})
        assert r.status_code == 403, r.text
        r = await world.post(who, "/v1/retention/run", {"dry_run": True})
        assert r.status_code == 403, r.text
        assert (await world.post(who, "/v1/keys/1/destroy")).status_code == 403
    bad = await world.post("bureau_admin", "/v1/keys/rotate", {"activate_in_seconds": 4000})
    assert bad.status_code == 422


async def test_rotation_through_the_api_shows_progress_and_retires_the_old_key(
    world: World, rt: Runtime
) -> None:
    await world.issued()
    before = await _keys(world)
    old = [k for k in before["keys"] if k["purpose"] == "data"]
    assert len(old) == 1 and old[0]["values"] > 0 and old[0]["retired_at"] is None
    rotation = await _rotated(world)
    assert rotation["state"] == "done", rotation
    assert rotation["rows_done"] == rotation["rows_total"] > 0
    assert rotation["resealed"] > 0 and rotation["retired"] == [old[0]["id"]]
    after = {k["id"]: k for k in (await _keys(world))["keys"]}
    assert after[old[0]["id"]]["values"] == 0 and after[old[0]["id"]]["retired_at"] is not None
    assert after[rotation["key_id"]]["values"] == old[0]["values"]
    assert "rotate_keys" in await _audit_actions(rt)


async def test_a_retired_key_is_destroyed_only_once_no_value_uses_it(
    world: World, rt: Runtime
) -> None:
    await world.issued()
    old = rt.vault.active_key.id
    await keys.new_data_key(rt.store, keys.timedelta(0))
    await rt.pool.execute("UPDATE data_keys SET retired_at = now() WHERE id = $1", old)
    refused = await world.post("bureau_admin", f"/v1/keys/{old}/destroy")
    assert refused.status_code == 409 and refused.json()["code"] == "key_in_use", refused.text
    assert refused.json()["values"] > 0
    active = rt.vault.active_key.id
    not_retired = await world.post("bureau_admin", f"/v1/keys/{active}/destroy")
    assert not_retired.status_code == 409 and not_retired.json()["code"] == "key_not_retired"
    missing = await world.post("bureau_admin", "/v1/keys/999/destroy")
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_data_key"
    await keys.reseal_all(rt.store)
    done = await world.post("bureau_admin", f"/v1/keys/{old}/destroy")
    assert done.status_code == 200, done.text
    row = await rt.pool.fetchrow("SELECT wrapped, destroyed_at FROM data_keys WHERE id = $1", old)
    assert row["wrapped"] is None and row["destroyed_at"] is not None
    again = await world.post("bureau_admin", f"/v1/keys/{old}/destroy")
    assert again.status_code == 409 and again.json()["code"] == "key_destroyed"
    await rt.vault.refresh(rt.pool)  # a process reloads without the destroyed key
    assert old not in rt.vault.data_key_ids
    assert "destroy_key" in await _audit_actions(rt)


def _cli(dsn: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SSCARD_DATABASE_URL": dsn, "SSCARD_DATA_DIR": str(tmp),
           "COLUMNS": "200"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "issuance.cli", *args], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


async def test_the_cli_lists_and_destroys_keys(
    world: World, rt: Runtime, db_dsn: str, tmp_path: Path
) -> None:
    await world.issued()
    old = rt.vault.active_key.id
    await keys.new_data_key(rt.store, keys.timedelta(0))
    await rt.pool.execute("UPDATE data_keys SET retired_at = now() WHERE id = $1", old)
    key_file = tmp_path / "master.key"
    key_file.write_bytes((Path(rt.settings.data_dir) / "master.key").read_bytes())
    key_file.chmod(0o600)
    refused = await asyncio.to_thread(_cli, db_dsn, tmp_path, "keys", "destroy", str(old))
    assert refused.returncode == 1 and "still sealed under data key" in refused.stderr
    await keys.reseal_all(rt.store)
    listed = await asyncio.to_thread(_cli, db_dsn, tmp_path, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert "index" in listed.stdout and "data" in listed.stdout
    done = await asyncio.to_thread(_cli, db_dsn, tmp_path, "keys", "destroy", str(old))
    assert done.returncode == 0, done.stderr
    assert await rt.pool.fetchval("SELECT wrapped FROM data_keys WHERE id = $1", old) is None


async def test_retention_runs_through_the_api_and_is_audited(world: World, rt: Runtime) -> None:
    await rt.pool.execute(
        "INSERT INTO sign_in_attempts (name, address, succeeded, at)"
        " VALUES ('x', '10.0.0.2', false, now() - interval '1 hour')"
    )
    dry = await world.post("bureau_admin", "/v1/retention/run", {"dry_run": True})
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True
    assert dry.json()["kinds"]["sign_in_attempts"] == {"rows": 1, "kept_seconds": 900}
    assert dry.json()["kinds"]["holders"]["kept_seconds"] == 1825 * 86400
    done = await world.post("bureau_admin", "/v1/retention/run", {})
    assert done.json()["kinds"]["sign_in_attempts"]["rows"] == 1
    assert await rt.pool.fetchval("SELECT count(*) FROM sign_in_attempts") == 0
    assert (await _audit_actions(rt)).count("run_retention") == 2


async def test_the_totp_secret_is_sealed_and_sign_in_still_works(world: World, rt: Runtime) -> None:
    await credentials.set_password_named(world.store, "supervisor_a", PASSWORD)
    enrolment = await credentials.enrol_totp_named(world.store, "supervisor_a")
    stored = await rt.pool.fetchval("SELECT totp_secret FROM operators WHERE name = 'supervisor_a'")
    assert stored.startswith(SEALED_TEXT) and enrolment.secret not in stored
    code = totp_code(enrolment.secret, datetime.now(UTC))
    body = {"name": "supervisor_a", "password": PASSWORD, "totp_code": code}
    r = await world.client.post("/v1/sessions", json=body)
    assert r.status_code == 201, r.text


async def test_encrypt_existing_seals_a_plain_totp_secret(world: World, rt: Runtime) -> None:
    secret = pyotp.random_base32()
    await rt.pool.execute(
        "UPDATE operators SET totp_secret = $1, totp_confirmed = true WHERE name = 'auditor'",
        secret,
    )
    done = await keys.reseal_all(rt.store)
    assert done.resealed[keys.Table.TOTP] == 1
    stored = await rt.pool.fetchval("SELECT totp_secret FROM operators WHERE name = 'auditor'")
    assert stored.startswith(SEALED_TEXT) and secret not in stored
    found = await world.store.credentials("auditor")
    assert found is not None and found.totp_secret == secret


async def test_the_blind_index_key_rotates_and_one_person_stays_one_holder(
    world: World, rt: Runtime
) -> None:
    known = world.citizen_id()
    assert (await world.apply(citizen_id=known)).status_code == 201
    old_index = rt.vault.index_key.id
    row = await rt.pool.fetchrow("SELECT id, citizen_id_index FROM holders")
    new, _ = await keys.new_data_key(rt.store, keys.timedelta(0), blind_index=True)
    assert rt.vault.index_key.id == new and rt.vault.index_rotating
    # During the rotation: the holder is still under the old index, and is found.
    found = await world.store.holder_by_citizen_id(known, lock=False)
    assert found is not None and found.id == row["id"]
    again = await world.apply(citizen_id=known, key="again")
    assert again.status_code == 409, again.text
    fresh = world.citizen_id()
    assert (await world.apply(citizen_id=fresh)).status_code == 201  # indexed under the new key
    done = await keys.reseal_all(rt.store, rows=1)
    assert done.resealed[keys.Table.HOLDERS] == 1  # only the holder under the old key
    assert await keys.retire_older_keys(rt.store, new) == [old_index]
    assert not rt.vault.index_rotating
    moved = await rt.pool.fetchval("SELECT citizen_id_index FROM holders WHERE id = $1", row["id"])
    assert bytes(moved) != bytes(row["citizen_id_index"])
    assert bytes(moved) == rt.vault.blind_index(known)
    # After: found under the new key alone; still one card per person.
    found = await world.store.holder_by_citizen_id(known, lock=False)
    assert found is not None and found.id == row["id"]
    late = await world.apply(citizen_id=known, key="late")
    assert late.status_code == 409, late.text
    assert await rt.pool.fetchval("SELECT count(*) FROM holders") == 2
    refused = await world.post("bureau_admin", f"/v1/keys/{old_index}/destroy")
    assert refused.status_code == 409 and refused.json()["code"] == "index_key_kept"


async def test_the_api_rotates_the_blind_index_key(world: World, rt: Runtime) -> None:
    await world.issued()
    old_index = rt.vault.index_key.id
    r = await world.post(
        "bureau_admin", "/v1/keys/rotate", {"activate_in_seconds": 0, "blind_index": True}
    )
    assert r.status_code == 202, r.text
    for _ in range(200):
        rotation = (await _keys(world))["rotation"]
        if rotation["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.05)
    assert rotation["state"] == "done" and rotation["retired"] == [old_index], rotation
    listed = {k["id"]: k for k in (await _keys(world))["keys"]}
    assert listed[rotation["key_id"]]["purpose"] == "index"
    assert listed[old_index]["retired_at"] is not None


async def test_a_batch_upsert_during_an_index_rotation_keeps_one_holder(
    world: World, rt: Runtime
) -> None:
    known = world.citizen_id()
    assert (await world.apply(citizen_id=known)).status_code == 201
    holder = await world.store.holder_by_citizen_id(known, lock=False)
    assert holder is not None
    await keys.new_data_key(rt.store, keys.timedelta(0), blind_index=True)
    async with rt.store.transaction() as tx:
        ids = await tx.upsert_holders([replace(holder, id=0, name="李四")], "BKA")
    assert ids == {known: holder.id}
    assert await rt.pool.fetchval("SELECT count(*) FROM holders") == 1
    found = await world.store.holder_by_citizen_id(known, lock=False)
    assert found is not None and found.name == "李四"
