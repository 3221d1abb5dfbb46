"""``sscard agent`` (the outlet agent beside the devices) and ``sscard demo`` (all of it at once).

``sscard agent`` opens each ``--printer`` (``[NAME=]tcp://HOST:PORT`` or a USB
device path) and its own chip station: one ``--reader`` per ``--printer``, in
the same order (``pcsc:<reader name>`` for a printer's PC/SC encoder,
``sim[:HOST:PORT]`` for a simulated printer's reader); one ``sim`` reader may
also serve every printer of a simulated outlet (its chip service tells the
stations apart by the printer's serial). Then the PSAM and the journal, and
runs :class:`printers.agent.loop.Agent` against the API at ``--api`` with the
bearer token in ``--token-file`` until Ctrl-C.

The PSAM is :class:`~printers.devices.chip.psam.SimulatedPsam` holding the master
keys of ``--psam-keys`` (a simulated outlet writes them to
``<out>/psam-keys.json``).

PIN services (密码修改/重置): with ``--pinpad`` the agent also claims the
counter's ``encode`` jobs and serves them at its
:class:`~printers.agent.pinpad.PinDesk`: the holder's card in the desk
reader (``--desk-reader sim[:HOST:PORT]``, a simulated outlet's desk, or
``pcsc:<reader name>``; a simulated ``--reader`` lends its address), the
PIN typed on the pad. ``--pinpad sim`` makes this terminal's keyboard the
pad (entries read without echo). A real PIN pad is a device behind the
:class:`~printers.agent.pinpad.PinPad` Protocol, its vendor's driver
wrapped in a class with ``read_pin``, added to :data:`PIN_PADS`. The PIN
goes from the pad to the encoder only: never to the API, a log or the
journal.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import io
import json
import os
import random
import secrets
import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from PIL import Image, ImageDraw
from rich.console import Console

from issuance.cli.common import STOP_SIGNALS, run, stop_signals_call
from issuance.cli.serve import api_server, describe_database
from issuance.config import DEFAULT_HOST, DEFAULT_PORT, Settings
from issuance.domain.roles import Role
from issuance.runtime import Runtime
from issuance.services import admin, psams, signin
from issuance.store import Store
from issuance.store.pages import PagesStore
from issuance.tools.testdata import random_citizen_id
from printers.agent.client import AgentClient
from printers.agent.journal import Journal
from printers.agent.loop import Agent, AgentConfig, AgentEvent, EventKind
from printers.agent.pinpad import DeskReader, KeyboardPinPad, PinDesk, PinPad
from printers.agent.station import (
    ChipReader,
    Station,
    open_printer,
    unconnected_printer,
)
from printers.devices.chip.encoder import CardConnection
from printers.devices.chip.pcsc import PcscConnection
from printers.devices.chip.pcsc_psam import CardPsam
from printers.devices.chip.psam import Psam
from printers.devices.evolis.driver import EvolisPrinter
from printers.devices.simulators.outlet import (
    SimChipReader,
    SimDeskReader,
    SimulatedOutlet,
    read_keys,
)
from printers.devices.simulators.psam import SimulatedPsam
from sscard_core.card_data import CardData, Gender
from sscard_core.errors import InputError, TransportError

out = Console(highlight=False)
SIM_CHIP_PORT = 35964


@dataclass(frozen=True)
class PrinterArg:
    name: str
    url: str


def printer_arg(text: str) -> PrinterArg:
    name, sep, url = text.partition("=")
    return PrinterArg(name, url) if sep and "://" not in name else PrinterArg("", text)


@dataclass(frozen=True)
class PcscReader:
    """A PC/SC encoder: the card under its contacts, whatever the job expects."""

    reader: str

    def connection(self, card_identifier: str) -> CardConnection:
        return PcscConnection(self.reader)


def station_readers(printers: list[PrinterArg], specs: list[str]) -> list[str]:
    """The reader spec of each printer: one ``--reader`` per ``--printer``, in order.

    A single ``sim`` reader may serve every printer (the simulated chip service binds by
    the printer's serial); a PC/SC reader is one printer's own and cannot be shared.
    """
    if len(specs) == 1 and len(printers) > 1 and specs[0].startswith("sim"):
        return specs * len(printers)
    if len(specs) != len(printers):
        raise InputError(
            f"give one --reader per --printer, in the same order: {len(printers)} printers, "
            f"{len(specs)} readers"
        )
    shared = sorted({s for s in specs if s.startswith("pcsc:") and specs.count(s) > 1})
    if shared:
        raise InputError(f"a PC/SC reader belongs to one printer: {', '.join(shared)} is repeated")
    return specs


def reader_for(spec: str, printer_host: str, serial: str) -> ChipReader:
    kind, _, rest = spec.partition(":")
    if kind == "pcsc" and rest:
        return PcscReader(rest)
    if kind == "sim":
        host, _, port = rest.rpartition(":") if rest else (printer_host, "", str(SIM_CHIP_PORT))
        return SimChipReader(host or printer_host, int(port), serial)
    raise InputError(f"--reader must be sim[:HOST:PORT] or pcsc:<reader name>, not {spec!r}")


@dataclass(frozen=True)
class PcscDeskReader:
    """A PC/SC reader at the counter: the card the holder put in it."""

    reader: str

    def connection(self) -> CardConnection:
        return PcscConnection(self.reader)


class PinPadKind(StrEnum):
    SIM = "sim"  # this terminal's keyboard plays the pad


PIN_PADS: dict[PinPadKind, Callable[[], PinPad]] = {PinPadKind.SIM: KeyboardPinPad}


def desk_reader_for(spec: str) -> DeskReader:
    """``sim[:HOST:PORT]`` (a simulated outlet's desk) or ``pcsc:<reader name>``."""
    kind, _, rest = spec.partition(":")
    if kind == "pcsc" and rest:
        return PcscDeskReader(rest)
    if kind == "sim":
        host, _, port = rest.rpartition(":") if rest else ("", "", str(SIM_CHIP_PORT))
        return SimDeskReader(host or "127.0.0.1", int(port))
    raise InputError(f"--desk-reader must be sim[:HOST:PORT] or pcsc:<reader name>, not {spec!r}")


def pin_desk(ns: argparse.Namespace, psam: Psam, journal: Journal) -> PinDesk | None:
    """The PIN desk ``--pinpad`` asks for, or None."""
    if ns.pinpad is None:
        return None
    first = ns.reader[0]
    spec = ns.desk_reader or (first if first.startswith("sim") else None)
    if spec is None:
        raise InputError("--pinpad needs --desk-reader (the counter's card reader)")
    return PinDesk(desk_reader_for(spec), PIN_PADS[PinPadKind(ns.pinpad)](), psam, journal)


def describe(event: AgentEvent) -> str:
    where = f" on {event.printer}" if event.printer else ""
    job = f"job {event.job_id}" if event.job_id is not None else "agent"
    return f"{job}{where}: {event.kind.value} {event.detail}"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    a = sub.add_parser("agent", help="run the outlet agent beside a printer and its encoder")
    a.add_argument(
        "--api",
        required=True,
        action="append",
        help="the service's base URL; give it once per API node to move to another when one fails",
    )
    a.add_argument("--token-file", type=Path, required=True, help="the agent's bearer token")
    a.add_argument("--site", required=True, help="the outlet code whose jobs to claim")
    a.add_argument("--printer", type=printer_arg, action="append", required=True)
    a.add_argument(
        "--reader",
        action="append",
        required=True,
        help="each --printer's chip reader, in the same order: pcsc:<reader name> or "
        "sim[:HOST:PORT] (one sim reader may serve every simulated printer)",
    )
    a.add_argument("--journal", type=Path, required=True, help="the local SQLite journal")
    which = a.add_mutually_exclusive_group(required=True)
    which.add_argument("--psam-keys", type=Path, help="a simulated PSAM's master keys (JSON)")
    which.add_argument("--psam-reader", help="the PC/SC reader of a physical PSAM card")
    a.add_argument("--psam-serial", default=DEMO_PSAM, help="the simulated PSAM's serial")
    a.add_argument("--worker", default=socket.gethostname(), help="this agent's name")
    a.add_argument("--wait", type=float, default=20.0, help="long-poll seconds")
    a.add_argument(
        "--pinpad",
        choices=[k.value for k in PinPadKind],
        help="serve PIN change/reset jobs with this PIN pad ('sim': this terminal's keyboard; "
        "a real pad is a device behind printers.agent.pinpad.PinPad)",
    )
    a.add_argument(
        "--desk-reader",
        help="the counter's card reader for PIN jobs: sim[:HOST:PORT] or pcsc:<reader name>",
    )
    a.set_defaults(func=lambda ns: run(_agent_until_stopped(ns)))


async def _stations(
    ns: argparse.Namespace, psam: Psam, journal: Journal, lines: list[str]
) -> list[Station]:
    """A station per ``--printer`` with its own reader; ``lines`` gets one line for each.

    A printer that does not answer yet starts out of service, and the agent connects
    to it again (with back-off) until it does.
    """
    specs = station_readers(ns.printer, ns.reader)
    stations = []
    for i, (arg, spec) in enumerate(zip(ns.printer, specs, strict=True), start=1):
        name = arg.name or f"printer{i}"
        host = arg.url.split("://")[-1].split(":")[0] or "127.0.0.1"
        connect = functools.partial(open_printer, arg.url)
        serial = ""
        try:
            printer: EvolisPrinter = await connect()
            serial = (await printer.identify()).serial
        except (TransportError, OSError) as exc:
            lines.append(f"  printer {name} does not answer yet ({exc}); it joins when it does")
            printer = unconnected_printer(arg.url)
        reader = reader_for(spec, host, serial)
        lines.append(f"  station {name}: printer {arg.url}, chip reader {spec}")
        station = Station(name, printer, reader, psam, journal, connect=connect)
        if not serial:
            station.unreachable_now()
        stations.append(station)
    return stations


async def _psam(ns: argparse.Namespace, stack: contextlib.AsyncExitStack) -> Psam:
    """A physical PSAM in its own PC/SC reader (``--psam-reader``), or the simulated one."""
    if ns.psam_reader is None:
        return SimulatedPsam(read_keys(ns.psam_keys), serial=ns.psam_serial)
    connection = PcscConnection(ns.psam_reader)
    await connection.connect()
    stack.push_async_callback(connection.disconnect)
    return await CardPsam.open(connection)


async def run_agent(ns: argparse.Namespace, *, stop: asyncio.Event | None = None) -> int:
    token = ns.token_file.read_text().strip()
    config = AgentConfig(wait_seconds=ns.wait)
    async with contextlib.AsyncExitStack() as stack:
        psam = await _psam(ns, stack)
        with Journal(ns.journal) as journal:
            desk = pin_desk(ns, psam, journal)
            lines: list[str] = []
            stations = await _stations(ns, psam, journal, lines)
            client = AgentClient(ns.api, token, worker=ns.worker, site=ns.site, psam=psam.serial)
            agent = Agent(
                client, stations, journal, config, desk=desk,
                events=lambda e: out.print(describe(e)),
            )  # fmt: skip
            pads = f"; PIN pad {ns.pinpad}" if desk is not None else ""
            names = ", ".join(s.name for s in stations)
            out.print(f"agent {ns.worker} for {ns.site} (PSAM {psam.serial}): {names}{pads}")
            for line in lines:
                out.print(line)
            try:
                await _until(agent.run(), stop)
            finally:
                await client.aclose()
                for station in stations:
                    await station.printer.aclose()
    return 0


async def _agent_until_stopped(ns: argparse.Namespace) -> int:
    """The agent until Ctrl-C or SIGTERM, either of which stops it cleanly (exit status 0)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    return await run_agent(ns, stop=stop)


async def _until(main: Coroutine[Any, Any, None], stop: asyncio.Event | None) -> None:
    task = asyncio.create_task(main)
    if stop is None:
        await task
        return
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for pending in (task, stopper):
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pending


# --- sscard demo ---------------------------------------------------------------------------

DEMO_BANK = "DEMO"
DEMO_OUTLET = "demo-outlet"
DEMO_PSAM = "SIM-PSAM-0001"  # the simulated PSAM's serial
DEMO_TERMINAL = "SIM-TERM-0001"
APPLY_PATH = "/v1/applications"
TOKENS_FILE = "demo-tokens.json"
CHECKED_FIELDS = ("card_number", "card_identifier", "name", "citizen_id", "gender", "birth_date")


@dataclass(frozen=True)
class DemoTokens:
    clerk: str
    agent: str


def register_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = sub.add_parser("demo", help="the whole system on this machine: API, outlet, agent, a card")
    d.add_argument("--host", default=DEFAULT_HOST)
    d.add_argument("--port", type=int, default=DEFAULT_PORT)
    d.set_defaults(func=lambda ns: run(run_demo(ns.host, ns.port)))


def _read_tokens(path: Path) -> DemoTokens | None:
    if not path.exists():
        return None
    body = json.loads(path.read_text())
    return DemoTokens(str(body.get("clerk", "")), str(body.get("agent", "")))


async def _valid_tokens(store: Store, path: Path) -> DemoTokens | None:
    tokens = _read_tokens(path)
    if tokens is None:
        return None
    for token in (tokens.clerk, tokens.agent):
        if await store.operator_by_token(token) is None:
            return None
    return tokens


async def demo_accounts(store: Store, path: Path) -> DemoTokens:
    """The demo bank, instant outlet, clerk and agent; tokens kept (0600) in ``path``."""
    known = await _valid_tokens(store, path)
    if known is not None:
        return known
    if not await store.bank_exists(DEMO_BANK):
        await admin.create_bank(store, DEMO_BANK, "北京演示农村商业银行", active=True)
    if await store.outlet(DEMO_OUTLET) is None:
        outlet = admin.OutletInput(
            DEMO_OUTLET, DEMO_BANK, "演示网点", instant=True, psam_serial=DEMO_PSAM
        )
        await admin.create_outlet(store, outlet)
        await psams.equip_outlet(store, None, DEMO_OUTLET, terminal=DEMO_TERMINAL, psam=DEMO_PSAM)
    suffix = secrets.token_hex(3)
    clerk = await admin.create_operator(
        store, f"demo-clerk-{suffix}", Role.CLERK, bank=DEMO_BANK, outlet=DEMO_OUTLET
    )
    agent = await admin.create_operator(
        store, f"demo-agent-{suffix}", Role.AGENT, bank=DEMO_BANK, outlet=DEMO_OUTLET
    )
    tokens = DemoTokens(clerk.token, agent.token)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"clerk": tokens.clerk, "agent": tokens.agent}, f)
    return tokens


def synthetic_photo(seed: int) -> bytes:
    """A plain head-and-shoulders figure on a light background, as a JPEG."""
    rng = random.Random(seed)
    image = Image.new("RGB", (358, 441), (222, 232, 245))
    draw = ImageDraw.Draw(image)
    skin = (rng.randint(200, 235), rng.randint(165, 195), rng.randint(140, 170))
    draw.ellipse((34, 300, 324, 560), fill=(40, 52, 80))  # shoulders
    draw.ellipse((114, 90, 244, 260), fill=skin)  # face
    draw.ellipse((104, 60, 254, 160), fill=(30, 25, 20))  # hair
    draw.ellipse((144, 160, 160, 172), fill=(20, 20, 20))
    draw.ellipse((198, 160, 214, 172), fill=(20, 20, 20))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def sample_application(seed: int) -> dict[str, Any]:
    """A valid applicant (a generated citizen ID) with a synthetic photo, as the API takes it."""
    rng = random.Random(seed)
    gender = rng.choice(list(Gender))
    citizen_id = random_citizen_id(rng, region="110105", gender=gender)
    born = date(int(citizen_id[6:10]), int(citizen_id[10:12]), int(citizen_id[12:14]))
    name = rng.choice("王李张刘陈杨赵黄周吴") + rng.choice(("晓明", "丽华", "建国", "思远", "雨桐"))
    holder = {
        "citizen_id": citizen_id,
        "name": name,
        "gender": gender.value,
        "birth_date": born.isoformat(),
        "ethnicity": 1,
        "birthplace": "110105",
    }
    photo = base64.b64encode(synthetic_photo(seed)).decode()
    return {"holder": holder, "photo": photo, "wait": True}


def chip_matches(application: dict[str, Any], card: dict[str, Any], chip: CardData) -> bool:
    """Whether the chip read back carries the applicant and the card the service ordered."""
    holder = application["holder"]
    expected = {
        "card_number": card["card_number"],
        "card_identifier": card["card_identifier"],
        "name": holder["name"],
        "citizen_id": holder["citizen_id"],
        "gender": Gender(holder["gender"]),
        "birth_date": date.fromisoformat(holder["birth_date"]),
    }
    return all(getattr(chip, f) == expected[f] for f in CHECKED_FIELDS)


class DemoConsole:
    """Prints the agent's events as they happen and remembers finished jobs."""

    def __init__(self) -> None:
        self.made: dict[int, AgentEvent] = {}
        self._changed = asyncio.Event()

    def __call__(self, event: AgentEvent) -> None:
        out.print(f"  [cyan]{describe(event)}[/]")
        if event.kind in (EventKind.MADE, EventKind.FAILED) and event.job_id is not None:
            self.made[event.job_id] = event
            self._changed.set()

    async def finished(self, job_id: int) -> AgentEvent:
        while job_id not in self.made:
            self._changed.clear()
            await self._changed.wait()
        return self.made[job_id]


async def _submit(api: str, token: str, application: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": secrets.token_hex(8)}
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        response = await http.post(APPLY_PATH, json=application, headers=headers)
    if response.is_error:
        raise InputError(f"the application was refused: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return dict(body.get("card", body))


async def _report_card(
    outlet: SimulatedOutlet, application: dict[str, Any], card: dict[str, Any]
) -> Path | None:
    """Print where the card's image is and whether its chip reads back right; the image."""
    for _ in range(100):
        made = outlet.cards_for(card["card_identifier"])
        if made:
            break
        await asyncio.sleep(0.05)
    else:
        out.print("[red]the card did not reach a hopper[/]")
        return None
    chip = made[0].chip
    assert chip is not None
    mark = "[green]✓[/]" if chip_matches(application, card, chip) else "[red]✗[/]"
    out.print(f"printed card image: {made[0].png}")
    out.print(f"chip read-back: {mark} {chip.name} {chip.citizen_id} card {chip.card_number}")
    return made[0].png


async def _hand_over(api: str, token: str, number: str, folder: Path) -> None:
    """Hand the card over at the counter and write its receipt beside the card's image."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api, timeout=30, headers=headers) as http:
        handed = await http.post(f"/v1/cards/{number}/hand-over")
        receipt = await http.get(f"/v1/cards/{number}/receipt.pdf") if handed.is_success else None
    if receipt is None or receipt.is_error:
        failed = receipt if receipt is not None else handed
        out.print(f"[red]hand-over receipt not made: {failed.status_code} {failed.text}[/]")
        return
    path = folder / f"receipt-{number}.pdf"
    await asyncio.to_thread(path.write_bytes, receipt.content)
    out.print(f"handed over; receipt: {path}")


def _curl(api: str, tokens_path: Path, body_path: Path) -> str:
    token = f'$(python3 -c \'import json; print(json.load(open("{tokens_path}"))["clerk"])\')'
    return (
        f'curl -X POST {api}{APPLY_PATH} -H "Authorization: Bearer {token}" '
        f"-H 'Content-Type: application/json' -d @{body_path}"
    )


def write_sample(path: Path, seed: int) -> None:
    path.write_text(json.dumps(sample_application(seed), ensure_ascii=False))


async def _demo_agent(
    api: str, token: str, outlet: SimulatedOutlet, journal: Journal, console: DemoConsole
) -> None:
    stations = [
        Station(
            name,
            await open_printer(outlet.printer_url(name)),
            outlet.reader(name),
            outlet.psam,
            journal,
        )
        for name in outlet.names
    ]
    client = AgentClient(api, token, worker="demo-agent", site=DEMO_OUTLET, psam=outlet.psam.serial)
    async with client:
        try:
            await Agent(client, stations, journal, AgentConfig(), events=console).run()
        finally:
            for station in stations:
                await station.printer.aclose()


async def _started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    for _ in range(600):
        if server.started or serving.done():
            return
        await asyncio.sleep(0.05)


async def _until_stopped(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    """Until Ctrl-C: the agent is stopped as soon as the server starts shutting down."""
    done: set[asyncio.Task[None]] = set()
    while not done and not server.should_exit:
        done, _ = await asyncio.wait({serving}, timeout=0.2)


async def run_demo(host: str, port: int) -> int:
    settings = replace(Settings.from_env(), host=host, port=port)
    async with Runtime(settings) as rt:
        tokens_path = settings.data_dir / TOKENS_FILE
        tokens = await demo_accounts(rt.store, tokens_path)
        link = await demo_sign_in_link(rt, tokens, f"http://{host}:{port}")
        server = api_server(rt, host, port)
        with stop_signals_call(lambda: setattr(server, "should_exit", True)):
            await _demo(settings, server, tokens, describe_database(rt), link)
    out.print("stopped; the database was shut down cleanly")
    return 0


async def demo_sign_in_link(rt: Runtime, tokens: DemoTokens, base: str) -> str:
    """A one-time sign-in link to the pages for the demo clerk."""
    clerk = await rt.store.operator_by_token(tokens.clerk)
    assert clerk is not None  # demo_accounts has just checked or made it
    token = await signin.sign_in_link(PagesStore(rt.pool), clerk.name)
    return f"{base}/signin/link/{token}"


async def _demo(
    settings: Settings, server: uvicorn.Server, tokens: DemoTokens, database: str, link: str
) -> None:
    """The API and a simulated outlet with its agent: one card, then serving until stopped."""
    api = f"http://{settings.host}:{settings.port}"
    async with SimulatedOutlet(settings.data_dir / "outlet", printers=2) as outlet:
        serving = asyncio.create_task(server.serve())
        await _started(server, serving)
        out.print(f"sscard API on {api} ({database})")
        out.print(f"simulated outlet {DEMO_OUTLET}: cards in {outlet.out_dir}")
        for name in outlet.names:
            reader = outlet.reader_spec(name)
            out.print(f"  station {name}: printer {outlet.printer_url(name)}, chip reader {reader}")
        console = DemoConsole()
        with Journal(settings.data_dir / "agent-journal.sqlite") as journal:
            agent = asyncio.create_task(_demo_agent(api, tokens.agent, outlet, journal, console))
            try:
                await _one_card(api, tokens, outlet, console)
                sample = settings.data_dir / "demo-application.json"
                await asyncio.to_thread(write_sample, sample, secrets.randbits(32))
                out.print(f"the counter page: {api}/counter")
                out.print("sign in as the demo clerk (one-time link, 15 minutes):")
                out.print(link, soft_wrap=True, markup=False)
                out.print("or apply for another card over the API with:")
                tokens_path = settings.data_dir / TOKENS_FILE
                out.print(_curl(api, tokens_path, sample), soft_wrap=True, markup=False)
                out.print("press Ctrl-C to stop")
                await _until_stopped(server, serving)
            finally:
                agent.cancel()
                await asyncio.gather(agent, return_exceptions=True)
                await serving


async def _one_card(
    api: str, tokens: DemoTokens, outlet: SimulatedOutlet, console: DemoConsole
) -> None:
    application = sample_application(int(time.time()))
    out.print(
        f"applying for {application['holder']['name']} ({application['holder']['citizen_id']})"
    )
    card = await _submit(api, tokens.clerk, application)
    job_id = int(card["job_id"])
    out.print(f"card {card['card_number']} ordered; production job {job_id}")
    event = await console.finished(job_id)
    if event.kind is EventKind.MADE:
        image = await _report_card(outlet, application, card)
        if image is not None:
            await _hand_over(api, tokens.clerk, card["card_number"], image.parent)
