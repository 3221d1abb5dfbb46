"""``sscard demo`` as a newcomer runs it: one card made, handed over, its receipt written."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _lines_until(stream: asyncio.StreamReader, pattern: str) -> tuple[list[str], str]:
    """Read lines until one matches ``pattern``; all lines read, and the match's first group."""
    seen: list[str] = []
    while line := (await stream.readline()).decode():
        seen.append(line)
        if found := re.search(pattern, line):
            return seen, found[1]
    raise AssertionError("".join(seen) or "no output")


async def test_the_demo_makes_a_card_and_writes_its_receipt(db_dsn: str, tmp_path: Path) -> None:
    env = {**os.environ, "SSCARD_DATABASE_URL": db_dsn, "SSCARD_DATA_DIR": str(tmp_path),
           "COLUMNS": "400"}  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "issuance.cli", "demo", "--port", str(_free_port()),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        seen, receipt = await asyncio.wait_for(_lines_until(proc.stdout, r"receipt: (\S+)"), 240)
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stdout.read(), 60)
        status = await proc.wait()
    text = "".join(seen)
    assert "chip read-back: ✓" in text, text
    pdf = Path(receipt)
    (image,) = re.findall(r"card image: (\S+)", text)
    assert pdf.parent == Path(image).parent  # the receipt lies beside the card's image
    assert (await asyncio.to_thread(pdf.read_bytes)).startswith(b"%PDF-")
    assert status == 0, rest.decode()
