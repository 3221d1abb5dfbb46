"""Every field a queue job is checked on is refused when bad, and named (nothing enqueued)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from cardqueue.models import MAX_KEY_LENGTH, MAX_SITE_LENGTH, NewJob
from cardqueue.validation import validate_jobs
from sscard_core.errors import InvalidJob
from sscard_core.messages import Capability, Priority

GOOD = NewJob("k", "card", "site", Capability.PRINT_ENCODE, Priority.INSTANT, {"n": 1})


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("idempotency_key", ""),
        ("idempotency_key", "k" * (MAX_KEY_LENGTH + 1)),
        ("kind", ""),
        ("kind", "x" * 65),
        ("site", ""),
        ("site", "s" * (MAX_SITE_LENGTH + 1)),
        ("capability", "print_encode"),
        ("priority", 1),
        ("payload", ["not", "an", "object"]),
        ("max_attempts", 0),
        ("max_attempts", 101),
    ],
)
def test_a_bad_field_is_refused_and_named(field: str, bad: Any) -> None:
    jobs = [GOOD, GOOD, replace(GOOD, **{field: bad}), GOOD]
    with pytest.raises(InvalidJob) as err:
        validate_jobs(jobs)
    assert err.value.fields["index"] == 2
    assert err.value.fields["field"] == field


def test_jobs_at_the_limits_pass() -> None:
    edge = replace(
        GOOD, idempotency_key="k" * MAX_KEY_LENGTH, kind="x" * 64, site="s" * MAX_SITE_LENGTH,
        max_attempts=100,
    )  # fmt: skip
    validate_jobs([GOOD, edge, replace(GOOD, max_attempts=1)])
