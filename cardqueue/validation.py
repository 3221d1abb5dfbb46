"""Checks on jobs before they are sent to the database: a bad item is named by its index."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cardqueue.models import MAX_KEY_LENGTH, MAX_SITE_LENGTH, NewJob
from sscard_core.errors import InvalidJob
from sscard_core.messages import Capability, Priority

# (field, the check, what the field must be), in the order a bad job is reported. Each check
# runs only until one fails: a sound job (nearly all) costs seven calls and no list.
_CHECKS: tuple[tuple[str, Callable[[NewJob], bool], str], ...] = (
    ("idempotency_key", lambda j: 0 < len(j.idempotency_key) <= MAX_KEY_LENGTH,
     "1 to 200 characters"),
    ("kind", lambda j: 0 < len(j.kind) <= 64, "1 to 64 characters"),
    ("site", lambda j: 0 < len(j.site) <= MAX_SITE_LENGTH, "1 to 64 characters"),
    ("capability", lambda j: isinstance(j.capability, Capability), "a Capability"),
    ("priority", lambda j: isinstance(j.priority, Priority), "a Priority"),
    ("payload", lambda j: isinstance(j.payload, dict), "a JSON object"),
    ("max_attempts", lambda j: 0 < j.max_attempts <= 100, "1 to 100"),
)  # fmt: skip


def _problem(job: NewJob) -> tuple[str, str] | None:
    for field, ok, wanted in _CHECKS:
        if not ok(job):
            return field, wanted
    return None


def validate_jobs(jobs: Sequence[NewJob]) -> None:
    """Raise InvalidJob naming the first bad item (index and field); enqueue nothing."""
    for index, job in enumerate(jobs):
        problem = _problem(job)
        if problem is not None:
            field, wanted = problem
            raise InvalidJob(
                f"job {index} ({job.idempotency_key!r}): {field} must be {wanted}",
                index=index,
                field=field,
                idempotency_key=job.idempotency_key,
            )
