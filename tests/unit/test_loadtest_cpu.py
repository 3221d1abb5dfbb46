"""The load test's CPU accounting: per request, by group, and a server that will not stop."""

from __future__ import annotations

import subprocess
import sys

from issuance.tools import loadtest as lt


def test_cpu_per_request_splits_server_and_database() -> None:
    cpu = lt.CpuShares(server_pid=1, locust_pid=2)
    cpu.base = {("server", 10): 5.0, ("database", 20): 1.0, ("database", 21): 0.0,
                ("locust", 30): 0.0}  # fmt: skip
    cpu.last = {("server", 10): 7.0, ("database", 20): 2.0, ("database", 21): 0.5,
                ("locust", 30): 9.0}  # fmt: skip
    assert cpu.per_request_ms(1000) == {
        "server_cpu_ms_per_request": 2.0,
        "database_cpu_ms_per_request": 1.5,
        "stack_cpu_ms_per_request": 3.5,
    }
    assert cpu.per_request_ms(0)["stack_cpu_ms_per_request"] == 0.0


def test_a_server_that_ignores_terminate_is_killed_after_the_grace() -> None:
    script = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print(1, flush=True)\n"
        "time.sleep(60)\n"
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE) as stubborn:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == b"1\n"
        lt.stop_server(stubborn, grace_s=0.5)
    assert stubborn.returncode == -9
