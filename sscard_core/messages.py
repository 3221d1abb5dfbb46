"""The words the queue, the API and the outlet agent exchange, each defined once."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Priority(IntEnum):
    """Classes, served in this order; first in, first out within a class."""

    INSTANT = 0  # a person waits at the counter
    EXPEDITED = 1  # a small urgent batch (小批量加急制发卡)
    STANDARD = 2  # made later, delivered by the bank


class Capability(StrEnum):
    """What a job needs from a device."""

    PRINT = "print"
    ENCODE = "encode"
    PRINT_ENCODE = "print_encode"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    IN_DOUBT = "in_doubt"  # the worker vanished after a physical step had started
    DEAD = "dead"  # failed for good or out of attempts; can be redriven
    SUCCEEDED = "succeeded"  # finished: in history
    CANCELLED = "cancelled"  # finished: in history


class JobStep(StrEnum):
    """The physical step a worker announces in its heartbeats (before the step begins)."""

    IDLE = "idle"  # nothing physical has happened: safe to retry
    FED = "fed"  # a card body left the feeder
    ENCODING = "encoding"
    PRINTING = "printing"
    EJECTING = "ejecting"

    @property
    def physical(self) -> bool:
        return self is not JobStep.IDLE


class Reconciliation(StrEnum):
    """How an in-doubt job is settled, from the device's journal or a supervisor."""

    MADE = "made"  # the card was finished: the job succeeded
    NOT_STARTED = "not_started"  # nothing physical happened after all: run it again
    FAILED = "failed"  # the card was spoiled: dead-letter it for a person to decide


class JobKind(StrEnum):
    """What a claimed job asks of the outlet."""

    CARD = "card"
    PIN_CHANGE = "pin_change"
    PIN_RESET = "pin_reset"


class PrinterHealth(StrEnum):
    """A printer's state in the printer register."""

    OK = "ok"
    FAULTED = "faulted"
