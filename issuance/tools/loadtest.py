"""``sscard loadtest``: the whole stack under the counter mix, measured against written targets.

1. a scratch database (a fresh data directory for the embedded server, or a
   scratch database on ``SSCARD_DATABASE_URL``), seeded with a bank, an
   instant-issuance outlet, clerks and an agent;
2. the API server in its own process (``sscard serve``), so that its resident
   memory can be sampled every second;
3. locust, headless, with ``benchmarks/locustfile.py`` for a set duration;
4. a table of each target in ``benchmarks/targets.toml`` with the measured
   value, and the results as JSON, CSV (locust's) and a PNG chart.

Latency is reported for two phases apart, from every request's own timing
(the locustfile logs start time, task and response time of each): the
warm-up, the first ``warmup_s`` seconds after the first request, while the
users are still arriving and the server's caches and connections fill; and
the steady state, the rest but the last, partial second. Within the steady
state the worst one-second window is reported too, since a clerk waits in
every second, not on average.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import subprocess
import sys
import time
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil


@dataclass(frozen=True)
class Target:
    name: str
    metric: str
    op: str
    value: float
    why: str

    def passed(self, measured: float) -> bool:
        return measured >= self.value if self.op == ">=" else measured <= self.value


@dataclass(frozen=True)
class LoadPlan:
    users: int
    spawn_rate: int
    duration_s: int
    offered_rps: float
    targets: tuple[Target, ...]
    warmup_s: float = 15.0

    @property
    def rate_per_user(self) -> float:
        """Tasks per second per locust user (each task sends one request)."""
        return self.offered_rps / self.users


def load_plan(
    path: Path, *, users: int | None, duration: int | None, offered: float | None = None
) -> LoadPlan:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    run = data["run"]
    targets = tuple(Target(**t) for t in data["target"])
    return LoadPlan(
        users=users or int(run["users"]),
        spawn_rate=int(run["spawn_rate"]),
        duration_s=duration or int(run["duration_s"]),
        offered_rps=offered or float(run["offered_rps"]),
        targets=targets,
        warmup_s=float(run.get("warmup_s", 15)),
    )


@dataclass
class MemorySampler:
    """Resident memory of one process and its children, sampled once a second: RSS, which
    counts a page shared by several processes once in each, and PSS, which shares it out."""

    pid: int
    samples: list[tuple[float, float]] = field(default_factory=list)
    pss: list[float] = field(default_factory=list)

    def sample(self) -> None:
        """The RSS (and PSS) of the server process and its worker processes, summed."""
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in procs) / 2**20
            pss = sum(getattr(p.memory_full_info(), "pss", 0) for p in procs) / 2**20
        except psutil.Error:
            return
        self.samples.append((time.monotonic(), rss))
        self.pss.append(pss)

    def peak(self) -> float:
        return max((r for _, r in self.samples), default=0.0)

    def peak_pss(self) -> float:
        return max(self.pss, default=0.0)

    def growth(self) -> float:
        """Mean RSS of the last minute minus that of the first (or of the first and last thirds)."""
        if len(self.samples) < 6:
            return 0.0
        third = max(1, min(60, len(self.samples) // 3))
        first = [r for _, r in self.samples[:third]]
        last = [r for _, r in self.samples[-third:]]
        return sum(last) / len(last) - sum(first) / len(first)


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _postgres(database: str | None = None) -> list[psutil.Process]:
    """PostgreSQL's processes; with ``database``, only the backends connected to it (a shared
    server's other databases, and its own background processes, are left out)."""
    found = [p for p in psutil.process_iter(["name", "cmdline"]) if p.info["name"] == "postgres"]
    if database is None:
        return found
    marker = f" {database} "
    return [p for p in found if marker in " ".join(p.info["cmdline"] or ()) + " "]


