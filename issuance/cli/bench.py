"""``sscard bench queue``: queue throughput on a scratch database."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from rich.console import Console
from rich.table import Table

from issuance.cli import batch as batch_cli
from issuance.cli.common import run
from issuance.config import Settings
from issuance.db.migrate import migrate
from issuance.db.server import DatabaseServer
from issuance.tools.calibration import Calibration, calibrate
from issuance.tools.queue_bench import BenchConfig, BenchResult, run_bench
from sscard_core.connect import database_errors, with_database

out = Console(highlight=False)
TARGETS = {"bulk_enqueue_jobs_per_s": 50_000, "lifecycle_jobs_per_s": 9_000}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser("bench", help="throughput benchmarks")
    bsub = bench.add_subparsers(dest="bench_command", required=True, metavar="WHAT")
    q = bsub.add_parser("queue", help="enqueue → claim → complete throughput")
    q.add_argument("--seconds", type=float, default=10.0, help="lifecycle phase length")
    q.add_argument("--workers", type=int, default=8, help="concurrent claimers")
    q.add_argument("--batch", type=int, default=100, help="jobs per claim and per completion")
    q.add_argument("--json", action="store_true", help="print the figures as JSON")
    q.add_argument(
        "--compare", choices=["pgqueuer"], help="run pgqueuer's benchmark shape beside ours"
    )
    q.add_argument("--rounds", type=int, default=3, help="with --compare: alternating rounds")
    q.set_defaults(func=lambda a: run(_compare(a) if a.compare else _queue(a)))
    batch_cli.register_bench_line(bsub)
    c = bsub.add_parser(
        "chaos",
        help="SIGKILL the API, agent, printers and PostgreSQL at random while a batch is made",
    )
    c.add_argument("--kills", type=int, default=100)
    c.add_argument("--cards", type=int, default=300)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--port-base", type=int, default=18300, help="ports base .. base+23")
    c.add_argument("--victims", help="processes to kill, comma-separated, with repeats as weights")
    c.add_argument("--min-gap", type=float, default=0.2, help="least seconds between two kills")
    c.add_argument("--max-gap", type=float, default=2.5, help="most seconds between two kills")
    c.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    c.add_argument("--keep", action="store_true", help="keep the work directory and its logs")
    c.set_defaults(func=_chaos)


CHAOS = Path(__file__).resolve().parents[2] / "benchmarks" / "chaos.py"


def _chaos(args: argparse.Namespace) -> int:
    """Run benchmarks/chaos.py (in a checkout: the harness is not part of the package)."""
    if not CHAOS.exists():
        out.print(f"the chaos harness is not here ({CHAOS}): run it from a checkout")
        return 2
    argv = ["--kills", str(args.kills), "--cards", str(args.cards), "--seed", str(args.seed),
            "--port-base", str(args.port_base), "--min-gap", str(args.min_gap),
            "--max-gap", str(args.max_gap)]  # fmt: skip
    argv += ["--victims", args.victims] if args.victims else []
    argv += ["--json"] * args.json + ["--keep"] * args.keep
    return subprocess.call([sys.executable, str(CHAOS), *argv])


async def _queue(args: argparse.Namespace) -> int:
    cfg = BenchConfig(seconds=args.seconds, workers=args.workers, batch=args.batch)
    name = f"sscard_bench_{uuid.uuid4().hex[:8]}"
    async with DatabaseServer(Settings.from_env()) as server:
        with database_errors():
            admin = await asyncpg.connect(server.dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            dsn = with_database(server.dsn, name)
            before = await asyncio.to_thread(calibrate)
            result = await _bench_on(dsn, cfg, quiet=args.json)
            calibration = Calibration(before, await asyncio.to_thread(calibrate))
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    _print(result, calibration, as_json=args.json, embedded=server.embedded)
    return 0


async def _compare(args: argparse.Namespace) -> int:
    """pgqueuer's throughput shape, then ours, each round on fresh databases; their ratio."""
    from issuance.tools import queue_compare as qc

    shape = qc.Shape(seconds=args.seconds)
    rounds: list[qc.Round] = []
    before = await asyncio.to_thread(calibrate)
    async with DatabaseServer(Settings.from_env()) as server:
        for number in range(1, args.rounds + 1):
            with out.status(f"round {number} of {args.rounds}: pgqueuer"):
                theirs = await _on_scratch(server.dsn, qc.pgqueuer_throughput, shape, False)
            with out.status(f"round {number} of {args.rounds}: sscard"):
                ours = await _on_scratch(server.dsn, qc.sscard_throughput, shape, True)
            rounds.append(qc.Round(theirs, ours))
            out.print(f"round {number}: pgqueuer {theirs:,.0f} jobs/s, sscard {ours:,.0f} jobs/s")
    calibration = Calibration(before, await asyncio.to_thread(calibrate))
    _print_comparison(rounds, shape, calibration, as_json=args.json)
    return 0


