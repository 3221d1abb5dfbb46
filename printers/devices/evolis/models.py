"""What Evolis printers can do, and how big a panel download is, as data.

Two tables live here because both the driver and the simulator read them, so
the two can never disagree silently:

``MODELS``
    One frozen :class:`ModelSpec` per printer family (Pebble, Dualys, Primacy,
    Zenius, Quantum and the Z390-class kiosk): duplex, chip station, ribbons,
    feeder and hopper capacities, reject box and ``Seb`` support. The driver
    checks an operation against the model before sending it; the simulator
    behaves as the model says.

``DOWNLOAD_FORMATS``
    One :class:`DownloadFormat` per number of levels of a ``Db`` download. A
    panel is 648 dots x 1016 lines (``printers.documents.panels``), packed end to end at
    1, 5, 6 or 7 bits per dot: 82,296 / 411,480 / 493,776 / 576,072 bytes
    (a 2-level line is 81 bytes). That is what a printer reads after
    ``Db;<panel>;<levels>;``, and what the vendor's driver and independent
    drivers send. The programming guide's table prints 84,624 / 423,120 /
    507,744 / 592,368, from an arithmetic slip (648 x 1016 is 658,368 dots,
    not 676,992); those figures are kept as ``guide_bytes`` only so that the
    simulator can name the mistake when a host sends them. A printer frames a
    download by the size it expects, so any other size loses the stream: the
    simulator refuses it with the printer's parameter error.

Ribbons are :class:`RibbonType` values with a :class:`RibbonSpec`: the panels
a front face may use, the panels a back face may use, and how many panels one
card consumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from printers.documents.panels import PANEL_DOTS, PANEL_LINES, Panel
from sscard_core.errors import DeviceError

GUIDE_PANEL_DOTS = 676_992  # the guide's slip: what its data-size table corresponds to


class CapabilityError(DeviceError):
    """The printer model or its ribbon cannot do what was asked."""

    code = "printer_capability"


class RibbonType(StrEnum):
    """Ribbon codes as ``Pr`` and ``Rr`` spell them."""

    YMCKO = "ymcko"
    YMCKOS = "ymckos"  # half-panel colour
    YMCKOK = "ymckok"  # colour front, a second black panel for the back
    KB = "kb"  # black monochrome


COLOUR_SET = (Panel.Y, Panel.M, Panel.C, Panel.K, Panel.O)


@dataclass(frozen=True)
class RibbonSpec:
    """The panels of one ribbon set and what a card consumes.

    ``back`` is empty when a back face needs a whole new set (as on YMCKO);
    otherwise the set carries the back's panels too (YMCKOK's second K).
    """

    front: tuple[Panel, ...]
    back: tuple[Panel, ...] = ()

    @property
    def set_size(self) -> int:
        return len(self.front) + len(self.back)

    def panels_for_face(self, back_face: bool) -> tuple[Panel, ...]:
        return self.back if back_face and self.back else self.front

    def panels_consumed(self, faces: int) -> int:
        """Ribbon panels used by a card with ``faces`` printed faces."""
        if faces == 0:
            return 0
        return self.set_size if self.back else self.set_size * faces


RIBBONS: Mapping[RibbonType, RibbonSpec] = MappingProxyType(
    {
        RibbonType.YMCKO: RibbonSpec(front=COLOUR_SET),
        RibbonType.YMCKOS: RibbonSpec(front=COLOUR_SET),
        RibbonType.YMCKOK: RibbonSpec(front=COLOUR_SET, back=(Panel.K,)),
        RibbonType.KB: RibbonSpec(front=(Panel.K,)),
    }
)


class PrinterModel(StrEnum):
    """Printer families, spelled as ``Rtp`` answers them."""

    PEBBLE = "Pebble"
    DUALYS = "Dualys"
    PRIMACY = "Primacy"
    ZENIUS = "Zenius"
    QUANTUM = "Quantum"
    Z390_KIOSK = "Z390"


@dataclass(frozen=True)
class ModelSpec:
    """The capabilities of one printer family."""

    model: PrinterModel
    duplex: bool
    chip_station: bool
    ribbons: frozenset[RibbonType]
    feeder_capacity: int
    hopper_capacity: int
    reject_box: bool  # ``Ser`` sends the card to a reject box
    seb: bool  # ``Seb`` rejects under the feeder

    def supports(self, ribbon: RibbonType) -> bool:
        return ribbon in self.ribbons


_ALL_RIBBONS = frozenset(RibbonType)
_NO_DUAL = frozenset({RibbonType.YMCKO, RibbonType.YMCKOS, RibbonType.KB})

MODELS: Mapping[PrinterModel, ModelSpec] = MappingProxyType(
    {
        spec.model: spec
        for spec in (
            ModelSpec(PrinterModel.PEBBLE, False, True, _NO_DUAL, 100, 100, False, False),
            ModelSpec(PrinterModel.DUALYS, True, True, _ALL_RIBBONS, 100, 100, False, False),
            ModelSpec(PrinterModel.PRIMACY, True, True, _ALL_RIBBONS, 100, 100, True, True),
            ModelSpec(PrinterModel.ZENIUS, False, True, _NO_DUAL, 100, 30, False, False),
            ModelSpec(PrinterModel.QUANTUM, True, True, _ALL_RIBBONS, 500, 500, True, False),
            ModelSpec(PrinterModel.Z390_KIOSK, True, True, _ALL_RIBBONS, 200, 100, True, True),
        )
    }
)


@dataclass(frozen=True)
class DownloadFormat:
    """The size of a ``Db`` download at one number of levels."""

    levels: int
    bits_per_dot: int
    packed_bytes: int  # the panel's 648 x 1016 dots packed end to end
    guide_bytes: int  # the guide table's figure (an arithmetic slip; never sent)

    @property
    def wire_bytes(self) -> int:
        """The bytes that follow ``Db;<panel>;<levels>;``: the packed panel, nothing more."""
        return self.packed_bytes


def _packed(bits: int) -> int:
    return -(-PANEL_DOTS * PANEL_LINES * bits // 8)


DOWNLOAD_FORMATS: Mapping[int, DownloadFormat] = MappingProxyType(
    {
        2: DownloadFormat(2, 1, _packed(1), 84_624),
        32: DownloadFormat(32, 5, _packed(5), 423_120),
        64: DownloadFormat(64, 6, _packed(6), 507_744),
        128: DownloadFormat(128, 7, _packed(7), 592_368),
    }
)

DBC_LINE_BYTES = PANEL_DOTS // 8  # 81 bytes: one line of a 2-level panel
DBC_VENDOR_BYTES = PANEL_LINES * (1 + DBC_LINE_BYTES)  # 83,312: the vendor's Dbc of a panel


def download_format(levels: int) -> DownloadFormat:
    """The format for ``levels``; a :class:`CapabilityError` if there is none."""
    try:
        return DOWNLOAD_FORMATS[levels]
    except KeyError:
        raise CapabilityError(f"no bitmap download has {levels} levels", levels=levels) from None


def model_spec(model: PrinterModel) -> ModelSpec:
    return MODELS[model]