@dataclass
class CpuShares:
    """CPU time used by the API server, the database and locust, sampled over the run.

    Each process's last reading is kept, so processes that exit (a backend,
    locust at the end) still count. ``cores()`` divides by the wall time.
    ``database`` names the scratch database on a shared server: only its
    backends are counted then.
    """

    server_pid: int
    locust_pid: int
    database: str | None = None
    started: float = field(default_factory=time.monotonic)
    ended: float = 0.0
    base: dict[tuple[str, int], float] = field(default_factory=dict)
    last: dict[tuple[str, int], float] = field(default_factory=dict)

    def groups(self) -> dict[str, list[psutil.Process]]:
        return {
            "server": _tree(self.server_pid),
            "database": _postgres(self.database),
            "locust": _tree(self.locust_pid),
        }

    def sample(self) -> None:
        for name, procs in self.groups().items():
            for p in procs:
                try:
                    used = sum(p.cpu_times()[:2])
                except psutil.Error:
                    continue
                self.base.setdefault((name, p.pid), used)
                self.last[(name, p.pid)] = used
        self.ended = time.monotonic()

    def seconds(self) -> dict[str, float]:
        """CPU seconds used by each group since the first sample."""
        out = {"server": 0.0, "database": 0.0, "locust": 0.0}
        for (name, pid), used in self.last.items():
            out[name] += used - self.base[(name, pid)]
        return out

    def cores(self) -> dict[str, float]:
        wall = max(1e-9, self.ended - self.started)
        return {name: round(value / wall, 2) for name, value in self.seconds().items()}

    def per_request_ms(self, requests: float) -> dict[str, float]:
        """CPU milliseconds per request of the API server, of the database, and of both."""
        used = self.seconds()
        both = used["server"] + used["database"]
        return {
            f"{name}_cpu_ms_per_request": round(1000 * value / requests, 3) if requests else 0.0
            for name, value in (("server", used["server"]), ("database", used["database"]),
                                ("stack", both))
        }  # fmt: skip


def locust_command(locustfile: Path, host: str, plan: LoadPlan, prefix: Path) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
        "-u", str(plan.users), "-r", str(plan.spawn_rate), "-t", f"{plan.duration_s}s",
        "--host", host, "--csv", str(prefix), "--csv-full-history", "--only-summary",
        "--stop-timeout", "5", "--loglevel", "WARNING",
    ]  # fmt: skip


def read_stats(prefix: Path) -> dict[str, dict[str, str]]:
    with open(f"{prefix}_stats.csv", encoding="utf-8", newline="") as fh:
        return {row["Name"]: row for row in csv.DictReader(fh)}


def _ms(row: dict[str, str] | None, column: str) -> float:
    if row is None or row.get(column) in (None, "", "N/A"):
        return 0.0
    return float(row[column])


def steady_throughput(prefix: Path, users: int) -> float:
    """Mean requests per second once every user runs (the ramp-up left out)."""
    with open(f"{prefix}_stats_history.csv", encoding="utf-8", newline="") as fh:
        rates = [
            float(row["Requests/s"])
            for row in csv.DictReader(fh)
            if row["Name"] == "Aggregated" and int(row["User Count"]) >= users
        ]
    steady = rates[2:-1]  # the first seconds still fill locust's rate window; the last is partial
    return round(sum(steady) / len(steady), 1) if steady else 0.0


MIX = "mix"  # every request of the run, whatever its task
APPLY = "apply instant"
WARMUP, STEADY = "warm-up", "steady"


@dataclass(frozen=True)
class Sample:
    """One request as the locustfile logged it."""

    start: float  # seconds since the epoch
    task: str
    ms: float
    failed: bool


@dataclass(frozen=True)
class Latency:
    """One task's figures in one phase; the worst second counts only full seconds."""

    requests: int
    per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    worst_second_p99_ms: float
    failures: int


Phases = dict[str, dict[str, Latency]]


