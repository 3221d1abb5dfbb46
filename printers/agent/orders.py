"""What a claimed job carries: its payload read into card and PIN orders.

The words shared with the central service (job kinds, steps, reconciliations,
printer health) are in :mod:`sscard_core.messages`; the card's JSON form is
:mod:`sscard_core.card_data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sscard_core.card_data import CardData, card_data_from_json
from sscard_core.errors import ProtocolError
from sscard_core.messages import JobKind, PrinterHealth


@dataclass(frozen=True)
class ClaimedJob:
    """One job handed to this agent by ``claim``."""

    id: int
    kind: JobKind
    priority: int
    attempts: int
    lease_seconds: float
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CardOrder:
    """The payload of a ``card`` job."""

    card_id: str
    card: CardData
    photo_url: str
    outlet: str


@dataclass(frozen=True)
class PinOrder:
    """The payload of a ``pin_change`` or ``pin_reset`` job (the PIN itself never travels)."""

    card_number: str
    operation: str


@dataclass(frozen=True)
class JobFailure:
    """The body of a ``fail`` report."""

    error: str
    transient: bool
    spoiled_card: bool
    printer: str | None


@dataclass(frozen=True)
class PrinterReport:
    """One row of the printer register."""

    name: str
    status: PrinterHealth
    fault: str | None


def card_order(job: ClaimedJob) -> CardOrder:
    """The card order a ``card`` job carries."""
    p = job.payload
    try:
        return CardOrder(
            card_id=str(p["card_id"]),
            card=card_data_from_json(p["card"]),
            photo_url=str(p["photo_url"]),
            outlet=str(p["outlet"]),
        )
    except KeyError as exc:
        raise ProtocolError(f"job {job.id}: the payload has no {exc.args[0]!r}") from exc


def pin_order(job: ClaimedJob) -> PinOrder:
    """The PIN order a ``pin_change``/``pin_reset`` job carries."""
    try:
        return PinOrder(str(job.payload["card_number"]), str(job.payload["operation"]))
    except KeyError as exc:
        raise ProtocolError(f"job {job.id}: the payload has no {exc.args[0]!r}") from exc
