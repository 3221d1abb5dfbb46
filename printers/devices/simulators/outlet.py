"""A simulated outlet: printers, chip stations, a PSAM and a stock of blank cards.

:class:`SimulatedOutlet` starts N :class:`~printers.devices.simulators.evolis.EvolisSimulator`
printers on loopback TCP (each with its own serial number and its own output
directory for ``card-<n>.png``) and one *chip service*, also on loopback
TCP, that plays the chip stations of all of them.

Chip stations. Each printer has its own chip station, a reader of its own
on its own loopback port (:meth:`SimulatedOutlet.reader`), as each printer of
an outlet has its own PC/SC encoder; the outlet's shared chip service
(``chip_port``) also reaches every station by printer serial, and the
counter's desk reader. When a printer parks a card (``Sis``), the outlet takes a
body from its :class:`BlankStock` and puts it under that printer's contacts.
The agent reaches it with :class:`ChipStationConnection`, which speaks the
vpcd framing of :mod:`printers.devices.simulators.vicc` (2-byte length, then a control
code or an APDU) preceded by one simulation message, ``BIND``: the printer's
serial and the card identifier the job expects. A real outlet's blanks come
from the manufacturer already initialised with identifiers allocated to the
issuer; the simulated stock initialises each body on demand with the
identifier the job names (:meth:`~printers.devices.simulators.chip_card.SimulatedCard.issue_blank`),
so the encoder's check that the card is the job's still runs for real. A
body can carry an injected chip defect (:meth:`BlankStock.defect_next`:
a failing write, a mute chip, a foreign card, a card that is not blank), and
a station's reader can be made blind (:meth:`SimulatedOutlet.blind_reader`:
it sees no card under the contacts).

The counter's desk reader (PIN services). :meth:`SimulatedOutlet.present`
puts a card the outlet made into the desk reader, as the holder would. An
agent in this process reads it through :meth:`SimulatedOutlet.connection`;
an agent in another process through :class:`SimDeskReader`, whose sessions
open with the simulation message ``DESK`` instead of ``BIND``.

The PSAM's master keys are random per outlet and written to
``psam-keys.json`` (mode 0600) so that an agent in another process can hold
the matching :class:`~printers.devices.chip.psam.SimulatedPsam`.

Read-back archive. A watcher notices each card a printer ejects and writes
``card-<n>.json`` next to its PNG: the chip's EF05/EF06 decoded from the
body that was under the contacts, so what was printed and what was encoded
can be compared after the fact (:meth:`SimulatedOutlet.cards`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from printers.devices.chip.crypto import KeyUsage
from printers.devices.chip.encoder import CardConnection, ChipEncoder
from printers.devices.chip.status import CardMute, NoCardInReader, ReaderFault, ReaderUnavailable
from printers.devices.evolis.commands import Face
from printers.devices.evolis.models import PrinterModel
from printers.devices.simulators import vicc
from printers.devices.simulators.chip_card import CardFaults, InProcessConnection, SimulatedCard
from printers.devices.simulators.evolis import (
    CardEvent,
    EvolisSimulator,
    PrinterMachine,
    SimConfig,
    card_png_path,
)
from printers.devices.simulators.psam import SimulatedPsam
from sscard_core.card_data import CardData, card_data_from_json, card_data_to_json
from sscard_core.errors import ProtocolError, TransportError

BIND = 0x10
DESK = 0x11
BOUND = b"\x01"
NO_CARD = b"\x00"
KEYS_FILE = "psam-keys.json"
DEMO_TIMINGS = SimConfig(side_seconds=(1.5, 2.5), motion_seconds=0.4, time_scale=1.0)


def bind_message(serial: str, card_identifier: str) -> bytes:
    return bytes([BIND]) + f"{serial}\x00{card_identifier}".encode("ascii")


def parse_bind(payload: bytes) -> tuple[str, str]:
    try:
        serial, identifier = payload[1:].decode("ascii").split("\x00")
    except ValueError as exc:
        raise ProtocolError("a BIND message that is not serial NUL identifier") from exc
    return serial, identifier


def write_keys(path: Path, keys: dict[KeyUsage, bytes]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({usage.name: key.hex() for usage, key in keys.items()}, out)


def read_keys(path: Path) -> dict[KeyUsage, bytes]:
    """The master keys an outlet wrote (for the agent's simulated PSAM)."""
    rows = json.loads(path.read_text())
    return {KeyUsage[name]: bytes.fromhex(key) for name, key in rows.items()}


class BlankStock:
    """Blank card bodies; each may carry a chip defect."""

    def __init__(self, count: int) -> None:
        self.left = count
        self._defects: deque[CardFaults] = deque()

    def defect_next(self, faults: CardFaults) -> None:
        """The next body taken has this chip defect."""
        self._defects.append(faults)

    def take(self) -> CardFaults:
        if self.left <= 0:
            raise TransportError("the outlet has no blank cards left")
        self.left -= 1
        return self._defects.popleft() if self._defects else CardFaults()


@dataclass
class Body:
    """A body that left a feeder: its defect and, once bound, its chip."""

    printer: str
    number: int
    faults: CardFaults
    chip: SimulatedCard | None = None
    identifier: str | None = None  # the card identifier its chip was issued with


@dataclass(frozen=True)
class OutletCard:
    """A card a printer ejected to its hopper."""

    printer: str
    number: int
    png: Path
    chip: CardData | None


@dataclass
class _Printer:
    name: str
    sim: EvolisSimulator
    out_dir: Path
    parked: Body | None = None
    bodies: dict[int, Body] = field(default_factory=dict)
    archived: int = 0
    station: asyncio.Server | None = None  # this printer's own chip reader
    blind: bool = False  # the reader sees no card


class ChipStationConnection:
    """A :class:`~printers.devices.chip.encoder.CardConnection` to a simulated outlet's chip
    station.

    ``bind`` is the session's first message: :func:`bind_message` for a
    printer's station (the default), ``DESK`` for the counter's desk reader.
    """

    def __init__(
        self, host: str, port: int, serial: str, card_identifier: str, *, bind: bytes = b""
    ) -> None:
        self.address = (host, port)
        self._bind = bind or bind_message(serial, card_identifier)
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def _ask(self, payload: bytes) -> bytes:
        if self._streams is None:
            raise ReaderFault("no chip station session: connect first")
        reader, writer = self._streams
        try:
            writer.write(vicc.frame(payload))
            await writer.drain()
            return await vicc.read_message(reader)
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise ReaderFault("the chip station closed the connection") from exc

    async def connect(self) -> None:
        try:
            self._streams = await asyncio.open_connection(*self.address)
        except OSError as exc:
            raise ReaderUnavailable(f"cannot reach the chip station at {self.address}") from exc
        try:
            if await self._ask(self._bind) != BOUND:
                raise NoCardInReader("the reader sees no card under the chip contacts")
            if not await self._ask(bytes([vicc.Control.GET_ATR])):
                raise CardMute("the card gave no ATR")
        except BaseException:
            await self.disconnect()
            raise

    async def transmit(self, apdu: bytes) -> bytes:
        return await self._ask(apdu)

    async def disconnect(self) -> None:
        streams, self._streams = self._streams, None
        if streams is not None:
            streams[1].close()
            with contextlib.suppress(OSError):
                await streams[1].wait_closed()


@dataclass(frozen=True)
class SimChipReader:
    """The chip station of one simulated printer (by its serial), over TCP."""

    host: str
    port: int
    serial: str

    def connection(self, card_identifier: str) -> CardConnection:
        return ChipStationConnection(self.host, self.port, self.serial, card_identifier)


@dataclass(frozen=True)
class SimDeskReader:
    """The counter's desk reader of a simulated outlet (a ``DeskReader``), over TCP."""

    host: str
    port: int

    def connection(self) -> CardConnection:
        return ChipStationConnection(self.host, self.port, "", "", bind=bytes([DESK]))


class Ledger:
    """The printers' own durable record of every card body: one JSON line per event.

    Each line is on disk (``fsync``) before the printer answers the command that
    caused it, so it survives a SIGKILL: ``{"printer", "event", "n", "identifier"}``
    (``n`` the body's number on that printer, ``identifier`` the card identifier its
    chip was issued with, once bound). ``bound`` lines tie a body to its chip.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lines = self.read(path)
        self._file = path.open("a", encoding="utf-8")

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        """Every complete line of the ledger at ``path`` (a torn last line is skipped)."""
        if not path.exists():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                rows.append(json.loads(line))
        return rows

    def _append(self, row: dict[str, Any]) -> None:
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def write(self, printer: str, event: CardEvent, number: int, identifier: str | None) -> None:
        self._append({"printer": printer, "event": event.value, "n": number, "id": identifier})

    def bound(self, printer: str, number: int, identifier: str) -> None:
        self._append({"printer": printer, "event": "bound", "n": number, "id": identifier})

    def restore(self, printer: str, machine: PrinterMachine, stock: BlankStock) -> None:
        """Bring ``printer`` back from a power cut as its ledger lines say it was."""
        rows = [r for r in self._lines if r.get("printer") == printer]
        count = {e: sum(1 for r in rows if r.get("event") == e) for e in CardEvent}
        fed = count[CardEvent.FED]
        if not fed:
            return
        ends = {CardEvent.EJECTED.value, CardEvent.REJECTED.value, CardEvent.REMOVED.value}
        inside = not any(r.get("n") == fed and r.get("event") in ends for r in rows)
        machine.power_on_after_loss(fed, count[CardEvent.PRINTING], count[CardEvent.REJECTED],
                                    inside)  # fmt: skip
        stock.left -= fed


class SimulatedOutlet:
    """N printers, their chip stations, a PSAM and blank cards; see the module docstring."""

    def __init__(
        self,
        out_dir: Path,
        *,
        printers: int = 2,
        blanks: int = 500,
        config: SimConfig | None = None,
        host: str = "127.0.0.1",
        chip_port: int = 0,
        names: tuple[str, ...] = (),
        printer_port: int = 0,
        master_keys: dict[KeyUsage, bytes] | None = None,
        ledger: Path | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.host = host
        self.stock = BlankStock(blanks)
        self.master_keys = master_keys or {usage: os.urandom(16) for usage in KeyUsage}
        self.psam = SimulatedPsam(self.master_keys)
        base = config or DEMO_TIMINGS
        names = names or tuple(f"p{i + 1}" for i in range(printers))
        self._printers = {
            name: _Printer(name, self._simulator(base, i, d, printer_port), d)
            for i, name in enumerate(names, start=1)
            for d in (out_dir / name,)
        }
        self.ledger = None if ledger is None else Ledger(ledger)
        self._chip_port = chip_port
        self._chip_server: asyncio.Server | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self.desk_card: SimulatedCard | None = None
        self._issued: dict[str, SimulatedCard] = {}

    @staticmethod
    def _simulator(base: SimConfig, i: int, out_dir: Path, port: int) -> EvolisSimulator:
        config = base if base.serial != SimConfig.serial else replace(base, serial=f"SIM{i:07d}")
        return EvolisSimulator(config, out_dir=out_dir, port=port)

    @property
    def names(self) -> list[str]:
        return list(self._printers)

    def simulator(self, name: str) -> EvolisSimulator:
        return self._printers[name].sim

    def printer_url(self, name: str) -> str:
        return f"tcp://{self.host}:{self._printers[name].sim.port}"

    @property
    def chip_port(self) -> int:
        if self._chip_server is None:
            raise TransportError("the outlet is not running")
        return int(self._chip_server.sockets[0].getsockname()[1])

    @property
    def keys_path(self) -> Path:
        return self.out_dir / KEYS_FILE

    def station_port(self, name: str) -> int:
        """The port of printer ``name``'s own chip reader."""
        server = self._printers[name].station
        if server is None:
            raise TransportError("the outlet is not running")
        return int(server.sockets[0].getsockname()[1])

    def reader(self, name: str) -> SimChipReader:
        """Printer ``name``'s own chip reader."""
        serial = self._printers[name].sim.machine.config.serial
        return SimChipReader(self.host, self.station_port(name), serial)

    def reader_spec(self, name: str) -> str:
        """``--reader`` for printer ``name`` in ``sscard agent``."""
        return f"sim:{self.host}:{self.station_port(name)}"

    def blind_reader(self, name: str, blind: bool = True) -> None:
        """Printer ``name``'s reader sees no card under its contacts (or sees again)."""
        self._printers[name].blind = blind

    async def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        write_keys(self.keys_path, self.master_keys)
        for printer in self._printers.values():
            printer.sim.machine.on_park.append(self._on_park(printer))
            if self.ledger is not None:
                self.ledger.restore(printer.name, printer.sim.machine, self.stock)
                printer.sim.machine.on_event.append(self._record(printer, self.ledger))
            await printer.sim.start()
            printer.station = await asyncio.start_server(
                self._station_server(printer), self.host, 0
            )
        self._chip_server = await asyncio.start_server(self._serve, self.host, self._chip_port)
        self._watcher = asyncio.create_task(self._watch())

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._chip_server is not None:
            self._chip_server.close()
            self._chip_server = None
        for printer in self._printers.values():
            if printer.station is not None:
                printer.station.close()
                printer.station = None
            await printer.sim.aclose()
        for session in list(self._sessions):
            session.cancel()
        await asyncio.gather(*self._sessions, return_exceptions=True)

    def _record(self, printer: _Printer, ledger: Ledger) -> Callable[[CardEvent, int], None]:
        def record(event: CardEvent, number: int) -> None:
            body = printer.bodies.get(number)
            identifier = None if body is None else body.identifier
            ledger.write(printer.name, event, number, identifier)

        return record

    def _on_park(self, printer: _Printer) -> Callable[[int], None]:
        def parked(number: int) -> None:
            body = Body(printer.name, number, self.stock.take())
            printer.bodies[number] = body
            printer.parked = body

        return parked

    # --- the chip service ---------------------------------------------------------------

    def _by_serial(self, serial: str) -> _Printer:
        for printer in self._printers.values():
            if printer.sim.machine.config.serial == serial:
                return printer
        if len(self._printers) == 1:  # a printer's own chip station: the card under it
            return next(iter(self._printers.values()))
        raise ProtocolError(f"no printer with serial {serial}")

    def _bind(self, payload: bytes, only: _Printer | None = None) -> SimulatedCard | None:
        serial, identifier = parse_bind(payload)
        printer = self._by_serial(serial)
        if only is not None and printer is not only:
            raise ProtocolError(f"this reader is {only.name}'s, not printer {serial}'s")
        body = printer.parked
        if body is None or not printer.sim.card_parked or printer.blind:
            return None
        if body.chip is None:
            body.chip = SimulatedCard.issue_blank(self.master_keys, identifier, faults=body.faults)
            body.identifier = identifier
            if self.ledger is not None:
                self.ledger.bound(printer.name, body.number, identifier)
        body.chip.reset()
        return body.chip

    def _desk(self) -> SimulatedCard | None:
        if self.desk_card is not None:
            self.desk_card.reset()
        return self.desk_card

    def _station_server(
        self, printer: _Printer
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(reader, writer, only=printer)

        return serve

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        only: _Printer | None = None,
    ) -> None:
        card: SimulatedCard | None = None
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        try:
            while True:
                payload = await vicc.read_message(reader)
                if payload[:1] in (bytes([BIND]), bytes([DESK])):
                    card = self._bind(payload, only) if payload[0] == BIND else self._desk()
                    answer: bytes | None = NO_CARD if card is None else BOUND
                elif card is None:
                    answer = b""
                else:
                    answer = vicc.handle(card, payload)
                writer.write(vicc.frame(answer or b""))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ProtocolError):
            pass
        finally:
            if task is not None:
                self._sessions.discard(task)
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    # --- the read-back archive ----------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            for printer in self._printers.values():
                await self._archive(printer)
            await asyncio.sleep(0.05)

    async def _archive(self, printer: _Printer) -> None:
        for card in printer.sim.printed[printer.archived :]:
            body = printer.bodies.get(card.number)
            chip = None
            if body is not None and body.chip is not None:
                chip = await ChipEncoder(InProcessConnection(body.chip), self.psam).read_card()
                self._issued[chip.card_number] = body.chip
            path = card_png_path(printer.out_dir, card.number, Face.FRONT).with_suffix(".json")
            text = json.dumps(None if chip is None else card_data_to_json(chip), ensure_ascii=False)
            path.write_text(text)
            printer.archived += 1

    def cards(self) -> list[OutletCard]:
        """Every card ejected so far (and archived), printer by printer."""
        out: list[OutletCard] = []
        for printer in self._printers.values():
            for card in printer.sim.printed[: printer.archived]:
                png = card_png_path(printer.out_dir, card.number, Face.FRONT)
                body = json.loads(png.with_suffix(".json").read_text())
                chip = None if body is None else card_data_from_json(body)
                out.append(OutletCard(printer.name, card.number, png, chip))
        return out

    def cards_for(self, card_identifier: str) -> list[OutletCard]:
        """The ejected cards whose chip carries ``card_identifier``."""
        return [c for c in self.cards() if c.chip and c.chip.card_identifier == card_identifier]

    def rejected(self) -> int:
        """Bodies in the reject boxes of all printers."""
        return sum(p.sim.machine.reject_box for p in self._printers.values())

    # --- the counter's desk reader (PIN services) -------------------------------------

    def present(self, card_number: str) -> None:
        """The holder puts the card this outlet made with ``card_number`` in the desk reader."""
        chip = self._issued.get(card_number)
        if chip is None:
            raise TransportError(f"this outlet made no card {card_number}")
        self.desk_card = chip

    def connection(self) -> CardConnection:
        """The desk reader (a :class:`~printers.agent.pinpad.DeskReader`)."""
        if self.desk_card is None:
            raise NoCardInReader("no card in the desk reader")
        return InProcessConnection(self.desk_card)


