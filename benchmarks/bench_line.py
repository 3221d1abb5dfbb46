"""A production line of six printers, time compressed 100x: how busy does dispatch keep them?

The real outlet agent (claim loop, station dispatch, stations, journal) drives
six simulated Evolis printers at their realistic timings scaled by 0.01; only
the service is played in memory (:mod:`issuance.tools.line`). The target is
every printer at least 95 % busy until the queue runs dry; the figures are
printed (run with ``-s``), not asserted.

Run with ``pytest benchmarks/bench_line.py --benchmark-enable -s``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pytest_benchmark.fixture import BenchmarkFixture

from issuance.tools.line import TARGET_UTILISATION, LineConfig, LineReport, run_line

CONFIG = LineConfig(printers=6, cards=120, time_scale=0.01)


def test_six_printer_line_at_100x(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    runs = iter(range(100))

    def once() -> LineReport:
        return asyncio.run(run_line(CONFIG, tmp_path / f"run-{next(runs)}"))

    report: LineReport = benchmark.pedantic(once, rounds=1, iterations=1)  # type: ignore[no-untyped-call]
    assert report.made == CONFIG.cards
    assert sum(p.cards for p in report.printers) == CONFIG.cards
    print(f"\n{CONFIG.printers} printers, {CONFIG.cards} cards, time x{1 / CONFIG.time_scale:.0f}: "
          f"queue dry after {report.dry_after_seconds:.1f} s, "
          f"{report.cards_per_hour:.0f} cards per simulated hour")  # fmt: skip
    for p in report.printers:
        mark = "ok" if p.utilisation >= TARGET_UTILISATION else "BELOW TARGET"
        print(f"  {p.name}: {p.cards} cards, {p.utilisation:.1%} busy ({mark})")