def read_samples(path: Path) -> list[Sample]:
    """The request log: ``start,task,ms,failed`` per line."""
    samples = []
    with open(path, encoding="utf-8", newline="") as fh:
        for start, task, ms, failed in csv.reader(fh):
            samples.append(Sample(float(start), task, float(ms), failed == "1"))
    samples.sort(key=lambda s: s.start)
    return samples


def percentile(sorted_ms: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_ms:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_ms)))
    return sorted_ms[rank - 1]


def _by_task(samples: Iterable[Sample]) -> dict[str, list[Sample]]:
    tasks: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        tasks[MIX].append(s)
        tasks[s.task].append(s)
    return tasks


def _worst_second(samples: list[Sample], t0: float, last_full: int) -> float:
    seconds: dict[int, list[float]] = defaultdict(list)
    for s in samples:
        second = int(s.start - t0)
        if second < last_full:
            seconds[second].append(s.ms)
    return max((percentile(sorted(v), 0.99) for v in seconds.values()), default=0.0)


def latency(samples: list[Sample], seconds: float, t0: float, last_full: int) -> Latency:
    ms = sorted(s.ms for s in samples)
    return Latency(
        requests=len(ms),
        per_s=round(len(ms) / seconds, 1) if seconds > 0 else 0.0,
        p50_ms=percentile(ms, 0.50),
        p95_ms=percentile(ms, 0.95),
        p99_ms=percentile(ms, 0.99),
        max_ms=ms[-1] if ms else 0.0,
        worst_second_p99_ms=_worst_second(samples, t0, last_full),
        failures=sum(s.failed for s in samples),
    )


def _split(samples: list[Sample], warmup_s: float) -> Iterator[tuple[str, list[Sample], float]]:
    """The warm-up and the steady state, each with its length in seconds (the last,
    partial second of the run left out)."""
    t0 = samples[0].start
    end = t0 + math.floor(samples[-1].start - t0)
    warm = [s for s in samples if s.start < t0 + warmup_s]
    steady = [s for s in samples if t0 + warmup_s <= s.start < end]
    yield WARMUP, warm, min(warmup_s, end - t0)
    yield STEADY, steady, max(0.0, end - t0 - warmup_s)


def phases(samples: list[Sample], warmup_s: float) -> Phases:
    """Each phase's latency per task and for the whole mix."""
    if not samples:
        return {WARMUP: {}, STEADY: {}}
    t0 = samples[0].start
    last_full = math.floor(samples[-1].start - t0)
    return {
        name: {
            task: latency(group, seconds, t0, last_full)
            for task, group in sorted(_by_task(part).items(), key=lambda kv: (kv[0] != MIX, kv[0]))
        }
        for name, part, seconds in _split(samples, warmup_s)
    }


def phase_figures(found: Phases) -> dict[str, float]:
    """The figures the targets name, from the phases."""
    none = Latency(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0)
    warm_mix = found[WARMUP].get(MIX, none)
    steady_mix = found[STEADY].get(MIX, none)
    warm_apply = found[WARMUP].get(APPLY, none)
    steady_apply = found[STEADY].get(APPLY, none)
    return {
        "p50_ms": steady_mix.p50_ms,
        "p99_ms": steady_mix.p99_ms,
        "apply_p99_ms": steady_apply.p99_ms,
        "worst_second_p99_ms": steady_mix.worst_second_p99_ms,
        "worst_second_apply_p99_ms": steady_apply.worst_second_p99_ms,
        "warmup_p99_ms": warm_mix.p99_ms,
        "warmup_apply_p99_ms": warm_apply.p99_ms,
        "warmup_p99_ratio": _ratio(warm_mix.p99_ms, steady_mix.p99_ms),
    }


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 2) if whole > 0 else 0.0


def phases_json(found: Phases) -> dict[str, dict[str, dict[str, float]]]:
    return {name: {task: asdict(f) for task, f in tasks.items()} for name, tasks in found.items()}


