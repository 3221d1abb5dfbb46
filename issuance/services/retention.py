"""How long personal data is kept, and the sweep that erases what is past its time.

Each kind has a period, in days, read from the environment (defaults in
:data:`DEFAULT_DAYS` and the README). ``sscard retention run [--dry-run]`` and
the service's maintenance loop (hourly) erase what is due, a thousand rows per
statement; the records themselves (cards, events, audit rows) stay, emptied of
the personal data. The same sweep deletes the sign-in attempts older than the
credential policy's failure window: past it they count towards no limit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from issuance.domain.credentials import CredentialPolicy
from issuance.domain.roles import Operation
from issuance.services.common import AuditAction, Purpose, audit, check
from issuance.store import Operator, Store
from sscard_core.errors import FieldError
from sscard_core.queries import load_queries

R = load_queries("issuance.store", "retention.sql")
FAILURE_WINDOW = CredentialPolicy().failure_window
ROWS_PER_STATEMENT = 1000


class Kind(StrEnum):
    """A kind of personal data with a retention period (the name of its statements)."""

    ENDED_CARDS = "ended_cards"
    HOLDERS = "holders"
    JOB_PAYLOADS = "job_payloads"
    BATCH_CARDS = "batch_cards"
    SIGN_IN_ATTEMPTS = "sign_in_attempts"  # kept for the failure window, not a number of days

    @property
    def variable(self) -> str:
        if self is Kind.SIGN_IN_ATTEMPTS:
            return "-"
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
    attempt_window: timedelta = FAILURE_WINDOW

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *,
        attempt_window: timedelta = FAILURE_WINDOW,
    ) -> RetentionRules:  # fmt: skip
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
        return cls(days, attempt_window)

    def kept(self, kind: Kind) -> timedelta:
        """How long ``kind`` is kept."""
        if kind is Kind.SIGN_IN_ATTEMPTS:
            return self.attempt_window
        return timedelta(days=self.days[kind])

    def cutoff(self, kind: Kind, now: datetime) -> datetime:
        return now - self.kept(kind)


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


async def run_by(
    store: Store, op: Operator, rules: RetentionRules, *, dry_run: bool
) -> dict[Kind, int]:
    """:func:`sweep` for an operator who may run it (the bureau's administrators); audited."""
    check(op, Operation.RUN_RETENTION, None)
    done = await sweep(store, rules, dry_run=dry_run)
    counts = ", ".join(f"{k.value}={n}" for k, n in done.items())
    async with store.transaction() as tx:
        detail = f"{'dry run' if dry_run else 'erased'}: {counts}"
        await audit(tx, op, Purpose.RETENTION, None, AuditAction.RUN_RETENTION, detail=detail)
    return done
