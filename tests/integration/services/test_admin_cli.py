"""``sscard bank|outlet|operator create``, ``card show`` and ``openapi`` against a test database."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest


async def sscard(dsn: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SSCARD_DATABASE_URL": dsn, "SSCARD_DATA_DIR": str(tmp)}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "issuance.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def test_bank_outlet_operator_then_token_is_stored_hashed(
    db_dsn: str, tmp_path: Path
) -> None:
    r = await sscard(db_dsn, tmp_path, "bank", "create", "BJRC", "北京农商", "--active")
    assert r.returncode == 0, r.stderr
    assert "110000000001" in r.stdout
    assert "active (existing cooperating bank)" in r.stdout
    r = await sscard(
        db_dsn,
        tmp_path,
        "outlet",
        "create",
        "BJ01",
        "--bank",
        "BJRC",
        "--name",
        "东城支行",
        "--instant",
        "--psam",
        "PSAM01",
    )
    assert r.returncode == 0, r.stderr
    r = await sscard(
        db_dsn,
        tmp_path,
        "operator",
        "create",
        "wang",
        "--role",
        "clerk",
        "--bank",
        "BJRC",
        "--outlet",
        "BJ01",
    )
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip().splitlines()[-1]
    conn = await asyncpg.connect(db_dsn)
    try:
        row = await conn.fetchrow(
            "SELECT role, bank, outlet, token_sha256, expires_at - issued_at AS ttl"
            " FROM operators JOIN operator_tokens t ON t.operator = operators.id"
        )
    finally:
        await conn.close()
    assert row is not None
    assert (row["role"], row["bank"], row["outlet"]) == ("clerk", "BJRC", "BJ01")
    assert bytes(row["token_sha256"]) == hashlib.sha256(token.encode()).digest()
    assert row["ttl"] == timedelta(hours=12)  # SSCARD_TOKEN_TTL_HOURS' default


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("bank", "create", "bad code", "X"), "code"),
        (("outlet", "create", "O1", "--bank", "NOPE", "--name", "n"), "bank"),
        (("outlet", "create", "O1", "--bank", "NOPE", "--name", "n", "--instant"), "psam_serial"),
        (("operator", "create", "li", "--role", "clerk"), "bank"),
        (("card", "show", "A0000000I"), "card_number"),
    ],
)
async def test_bad_input_exits_2_naming_the_field(
    db_dsn: str, tmp_path: Path, args: tuple[str, ...], field: str
) -> None:
    r = await sscard(db_dsn, tmp_path, *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert field in r.stderr


async def test_card_show_of_a_missing_card_fails(db_dsn: str, tmp_path: Path) -> None:
    r = await sscard(db_dsn, tmp_path, "card", "show", "A00000001")
    assert r.returncode == 1
    assert "no card A00000001" in r.stderr


async def test_openapi_lists_the_counter_and_agent_operations(db_dsn: str, tmp_path: Path) -> None:
    r = await sscard(db_dsn, tmp_path, "openapi")
    assert r.returncode == 0, r.stderr
    paths = json.loads(r.stdout)["paths"]
    for path in (
        "/v1/applications",
        "/v1/agent/claim",
        "/v1/agent/jobs/{job_id}/complete",
        "/v1/cards/{number}/pin-change",
        "/v1/outlets/{code}/printers/{name}/clear",
    ):
        assert path in paths
