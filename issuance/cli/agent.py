"""``sscard agent`` (the outlet agent beside the devices) and ``sscard demo`` (all of it at once).

``sscard agent`` opens each ``--printer`` (``[NAME=]tcp://HOST:PORT`` or a USB
device path), its chip station (``--reader sim[:HOST:PORT]`` for a simulated
outlet's chip service, ``pcsc:<reader name>`` for a PC/SC encoder), the
PSAM and the journal, and runs :class:`printers.agent.agent.Agent` against
the API at ``--api`` with the bearer token in ``--token-file`` until Ctrl-C.

The PSAM is :class:`~printers.chip.psam.SimulatedPsam` holding the master
keys of ``--psam-keys`` (a simulated outlet writes them to
``<out>/psam-keys.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from issuance.cli.common import run
from issuance.errors import InputError
from printers.agent.agent import Agent, AgentConfig, AgentEvent
from printers.agent.client import AgentClient
from printers.agent.journal import Journal
from printers.agent.outlet_sim import SimChipReader, read_keys
from printers.agent.station import ChipReader, Station, open_printer
from printers.chip.encoder import CardConnection
from printers.chip.pcsc import PcscConnection
from printers.chip.psam import SimulatedPsam
from printers.evolis.driver import EvolisPrinter

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


def reader_for(spec: str, printer_host: str, serial: str) -> ChipReader:
    kind, _, rest = spec.partition(":")
    if kind == "pcsc" and rest:
        return PcscReader(rest)
    if kind == "sim":
        host, _, port = rest.rpartition(":") if rest else (printer_host, "", str(SIM_CHIP_PORT))
        return SimChipReader(host or printer_host, int(port), serial)
    raise InputError(f"--reader must be sim[:HOST:PORT] or pcsc:<reader name>, not {spec!r}")


def describe(event: AgentEvent) -> str:
    where = f" on {event.printer}" if event.printer else ""
    job = f"job {event.job_id}" if event.job_id is not None else "agent"
    return f"{job}{where}: {event.kind.value} {event.detail}"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    a = sub.add_parser("agent", help="run the outlet agent beside a printer and its encoder")
    a.add_argument("--api", required=True, help="the service's base URL")
    a.add_argument("--token-file", type=Path, required=True, help="the agent's bearer token")
    a.add_argument("--site", required=True, help="the outlet code whose jobs to claim")
    a.add_argument("--printer", type=printer_arg, action="append", required=True)
    a.add_argument("--reader", required=True, help="sim[:HOST:PORT] or pcsc:<reader name>")
    a.add_argument("--journal", type=Path, required=True, help="the local SQLite journal")
    a.add_argument("--psam-keys", type=Path, required=True, help="the PSAM's master keys (JSON)")
    a.add_argument("--worker", default=socket.gethostname(), help="this agent's name")
    a.add_argument("--wait", type=float, default=20.0, help="long-poll seconds")
    a.set_defaults(func=lambda ns: run(run_agent(ns)))


async def _stations(ns: argparse.Namespace, psam: SimulatedPsam, journal: Journal) -> list[Station]:
    stations = []
    for i, arg in enumerate(ns.printer, start=1):
        printer: EvolisPrinter = await open_printer(arg.url)
        identity = await printer.identify()
        host = arg.url.split("://")[-1].split(":")[0] or "127.0.0.1"
        reader = reader_for(ns.reader, host, identity.serial)
        stations.append(Station(arg.name or f"printer{i}", printer, reader, psam, journal))
    return stations


async def run_agent(ns: argparse.Namespace, *, stop: asyncio.Event | None = None) -> int:
    token = ns.token_file.read_text().strip()
    psam = SimulatedPsam(read_keys(ns.psam_keys))
    config = AgentConfig(wait_seconds=ns.wait)
    with Journal(ns.journal) as journal:
        stations = await _stations(ns, psam, journal)
        client = AgentClient(ns.api, token, worker=ns.worker, site=ns.site)
        agent = Agent(client, stations, journal, config, events=lambda e: out.print(describe(e)))
        out.print(f"agent {ns.worker} for {ns.site}: {', '.join(s.name for s in stations)}")
        try:
            await _until(agent.run(), stop)
        finally:
            await client.aclose()
            for station in stations:
                await station.printer.aclose()
    return 0


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
