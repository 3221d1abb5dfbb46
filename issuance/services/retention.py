"""How long personal data is kept, and the sweep that erases what is past its time.

Each kind has a period, in days, read from the environment (defaults in
:data:`DEFAULT_DAYS` and the README). ``sscard retention run [--dry-run]`` and
the service's maintenance loop (hourly) erase what is due, a thousand rows per
statement; the records themselves (cards, events, audit rows) stay, emptied of
the personal data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from issuance.store import Store
from sscard_core.errors import FieldError
from sscard_core.queries import load_queries

R = load_queries("issuance.store", "retention.sql")
ROWS_PER_STATEMENT = 1000


class Kind(StrEnum):
    """A kind of personal data with a retention period (the name of its statements)."""

    ENDED_CARDS = "ended_cards"
    HOLDERS = "holders"
    JOB_PAYLOADS = "job_payloads"
    BATCH_CARDS = "batch_cards"

    @property
    def variable(self) -> str:
        return f"SSCARD_RETAIN_{self.name}_DAYS"


DEFAULT_DAYS: dict[Kind, int] = {
    Kind.ENDED_CARDS: 365,
    Kind.HOLDERS: 1825,
    Kind.JOB_PAYLOADS: 30,
    Kind.BATCH_CARDS: 30,
}


@dataclass(frozen=True)
class RetentionRules:
    days: dict[Kind, int]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RetentionRules:
        env = os.environ if environ is None else environ
        days = {}
        for kind, default in DEFAULT_DAYS.items():
            text = env.get(kind.variable, "")
            try:
                value = int(text) if text else default
            except ValueError:
                raise FieldError(kind.variable, "must be a whole number of days") from None
            if not 1 <= value <= 36_500:
                raise FieldError(kind.variable, "must be between 1 and 36500 days")
            days[kind] = value
        return cls(days)

    def cutoff(self, kind: Kind, now: datetime) -> datetime:
        return now - timedelta(days=self.days[kind])


async def sweep(
    store: Store, rules: RetentionRules, *, now: datetime | None = None, dry_run: bool = False
) -> dict[Kind, int]:
    """Erase (or, with ``dry_run``, count) what is past its time; how many rows per kind."""
    at = now or datetime.now(UTC)
    done: dict[Kind, int] = {}
    async with store.connected() as db:
        conn = db.connection
        for kind in Kind:
            cutoff = rules.cutoff(kind, at)
            if dry_run:
                done[kind] = int(await conn.fetchval(R[f"count_{kind.value}"], cutoff))
                continue
            total = 0
            while n := int(
                await conn.fetchval(R[f"erase_{kind.value}"], cutoff, ROWS_PER_STATEMENT)
            ):
                total += n
            done[kind] = total
    return done