async def _on_scratch(dsn: str, measure: Any, shape: Any, migrated: bool) -> float:
    name = f"sscard_cmp_{uuid.uuid4().hex[:8]}"
    with database_errors():
        admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        scratch = with_database(dsn, name)
        if migrated:
            conn = await asyncpg.connect(scratch)
            await migrate(conn)
            await conn.close()
        rate: float = await measure(scratch, shape)
        return rate
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _print_comparison(
    rounds: list[Any], shape: Any, calibration: Calibration, *, as_json: bool
) -> None:
    median = statistics.median(r.ratio for r in rounds)
    figures = {
        "shape": {"seconds": shape.seconds, "dequeue": shape.dequeue, "enqueue": shape.enqueue,
                  "batch": shape.batch},
        "rounds": [{"pgqueuer_jobs_per_s": round(r.pgqueuer_jobs_per_s),
                    "sscard_jobs_per_s": round(r.sscard_jobs_per_s), "ratio": round(r.ratio, 2)}
                   for r in rounds],
        "median_ratio": round(median, 2),
        "calibration": calibration.to_dict(),
    }  # fmt: skip
    if as_json:
        print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
        return
    table = Table(
        title=f"sscard beside pgqueuer ({shape.dequeue} dequeuers x {shape.batch}, "
        f"{shape.enqueue} enqueuers x {shape.batch}, {shape.seconds:g} s a round)"
    )
    for col in ("round", "pgqueuer jobs/s", "sscard jobs/s", "ratio"):
        table.add_column(col)
    for n, r in enumerate(rounds, start=1):
        table.add_row(str(n), f"{r.pgqueuer_jobs_per_s:,.0f}", f"{r.sscard_jobs_per_s:,.0f}",
                      f"{r.ratio:.2f}")  # fmt: skip
    out.print(table)
    out.print(f"median ratio {median:.2f} (target: at least 2)")
    out.print(calibration.describe())


async def _bench_on(dsn: str, cfg: BenchConfig, *, quiet: bool) -> BenchResult:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    with out.status("benchmarking", spinner="dots") as status:
        return await run_bench(
            dsn, cfg, progress=lambda phase: None if quiet else status.update(f"phase: {phase}")
        )


def _print(result: BenchResult, calibration: Calibration, *, as_json: bool, embedded: bool) -> None:
    figures = result.to_dict()
    figures["database"] = "embedded" if embedded else "external"
    figures["cpu_count"] = os.cpu_count()
    figures["calibration"] = calibration.to_dict()
    if as_json:
        print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
        return
    table = Table(title="card-job queue throughput")
    for col in ("figure", "measured", "target", "result"):
        table.add_column(col)
    for key, target in TARGETS.items():
        value = int(figures[key])  # type: ignore[call-overload]
        verdict = "[green]pass[/]" if value >= target else "[red]miss[/]"
        table.add_row(key, f"{value:,}", f"{target:,}", verdict)
    out.print(table)
    cfg = result.config
    out.print(
        f"lifecycle: {result.lifecycle_completed:,} jobs completed in "
        f"{result.lifecycle_seconds:.1f} s by {cfg.workers} workers "
        f"claiming {cfg.batch} at a time; "
        f"bulk: {result.bulk_enqueued:,} jobs in {result.bulk_seconds:.1f} s "
        f"({cfg.producers} producers, {cfg.enqueue_batch} per statement)"
    )
    settings = ", ".join(f"{k}={v}" for k, v in sorted(result.settings.items()))
    out.print(f"PostgreSQL ({'embedded' if embedded else 'external'}): {settings}; logged tables")
    out.print(f"machine: {os.cpu_count()} CPU cores (client and server share them)")
    out.print(calibration.describe())
