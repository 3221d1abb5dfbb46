"""The load test's figures by phase, from a request log written by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from issuance.tools import loadtest as lt

T0 = 1_800_000_000.0


def _log(tmp_path: Path, rows: list[tuple[float, str, float, int]]) -> Path:
    path = tmp_path / "requests.csv"
    path.write_text("".join(f"{T0 + t:.4f},{task},{ms},{failed}\n" for t, task, ms, failed in rows))
    return path


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert lt.percentile(values, 0.99) == 99.0
    assert lt.percentile(values, 0.50) == 50.0
    assert lt.percentile([7.0], 0.99) == 7.0
    assert lt.percentile([], 0.99) == 0.0


def test_the_warm_up_is_reported_apart_from_the_steady_state(tmp_path: Path) -> None:
    rows = []
    for second in range(30):  # 10 requests a second for 30 s
        for i in range(10):
            slow = second < 5  # the first five seconds are slow
            task = "apply instant" if i == 0 else "status"
            rows.append((second + i / 10, task, 800.0 if slow else 20.0 + i, 0))
    rows.append((30.2, "status", 5000.0, 0))  # in the last, partial second: not counted
    found = lt.phases(lt.read_samples(_log(tmp_path, rows)), warmup_s=10)
    warm, steady = found[lt.WARMUP], found[lt.STEADY]
    assert warm[lt.MIX].requests == 100 and steady[lt.MIX].requests == 200
    assert warm[lt.MIX].p99_ms == 800.0
    assert steady[lt.MIX].p99_ms == 29.0 and steady[lt.MIX].max_ms == 29.0
    assert steady[lt.MIX].per_s == 10.0
    assert steady["apply instant"].requests == 20 and steady["apply instant"].p99_ms == 20.0
    figures = lt.phase_figures(found)
    assert figures["p99_ms"] == 29.0
    assert figures["warmup_p99_ms"] == 800.0
    assert figures["warmup_p99_ratio"] == pytest.approx(800 / 29, abs=0.01)


def test_the_worst_second_is_found_inside_the_steady_state(tmp_path: Path) -> None:
    rows = [(second + i / 100, "status", 10.0, 0) for second in range(20) for i in range(100)]
    rows += [(12.5, "status", 300.0, 0), (12.6, "status", 300.0, 0)]  # one bad second
    found = lt.phases(lt.read_samples(_log(tmp_path, rows)), warmup_s=5)
    steady = found[lt.STEADY][lt.MIX]
    assert steady.p99_ms == 10.0  # two slow requests in 1,502 do not move the p99
    assert steady.worst_second_p99_ms == 300.0  # but they are 2 % of their second


def test_failures_are_counted_per_phase(tmp_path: Path) -> None:
    rows = [(float(s), "status", 10.0, int(s == 12)) for s in range(20)]
    found = lt.phases(lt.read_samples(_log(tmp_path, rows)), warmup_s=10)
    assert (found[lt.WARMUP][lt.MIX].failures, found[lt.STEADY][lt.MIX].failures) == (0, 1)


def test_an_empty_log_has_empty_phases(tmp_path: Path) -> None:
    found = lt.phases(lt.read_samples(_log(tmp_path, [])), warmup_s=10)
    assert found == {lt.WARMUP: {}, lt.STEADY: {}}
    assert lt.phase_figures(found)["p99_ms"] == 0.0
