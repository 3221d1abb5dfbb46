"""The queue's values: frozen dataclasses (its enums are in :mod:`sscard_core.messages`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sscard_core.messages import Capability, JobState, JobStep, Priority

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
    step: JobStep
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
