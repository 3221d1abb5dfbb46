"""The chaos test, short: at least 20 SIGKILLs of random processes over a small batch.

``sscard bench chaos`` runs PostgreSQL, the API, the agent and three printers
as separate processes and kills them at random (its own ports: 18340..18363).
No job may be lost, no card number printed twice, and the database must agree
with the printers' own ledgers, before and after a redrive of every dead job.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_twenty_kills_lose_nothing_and_print_nothing_twice() -> None:
    argv = [sys.executable, "-m", "issuance.cli", "bench", "chaos", "--kills", "20",
            "--cards", "16", "--seed", "7", "--port-base", "18340", "--json"]  # fmt: skip
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["kills"] == 20
    for run in (figures, figures["after_redrive"]):
        assert run["lost"] == 0, run
        assert run["printed_twice"] == 0, run
        assert run["disagreements"] == [], run
        assert run["spoiled_recorded"] == run["spoiled_physical"], run
        assert run["made"] + run["dead"] + run["in_doubt"] == run["cards"]
    assert figures["after_redrive"]["dead"] == 0
    resume = figures["resume_after_agent_restart"]  # every agent restart timed or set aside
    assert resume["restarts"] + resume["unresumed"] == figures["kills_by_victim"].get("agent", 0)
    assert done.returncode == 0, done.stderr[-2000:]
