"""The queue's values: enums and frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any


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


class Step(StrEnum):
    """The physical step a worker reports in its heartbeats."""

    IDLE = "idle"  # nothing physical has happened: safe to retry
    FED = "fed"  # a card body left the feeder
    ENCODING = "encoding"
    PRINTING = "printing"
    EJECTING = "ejecting"

    @property
    def physical(self) -> bool:
        return self is not Step.IDLE


class Reconciliation(StrEnum):
    """How an in-doubt job is settled, from the device's journal or a supervisor."""

    MADE = "made"  # the card was finished: the job succeeded
    NOT_STARTED = "not_started"  # nothing physical happened after all: run it again
    FAILED = "failed"  # the card was spoiled: dead-letter it for a person to decide


MAX_KEY_LENGTH = 200
MAX_SITE_LENGTH = 64


@dataclass(frozen=True)
class NewJob:
    """A job to enqueue. ``idempotency_key`` makes enqueueing safe to retry."""

    idempotency_key: str
    kind: str
    site: str
    capability: Capability
    priority: Priority = Priority.STANDARD
    payload: dict[str, Any] = field(default_factory=dict)
    batch: str | None = None
    max_attempts: int = 5


@dataclass(frozen=True)
class EnqueueResult:
    idempotency_key: str
    job_id: int
    created: bool  # False: the key was known, this is the existing job


@dataclass(frozen=True)
class Job:
    id: int
    idempotency_key: str
    kind: str
    site: str
    capability: Capability
    priority: Priority
    state: JobState
    step: Step
    payload: dict[str, Any]
    batch: str | None
    attempts: int
    max_attempts: int
    enqueued_at: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_error: str | None
    result: dict[str, Any] | None


@dataclass(frozen=True)
class SiteDepth:
    site: str
    priority: Priority
    depth: int
    oldest: datetime


@dataclass(frozen=True)
class QueueStats:
    depth: tuple[SiteDepth, ...]
    by_state: dict[JobState, int]
    oldest_age_seconds: float

    @property
    def in_doubt(self) -> int:
        return self.by_state.get(JobState.IN_DOUBT, 0)

    @property
    def dead(self) -> int:
        return self.by_state.get(JobState.DEAD, 0)


@dataclass(frozen=True)
class Backoff:
    """Retry delays: ``min(cap, base * 2**(attempt-1))``, jittered to 50-100 %."""

    base_seconds: float = 2.0
    cap_seconds: float = 300.0
