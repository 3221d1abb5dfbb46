"""``sscard printer job``: the exact bytes the driver would send a printer for one card.

A technician can inspect a job, or send it to a printer by hand (``nc HOST 9100 <
FILE``, ``cat FILE > /dev/usb/lp0``). ``--card`` is a card's JSON as the
simulated outlet writes it beside a printed card (``card-<n>.json``, the chip's
read-back) or as the service sends it in a job; ``--photo`` the holder's photo
(without it the photo area is left blank); ``--ribbon`` ``kb`` (resin black
only: the text) or ``ymcko`` (colour photo, black text, overlay). The file
holds the card's command sequence as :func:`printers.devices.evolis.commands.print_card_sequence`
builds it without the chip station: ``Pr``, ``Ss``, ``Sr``, the panel
downloads, ``Se``. ``--preview`` writes a PNG of what those panels print.

Every input is checked before anything is written (its size before it is read),
and the outputs are written whole or not at all; bad input exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from PIL import Image
from rich.console import Console

from intake.photo import DEFAULT_LIMITS, load_photo
from printers.devices.evolis.commands import print_card_sequence
from printers.devices.evolis.models import RibbonType
from printers.documents.face import render_face
from printers.documents.panels import CardSide, Panel
from printers.documents.raster import panels_to_png, rasterise
from sscard_core.card_data import CardData, card_data_from_json
from sscard_core.errors import InputError

out = Console(highlight=False)
MAX_CARD_BYTES = 64 * 1024  # a card's JSON is well under 1 KiB
BLANK_PHOTO = (255, 255, 255)


class JobRibbon(StrEnum):
    """The ribbons a job can be built for."""

    KB = RibbonType.KB.value
    YMCKO = RibbonType.YMCKO.value


@dataclass(frozen=True)
class Job:
    """One card's print job: its panels and the bytes that print them."""

    side: CardSide
    stream: bytes
    commands: int


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("printer", help="printer tools (print jobs as bytes)")
    tools = p.add_subparsers(dest="tool", required=True, metavar="TOOL")
    job = tools.add_parser("job", help="write the bytes the driver would send for one card")
    job.add_argument("--card", type=Path, required=True, help="the card's JSON (card-<n>.json)")
    job.add_argument("--photo", type=Path, help="the holder's photo (JPEG or PNG)")
    job.add_argument(
        "--ribbon",
        choices=[r.value for r in JobRibbon],
        required=True,
        help="kb: resin black only (the text); ymcko: colour photo, black text, overlay",
    )
    job.add_argument("--out", type=Path, required=True, help="the file for the byte stream")
    job.add_argument("--preview", type=Path, help="a PNG of what the job prints")
    job.add_argument("--colour-levels", type=int, choices=(32, 64, 128), default=32)
    job.set_defaults(func=run_job)


def _read_limited(path: Path, limit: int, what: str) -> bytes:
    """A file's bytes; its size is checked before it is read."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise InputError(f"{path}: the {what} is {size} bytes; at most {limit} are read")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the {what} {path}: {exc.strerror}", path=str(path)) from exc


def read_card(path: Path) -> CardData:
    """The card in ``path``; any problem is an InputError naming the file and the field."""
    raw = _read_limited(path, MAX_CARD_BYTES, "card file")
    try:
        body: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not JSON: {exc}", path=str(path)) from exc
    if not isinstance(body, dict):
        raise InputError(f"{path} holds no card (a JSON object with the card's fields)")
    card = body["card"] if isinstance(body.get("card"), dict) else body  # a job's payload, or flat
    return card_data_from_json(card)


def read_photo(path: Path | None) -> Image.Image:
    if path is None:
        return Image.new("RGB", (1, 1), BLANK_PHOTO)
    return load_photo(_read_limited(path, DEFAULT_LIMITS.max_bytes, "photo")).image


def build_job(
    card: CardData, photo: Image.Image, ribbon: JobRibbon, colour_levels: int = 32
) -> Job:
    """The panels of ``card`` for ``ribbon`` and the command stream that prints them."""
    full = rasterise(render_face(card, photo), colour_levels)
    side = full if ribbon is JobRibbon.YMCKO else CardSide((full.panel(Panel.K),))
    sequence = print_card_sequence(side, RibbonType(ribbon.value), park_for_chip=False)
    return Job(side, b"".join(command.encode() for command in sequence), len(sequence))


def write_whole(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, so it is whole or absent."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}", path=str(path)) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {exc.strerror}", path=str(path)) from exc


def run_job(ns: argparse.Namespace) -> int:
    card = read_card(ns.card)
    photo = read_photo(ns.photo)
    job = build_job(card, photo, JobRibbon(ns.ribbon), ns.colour_levels)
    preview = panels_to_png(job.side) if ns.preview is not None else None
    write_whole(ns.out, job.stream)
    if preview is not None:
        write_whole(ns.preview, preview)
    panels = ", ".join(p.panel.value for p in job.side.panels)
    out.print(
        f"card {card.card_number}: {job.commands} commands, {len(job.stream)} bytes "
        f"({ns.ribbon} ribbon, panels {panels}) written to {ns.out}"
    )
    if ns.preview is not None:
        out.print(f"preview: {ns.preview}")
    return 0
