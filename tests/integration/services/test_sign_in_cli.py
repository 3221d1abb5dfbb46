"""``sscard operator link``: a person gets a one-time sign-in link for the pages, an agent none."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path


async def _sscard(
    dsn: str, tmp: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SSCARD_DATABASE_URL": dsn, "SSCARD_DATA_DIR": str(tmp)}
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "issuance.cli", *args], input=stdin,
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


async def test_a_link_for_a_person_none_for_an_agent(db_dsn: str, tmp_path: Path) -> None:
    for args in (("bank", "create", "SIGN", "登录银行"),
                 ("outlet", "create", "sign-1", "--bank", "SIGN", "--name", "网点"),
                 ("operator", "create", "li", "--role", "clerk", "--bank", "SIGN",
                  "--outlet", "sign-1"),
                 ("operator", "create", "bot", "--role", "agent", "--bank", "SIGN",
                  "--outlet", "sign-1")):  # fmt: skip
        r = await _sscard(db_dsn, tmp_path, *args)
        assert r.returncode == 0, r.stderr
    r = await _sscard(db_dsn, tmp_path, "operator", "link", "li", "--base", "http://counter:18800")
    assert r.returncode == 0 and "http://counter:18800/signin/link/" in r.stdout
    r = await _sscard(db_dsn, tmp_path, "operator", "link", "bot")
    assert r.returncode == 2
