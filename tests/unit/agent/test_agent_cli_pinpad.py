"""``sscard agent --pinpad``: which desk reader and PIN pad the options give."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from issuance.cli.agent import (
    PcscDeskReader,
    desk_reader_for,
    pin_desk,
    register,
    station_readers,
)
from printers.agent.journal import Journal
from printers.agent.pinpad import KeyboardPinPad
from printers.devices.chip.crypto import KeyUsage
from printers.devices.simulators.outlet import SimDeskReader
from printers.devices.simulators.psam import SimulatedPsam
from sscard_core.errors import InputError

KEYS = {usage: bytes(16) for usage in KeyUsage}


def parse(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    base = ["agent", "--api", "http://x", "--token-file", "t", "--site", "o1", "--printer",
            "tcp://127.0.0.1:1", "--journal", "j", "--psam-keys", "k"]  # fmt: skip
    return parser.parse_args([*base, *extra])


@pytest.mark.parametrize(
    ("spec", "reader"),
    [
        ("sim", SimDeskReader("127.0.0.1", 35964)),
        ("sim:10.0.0.7:4000", SimDeskReader("10.0.0.7", 4000)),
        ("pcsc:ACS ACR39U 00", PcscDeskReader("ACS ACR39U 00")),
    ],
)
def test_desk_readers(spec: str, reader: object) -> None:
    assert desk_reader_for(spec) == reader


@pytest.mark.parametrize("spec", ["pcsc", "usb:1", ""])
def test_a_desk_reader_that_is_neither_is_refused(spec: str) -> None:
    with pytest.raises(InputError):
        desk_reader_for(spec)


def test_no_pinpad_no_desk(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        assert pin_desk(parse("--reader", "sim"), SimulatedPsam(KEYS), journal) is None


def test_a_simulated_reader_lends_its_address_to_the_desk(tmp_path: Path) -> None:
    ns = parse("--reader", "sim:10.0.0.7:4000", "--pinpad", "sim")
    with Journal(tmp_path / "j.sqlite") as journal:
        desk = pin_desk(ns, SimulatedPsam(KEYS), journal)
    assert desk is not None
    assert desk.reader == SimDeskReader("10.0.0.7", 4000)
    assert isinstance(desk.pad, KeyboardPinPad)


def test_a_pcsc_station_needs_a_desk_reader_named(tmp_path: Path) -> None:
    ns = parse("--reader", "pcsc:Encoder 0", "--pinpad", "sim")
    with Journal(tmp_path / "j.sqlite") as journal, pytest.raises(InputError):
        pin_desk(ns, SimulatedPsam(KEYS), journal)
    named = parse("--reader", "pcsc:Encoder 0", "--pinpad", "sim", "--desk-reader", "pcsc:Desk")
    with Journal(tmp_path / "j.sqlite") as journal:
        desk = pin_desk(named, SimulatedPsam(KEYS), journal)
    assert desk is not None and desk.reader == PcscDeskReader("Desk")


def test_only_known_pinpads_are_accepted() -> None:
    with pytest.raises(SystemExit):
        parse("--reader", "sim", "--pinpad", "vendor-x")


def two_printers(*readers: str) -> argparse.Namespace:
    return parse("--printer", "p2=tcp://127.0.0.1:2", *readers)


def test_each_printer_gets_its_own_reader_in_order() -> None:
    ns = two_printers("--reader", "pcsc:Encoder 0", "--reader", "pcsc:Encoder 1")
    assert [p.name for p in ns.printer] == ["", "p2"]
    assert station_readers(ns.printer, ns.reader) == ["pcsc:Encoder 0", "pcsc:Encoder 1"]


def test_one_simulated_reader_may_serve_every_simulated_printer() -> None:
    ns = two_printers("--reader", "sim:127.0.0.1:4000")
    assert station_readers(ns.printer, ns.reader) == ["sim:127.0.0.1:4000"] * 2


@pytest.mark.parametrize(
    "readers",
    [
        ("--reader", "pcsc:Encoder 0"),  # one PC/SC reader for two printers
        ("--reader", "pcsc:Encoder 0", "--reader", "pcsc:Encoder 0"),  # the same one twice
        ("--reader", "sim", "--reader", "sim", "--reader", "sim"),  # more readers than printers
    ],
)
def test_readers_that_do_not_pair_with_the_printers_are_refused(readers: tuple[str, ...]) -> None:
    ns = two_printers(*readers)
    with pytest.raises(InputError, match="reader"):
        station_readers(ns.printer, ns.reader)
