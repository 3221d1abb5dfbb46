"""``sscard loadtest``: start the stack, run locust headless, print each target and its figure."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import asyncpg
import httpx
import orjson
from rich.console import Console
from rich.table import Table

from issuance.cli.common import run
from issuance.config import Settings
from issuance.domain.roles import Role
from issuance.runtime import Runtime
from issuance.services import admin, psams
from issuance.tools import loadtest as lt
from issuance.tools.calibration import Calibration, calibrate
from sscard_core.connect import database_errors, with_database
from sscard_core.errors import SscardError

out = Console(highlight=False)
BANK, SITE, CLERKS = "LOAD", "load-outlet", 8
PSAM = "PSAM0001"  # the load outlet's installed PSAM, named in every agent claim


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("loadtest", help="the counter mix under locust, against the load targets")
    p.add_argument("--users", type=int, help="locust users (default from targets.toml)")
    p.add_argument("--duration", type=int, help="seconds (default from targets.toml)")
    p.add_argument("--rate", type=float, help="requests/s offered (default from targets.toml)")
    p.add_argument("--targets", type=Path, default=Path("benchmarks/targets.toml"))
    p.add_argument("--locustfile", type=Path, default=Path("benchmarks/locustfile.py"))
    p.add_argument("--workers", type=int, default=2, help="API worker processes (default 2)")
    p.add_argument(
        "--warmup", type=float, help="seconds counted as the warm-up (default from targets.toml)"
    )
    p.add_argument("--out", type=Path, default=Path("var/loadtest"), help="results folder")
    p.set_defaults(func=lambda a: run(_loadtest(a)))


async def _seed(settings: Settings, accounts: Path) -> None:
    async with Runtime(settings) as rt:
        store = rt.store
        await admin.create_bank(store, BANK, "负载测试银行", active=True)
        await admin.create_outlet(
            store,
            admin.OutletInput(SITE, BANK, "负载测试网点", instant=True, psam_serial=PSAM),
        )
        await psams.equip_outlet(store, None, SITE, terminal="TERM0001", psam=PSAM)
        clerks = [
            (
                await admin.create_operator(store, f"clerk{i}", Role.CLERK, bank=BANK, outlet=SITE)
            ).token
            for i in range(CLERKS)
        ]
        agent = await admin.create_operator(store, "agent", Role.AGENT, bank=BANK, outlet=SITE)
    seeded = {"clerks": clerks, "agent": agent.token, "site": SITE, "psam": PSAM}
    _write_private(accounts, orjson.dumps(seeded))


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _scratch_env(base: Settings, folder: Path) -> tuple[dict[str, str], str | None]:
    """Environment for a scratch database: a new data dir, or a database on the external server."""
    if base.database_url is None:
        return {"SSCARD_DATA_DIR": str(folder / "data")}, None
    name = f"sscard_load_{uuid.uuid4().hex[:8]}"
    with database_errors():
        admin_conn = await asyncpg.connect(base.database_url)
    try:
        await admin_conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin_conn.close()
    return {"SSCARD_DATABASE_URL": with_database(base.database_url, name)}, name


async def _wait_healthy(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if server.poll() is not None:
                raise SscardError(
                    f"the API server exited: {lt.log_tail(log)}", code="server_failed"
                )
            try:
                if (await client.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SscardError("the API server did not become healthy in 30 s", code="server_failed")


async def _drive(
    plan: lt.LoadPlan, args: argparse.Namespace, env: dict[str, str], database: str | None
) -> tuple[dict[str, float], lt.Phases]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server_log = args.out / "server.log"
    server = lt.start_server(port, env, args.workers, server_log)
    try:
        await _wait_healthy(url, server, server_log)
        memory = lt.MemorySampler(server.pid)
        prefix = args.out / "locust"
        command = lt.locust_command(args.locustfile, url, plan, prefix)
        out.print(
            f"server pid {server.pid} on cores {lt.cores_of(server.pid)}; {plan.users} users "
            f"offering {plan.offered_rps:g} requests/s for {plan.duration_s} s"
        )
        log = args.out / "requests.csv"
        rate = {"SSCARD_LOAD_RATE": f"{plan.rate_per_user:.6f}", "SSCARD_LOAD_LOG": str(log)}
        locust = subprocess.Popen(command, env={**os.environ, **env, **rate})  # noqa: ASYNC220 - polled below
        cpu = lt.CpuShares(server.pid, locust.pid, database)
        cpu.sample()
        with out.status("load running") as status:
            start = time.monotonic()
            while locust.poll() is None:
                memory.sample()
                cpu.sample()
                status.update(f"load running: {time.monotonic() - start:.0f}/{plan.duration_s} s")
                await asyncio.sleep(1.0)
        found = lt.phases(await asyncio.to_thread(lt.read_samples, log), plan.warmup_s)
        figures = lt.measured(prefix, plan, memory, cpu, found)
        lt.chart(prefix, memory, args.out / "loadtest.png")
        return figures, found
    finally:
        lt.stop_server(server)


async def _loadtest(args: argparse.Namespace) -> int:
    plan = lt.load_plan(args.targets, users=args.users, duration=args.duration, offered=args.rate)
    if args.warmup is not None:
        plan = replace(plan, warmup_s=args.warmup)
    args.out.mkdir(parents=True, exist_ok=True)
    base = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="sscard-load-") as tmp:
        env, scratch = await _scratch_env(base, Path(tmp))
        accounts = Path(tmp) / "accounts.json"
        await _seed(Settings.from_env({**os.environ, **env}), accounts)
        env["SSCARD_LOAD_ACCOUNTS"] = str(accounts)
        try:
            before = await asyncio.to_thread(calibrate)
            figures, found = await _drive(plan, args, env, scratch)
            calibration = Calibration(before, await asyncio.to_thread(calibrate))
        finally:
            if scratch is not None and base.database_url is not None:
                conn = await asyncpg.connect(base.database_url)
                await conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
                await conn.close()
    return _report(plan, figures, found, args.out, calibration)


def _phase_table(plan: lt.LoadPlan, found: lt.Phases) -> Table:
    table = Table(title=f"latency by phase (warm-up: the first {plan.warmup_s:g} s)")
    for col in ("phase", "task", "requests", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms",
                "worst 1 s p99"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("phase", "task") else "right")
    for phase, tasks in found.items():
        for task, f in tasks.items():
            table.add_row(phase, task, str(f.requests), f"{f.per_s:g}", f"{f.p50_ms:g}",
                          f"{f.p95_ms:g}", f"{f.p99_ms:g}", f"{f.max_ms:g}",
                          f"{f.worst_second_p99_ms:g}")  # fmt: skip
    return table


def _report(
    plan: lt.LoadPlan,
    figures: dict[str, float],
    found: lt.Phases,
    folder: Path,
    calibration: Calibration,
) -> int:
    rows = lt.summary(plan, figures)
    cores = os.cpu_count()
    doc = {"figures": figures, "targets": rows, "cpu_cores": cores,
           "calibration": calibration.to_dict(),
           "warmup_s": plan.warmup_s, "phases": lt.phases_json(found),
           "note": "API server, PostgreSQL and locust shared the same cores"}  # fmt: skip
    (folder / "results.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    out.print(_phase_table(plan, found))
    table = Table(title="sscard load targets (latency targets: the steady state)")
    for col in ("target", "wanted", "measured", "result"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["target"], r["wanted"], f"{r['measured']:g}",
                      "[green]pass[/]" if r["passed"] else "[red]miss[/]")  # fmt: skip
    out.print(table)
    out.print(f"CPU cores used: API server {figures['server_cores']:g}, "
              f"PostgreSQL {figures['database_cores']:g}, locust {figures['locust_cores']:g} "
              f"(of {cores}, shared, not pinned)")  # fmt: skip
    out.print(f"CPU per request: API server {figures['server_cpu_ms_per_request']:g} ms, "
              f"PostgreSQL backends {figures['database_cpu_ms_per_request']:g} ms, "
              f"both {figures['stack_cpu_ms_per_request']:g} ms")  # fmt: skip
    out.print(f"API server memory at its peak: RSS {figures['server_peak_rss_mb']:g} MB, "
              f"PSS {figures['server_peak_pss_mb']:g} MB (shared pages counted once)")  # fmt: skip
    out.print(f"{figures['requests']:.0f} requests; p50 {figures['p50_ms']:g} ms; "
              f"{cores} CPU cores shared by the API server, PostgreSQL and locust")  # fmt: skip
    out.print(calibration.describe())
    out.print(
        f"results: {folder / 'results.json'}, {folder}/locust_*.csv, {folder / 'requests.csv'}, "
        f"{folder / 'server.log'}, "
        f"{folder / 'loadtest.png'}"
    )
    return 0 if all(r["passed"] for r in rows) else 1