def measured(
    prefix: Path, plan: LoadPlan, memory: MemorySampler, cpu: CpuShares, found: Phases
) -> dict[str, float]:
    stats = read_stats(prefix)
    agg = stats.get("Aggregated")
    return {
        "offered_rps": plan.offered_rps,
        "requests_per_s": steady_throughput(prefix, plan.users),
        **phase_figures(found),
        "failures": _ms(agg, "Failure Count"),
        "requests": _ms(agg, "Request Count"),
        "server_peak_rss_mb": round(memory.peak(), 1),
        "server_peak_pss_mb": round(memory.peak_pss(), 1),
        "server_rss_growth_mb": round(memory.growth(), 1),
        **{f"{name}_cores": value for name, value in cpu.cores().items()},
        **cpu.per_request_ms(_ms(agg, "Request Count")),
    }


def chart(prefix: Path, memory: MemorySampler, out: Path) -> None:
    """Throughput and latency percentiles over time, with the server's RSS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _history(prefix)
    t0 = rows[0][0] if rows else 0.0
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    ax1.plot([r[0] - t0 for r in rows], [r[1] for r in rows], label="requests/s")
    ax1.set_ylabel("requests/s")
    ax1.legend(loc="upper left")
    for i, name in enumerate(("p50", "p95", "p99"), start=2):
        ax2.plot([r[0] - t0 for r in rows], [r[i] for r in rows], label=f"{name} ms")
    ax2.set_ylabel("latency (ms)")
    ax2.set_xlabel("seconds")
    if memory.samples:
        m0 = memory.samples[0][0]
        ax3 = ax2.twinx()
        ax3.plot([t - m0 for t, _ in memory.samples], [r for _, r in memory.samples], "k:",
                 label="server RSS MB")  # fmt: skip
        ax3.set_ylabel("server RSS (MB)")
        ax3.legend(loc="upper right")
    ax2.legend(loc="upper left")
    fig.suptitle("sscard counter mix")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def _history(prefix: Path) -> list[tuple[float, float, float, float, float]]:
    rows = []
    with open(f"{prefix}_stats_history.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["Name"] != "Aggregated" or row["50%"] in ("N/A", ""):
                continue
            rows.append((float(row["Timestamp"]), float(row["Requests/s"]), float(row["50%"]),
                         float(row["95%"]), float(row["99%"])))  # fmt: skip
    return rows


def cores_of(pid: int) -> str:
    try:
        return ",".join(map(str, psutil.Process(pid).cpu_affinity() or []))
    except (psutil.Error, AttributeError):
        return "?"


def start_server(
    port: int, env: dict[str, str], workers: int, log: Path
) -> subprocess.Popen[bytes]:
    """``sscard serve`` with its standard error written to ``log``: a pipe nobody reads would
    stop the server once its buffer is full of log lines."""
    with open(log, "wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "issuance.cli.serve", "--port", str(port),
             "--workers", str(workers)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )  # fmt: skip


def log_tail(log: Path, size: int = 2000) -> str:
    try:
        return log.read_bytes()[-size:].decode(errors="replace")
    except OSError:
        return ""


def stop_server(server: subprocess.Popen[bytes], grace_s: float = 30.0) -> None:
    """Ask the server to stop; past ``grace_s`` (a loaded machine drains slowly) kill it and its
    worker processes, so that the figures already measured are still reported."""
    workers = _tree(server.pid)[1:]
    server.terminate()
    try:
        server.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        for p in workers:
            with contextlib.suppress(psutil.Error):
                p.kill()
        server.kill()
        server.wait()


def summary(plan: LoadPlan, figures: dict[str, float]) -> list[dict[str, Any]]:
    return [
        {
            "target": t.name,
            "wanted": f"{t.op} {t.value:g}",
            "measured": figures[t.metric],
            "passed": t.passed(figures[t.metric]),
            "why": t.why,
        }
        for t in plan.targets
    ]
