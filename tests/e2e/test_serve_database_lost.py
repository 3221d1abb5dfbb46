"""``sscard serve`` on its embedded PostgreSQL, whose postmaster is SIGKILLed under it.

The health endpoint says the database is down (503), and SIGTERM then stops the
service with exit status 0 and one clear line about the database, no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
HANG = 180.0  # a bound on each wait that only stops a hang


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    async def loop() -> None:
        while not await check():  # noqa: ASYNC110 - polling another process over HTTP
            await asyncio.sleep(0.2)

    try:
        await asyncio.wait_for(loop(), HANG)
    except TimeoutError:
        raise AssertionError(f"{what} never happened") from None


async def _health(url: str) -> int | None:
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(f"{url}/health")).status_code
    except httpx.HTTPError:
        return None


def _postmaster(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


@pytest.fixture
def data_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="sscard-serve-"))  # the server may run as another user
    folder.chmod(0o755)
    try:
        yield folder / "var"
    finally:
        left = folder / "var" / "pgdata" / "postmaster.pid"
        if left.exists():  # a failed test's server
            with contextlib.suppress(psutil.Error, ValueError, OSError):
                psutil.Process(_postmaster(folder / "var" / "pgdata")).kill()
        shutil.rmtree(folder, ignore_errors=True)


async def test_sigterm_after_the_database_died_exits_0_with_one_line(data_dir: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "SSCARD_DATABASE_URL"}
    env |= {"SSCARD_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "issuance.cli", "serve", "--port", str(port),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        await _until(lambda: _ok(url), "the service answering /health with 200")
        os.kill(_postmaster(data_dir / "pgdata"), signal.SIGKILL)
        await _until(lambda: _down(url), "/health answering 503 once the database died")
        proc.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(proc.communicate(), HANG)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = output.decode()  # both streams, in the order written
    assert proc.returncode == 0, text
    assert "Traceback" not in text, text
    after_stop = text[text.index("stopped;") :].strip().splitlines()
    assert after_stop == ["stopped; the embedded PostgreSQL had already stopped"], text


async def _ok(url: str) -> bool:
    return await _health(url) == 200


async def _down(url: str) -> bool:
    return await _health(url) == 503
