"""Checks on jobs before they are sent to the database: a bad item is named by its index."""

from __future__ import annotations

from collections.abc import Sequence

from cardqueue.models import MAX_KEY_LENGTH, MAX_SITE_LENGTH, NewJob
from sscard_core.errors import InvalidJob
from sscard_core.messages import Capability, Priority


def _problem(job: NewJob) -> tuple[str, str] | None:
    checks: tuple[tuple[str, bool, str], ...] = (
        ("idempotency_key", 0 < len(job.idempotency_key) <= MAX_KEY_LENGTH, "1 to 200 characters"),
        ("kind", 0 < len(job.kind) <= 64, "1 to 64 characters"),
        ("site", 0 < len(job.site) <= MAX_SITE_LENGTH, "1 to 64 characters"),
        ("capability", isinstance(job.capability, Capability), "a Capability"),
        ("priority", isinstance(job.priority, Priority), "a Priority"),
        ("payload", isinstance(job.payload, dict), "a JSON object"),
        ("max_attempts", 0 < job.max_attempts <= 100, "1 to 100"),
    )
    for field, ok, wanted in checks:
        if not ok:
            return field, wanted
    return None


def _sound(job: NewJob) -> bool:
    """True when :func:`_problem` would find nothing (the common case, checked without a list)."""
    return (
        0 < len(job.idempotency_key) <= MAX_KEY_LENGTH
        and 0 < len(job.kind) <= 64
        and 0 < len(job.site) <= MAX_SITE_LENGTH
        and isinstance(job.capability, Capability)
        and isinstance(job.priority, Priority)
        and isinstance(job.payload, dict)
        and 0 < job.max_attempts <= 100
    )


def validate_jobs(jobs: Sequence[NewJob]) -> None:
    """Raise InvalidJob naming the first bad item (index and field); enqueue nothing."""
    for index, job in enumerate(jobs):
        if _sound(job):
            continue
        problem = _problem(job)
        if problem is not None:
            field, wanted = problem
            raise InvalidJob(
                f"job {index} ({job.idempotency_key!r}): {field} must be {wanted}",
                index=index,
                field=field,
                idempotency_key=job.idempotency_key,
            )
