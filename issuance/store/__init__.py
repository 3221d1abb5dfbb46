"""The counter service's records in PostgreSQL: one repository class over named queries."""

from issuance.store.records import (
    AuditFilter,
    AuditRow,
    CardRecord,
    Credentials,
    EventRecord,
    HolderRecord,
    IssuedToken,
    Operator,
    OutletRecord,
    PrinterRecord,
    PsamMove,
    PsamRecord,
    ReconciliationRecord,
    StockRequestRecord,
    StoredResponse,
    TerminalRecord,
)
from issuance.store.store import Store

__all__ = [
    "AuditFilter",
    "AuditRow",
    "CardRecord",
    "Credentials",
    "EventRecord",
    "HolderRecord",
    "IssuedToken",
    "Operator",
    "OutletRecord",
    "PrinterRecord",
    "PsamMove",
    "PsamRecord",
    "ReconciliationRecord",
    "StockRequestRecord",
    "Store",
    "StoredResponse",
    "TerminalRecord",
]
