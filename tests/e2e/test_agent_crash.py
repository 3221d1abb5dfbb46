"""An agent killed while a card prints: the job lands in doubt, a new agent settles it by
asking the printer (its card counter moved: the card was made), and never prints it again.

The agent runs in a subprocess (``sscard agent``) against the API of this
process and the simulated outlet of this process, whose printers take long
enough to print for the test to kill the agent mid-card.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from issuance.cli.agent import sample_application
from printers.devices.simulators.evolis import SimConfig
from printers.devices.simulators.outlet import SimulatedOutlet
from sscard_core.messages import JobState

from .conftest import Stack

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SLOW_PRINT = SimConfig(side_seconds=(30.0, 30.0), motion_seconds=0.2, time_scale=1.0)
ENTRY = "import sys; from issuance.cli import main; sys.exit(main())"


@pytest.fixture
async def outlet(stack: Stack) -> AsyncIterator[SimulatedOutlet]:
    async with SimulatedOutlet(stack.tmp / "outlet", config=SLOW_PRINT) as running:
        yield running


async def start_agent(
    stack: Stack, outlet: SimulatedOutlet, stdout: int = asyncio.subprocess.DEVNULL
) -> asyncio.subprocess.Process:
    token = stack.tmp / "agent.token"
    token.write_text(stack.agent_token)
    printers = [f"--printer={n}={outlet.printer_url(n)}" for n in outlet.names]
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", ENTRY, "agent", "--api", stack.api, "--token-file", str(token),
        "--site", stack.site, *printers, "--reader", f"sim:127.0.0.1:{outlet.chip_port}",
        "--journal", str(stack.tmp / "journal.sqlite"), "--psam-keys", str(outlet.keys_path),
        "--worker", "crash-agent", "--wait", "1",
        cwd=ROOT, stdout=stdout,
    )  # fmt: skip


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()


def printing(outlet: SimulatedOutlet) -> bool:
    """Whether a printer has taken ``Se`` for a card (it is printing it now)."""
    return any(outlet.simulator(n).printed for n in outlet.names)


async def job_state(stack: Stack, job_id: int, wanted: JobState, seconds: float) -> JobState:
    state = (await stack.rt.queue.get(job_id)).state
    for _ in range(int(seconds * 10)):
        if state is wanted:
            break
        await stack.rt.queue.reap_expired()
        await asyncio.sleep(0.1)
        state = (await stack.rt.queue.get(job_id)).state
    return state


async def test_a_killed_agent_never_prints_a_card_twice(
    stack: Stack, outlet: SimulatedOutlet
) -> None:
    card = await stack.apply(sample_application(11))
    job_id = int(card["job_id"])
    first = await start_agent(stack, outlet)
    try:
        for _ in range(600):
            if printing(outlet):
                break
            await asyncio.sleep(0.05)
        assert printing(outlet)
    finally:
        await stop(first)
    assert await job_state(stack, job_id, JobState.IN_DOUBT, 60) is JobState.IN_DOUBT
    second = await start_agent(stack, outlet)
    try:
        # the printer's card counter shows it took the print: the card was made, not guessed
        assert await job_state(stack, job_id, JobState.SUCCEEDED, 90) is JobState.SUCCEEDED
    finally:
        await stop(second)
    printed = [c for n in outlet.names for c in outlet.simulator(n).printed]
    assert len(printed) == 1  # the one card caught mid-print; never a second
    assert outlet.rejected() == 0
    found = await stack.rt.queue.get(job_id)
    assert found.result is not None and found.result["card_number"] == card["card_number"]


async def test_an_agent_stopped_by_sigterm_closes_and_exits_cleanly(
    stack: Stack, outlet: SimulatedOutlet
) -> None:
    """A service manager's stop ends the agent as Ctrl-C does: its devices closed, status 0."""
    proc = await start_agent(stack, outlet, stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        started = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        assert started.startswith(b"agent crash-agent for "), started
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=30)
    finally:
        await stop(proc)
    assert proc.returncode == 0
