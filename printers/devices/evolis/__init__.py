"""Driver for Evolis card printers (Pebble, Dualys, Primacy, Zenius, Quantum, Z390-class kiosks).

The package is layered so that every part can be tested on its own:

- ``models``: printer capabilities and download sizes, as data;
- ``packing``: panel bitmaps to ``Db``/``Dbc`` bytes and back (numpy);
- ``commands``: the pure command builder and the command-stream parser;
- ``replies``: reply parsing into one ``PrinterStatus`` enum, and ``EvolisFault``;
- ``transport``: bytes over TCP or a USB printer device file;
- ``driver``: ``EvolisPrinter``, which ties the others together.
"""

from printers.devices.evolis.commands import Command, CommandName, Counter, ErrorMode, Face
from printers.devices.evolis.driver import EvolisPrinter, PrinterIdentity, RibbonState
from printers.devices.evolis.models import (
    MODELS,
    CapabilityError,
    ModelSpec,
    PrinterModel,
    RibbonType,
)
from printers.devices.evolis.replies import EvolisFault, PrinterStatus
from printers.devices.evolis.transport import TcpTransport, Transport, UsbTransport

__all__ = [
    "MODELS",
    "CapabilityError",
    "Command",
    "CommandName",
    "Counter",
    "ErrorMode",
    "EvolisFault",
    "EvolisPrinter",
    "Face",
    "ModelSpec",
    "PrinterIdentity",
    "PrinterModel",
    "PrinterStatus",
    "RibbonState",
    "RibbonType",
    "TcpTransport",
    "Transport",
    "UsbTransport",
]
