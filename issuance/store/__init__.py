"""The counter service's records in PostgreSQL: one repository class over named queries."""

from issuance.store.records import (
    CardRecord,
    EventRecord,
    HolderRecord,
    Operator,
    OutletRecord,
    PrinterRecord,
    PrintRecord,
    PrintSettled,
    StoredResponse,
)
from issuance.store.store import Store

__all__ = [
    "CardRecord",
    "EventRecord",
    "HolderRecord",
    "Operator",
    "OutletRecord",
    "PrintRecord",
    "PrintSettled",
    "PrinterRecord",
    "Store",
    "StoredResponse",
]