# --- one printer with its own chip station, as a process of its own ------------------------


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="One simulated Evolis printer with its own chip station and durable ledger."
    )
    parser.add_argument("--name", default="p1")
    parser.add_argument("--serial", required=True)
    parser.add_argument("--port", type=int, required=True, help="the printer's TCP port")
    parser.add_argument("--chip-port", type=int, required=True, help="its chip station's port")
    parser.add_argument("--keys", type=Path, required=True, help="the PSAM master keys (JSON)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--ledger", type=Path, required=True)
    parser.add_argument("--blanks", type=int, default=10_000)
    parser.add_argument("--model", type=PrinterModel, default=PrinterModel.QUANTUM)
    parser.add_argument("--side-seconds", type=float, default=0.2)
    parser.add_argument("--motion-seconds", type=float, default=0.05)
    return parser.parse_args(argv)


async def _serve_one(args: argparse.Namespace) -> None:
    side = (args.side_seconds, args.side_seconds)
    config = SimConfig(
        model=args.model, side_seconds=side, motion_seconds=args.motion_seconds, serial=args.serial
    )
    outlet = SimulatedOutlet(
        args.out, names=(args.name,), blanks=args.blanks, config=config,
        chip_port=args.chip_port, printer_port=args.port, master_keys=read_keys(args.keys),
        ledger=args.ledger,
    )  # fmt: skip
    async with outlet:
        print(
            f"printer {args.name} ({args.serial}) on {args.port}, chip {args.chip_port}", flush=True
        )
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_one(_arguments(argv)))


if __name__ == "__main__":
    main()
