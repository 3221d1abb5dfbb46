"""Read-only views for the pages: the public directory with waits, the bureau's banks, an
outlet's desk (printers, queue, jobs in doubt, dead jobs, today's cards).

The public directory needs no sign-in: it shows only what banks publish anyway
(outlets, whether they issue on the spot) and an estimated wait. The wait for a
card made on the spot is (cards waiting or being made at the outlet + 1) x the
time per card its printers took today (from the first to the last card
finished today, so idle hours do not count); with fewer than two cards made
today there is no measure and none is invented. An outlet issues on the spot
only with at least one printer not faulted and a PSAM card on file.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

from issuance.domain.banks import INSTANT_RATIO, Outlet, OutletState, instant_ratio
from issuance.domain.identity import BeijingDistrict
from issuance.domain.roles import ALL_BANKS, Operation
from issuance.services.common import check, now
from issuance.services.ordering import MOBILE_SUFFIX
from issuance.store import Operator, OutletRecord, PrinterRecord
from issuance.store.pages import (
    BankRow,
    JobEvidence,
    MadeCard,
    PagesStore,
    SiteJob,
    SiteMade,
)
from issuance.store.records import BatchRecord
from sscard_core.errors import Forbidden
from sscard_core.messages import JobState, PrinterHealth

BEIJING = timezone(timedelta(hours=8))


def start_of_today(at: datetime | None = None) -> datetime:
    """Midnight, Beijing time, of the day ``at`` (default now) falls in, as UTC."""
    local = (at or now()).astimezone(BEIJING)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def seconds_per_card(made: SiteMade | None) -> float | None:
    """The measured time per card today, or None with fewer than two cards made."""
    if made is None or made.made < 2:
        return None
    span = (made.last - made.first).total_seconds()
    return span / (made.made - 1) if span > 0 else None


@dataclass(frozen=True)
class OutletView:
    outlet: OutletRecord
    bank_name: str
    district_label: str
    issuing_now: bool  # instant outlet with a working printer and a PSAM card
    waiting: int  # cards queued or being made on the spot
    wait_minutes: int | None  # estimated, None without a measure today
    printers: tuple[PrinterRecord, ...]


def _issuing(o: OutletRecord, printers: list[PrinterRecord]) -> bool:
    working = [p for p in printers if p.status != PrinterHealth.FAULTED]
    return o.can_issue_instantly and bool(o.psam_serial) and bool(working)


def _wait_minutes(waiting: int, per_card: float | None) -> int | None:
    if per_card is None:
        return None
    return max(1, round((waiting + 1) * per_card / 60))


async def outlet_views(store: PagesStore) -> list[OutletView]:
    """Every open outlet with its bank, district, printers and current estimated wait."""
    banks = {b.code: b.name for b in await store.banks()}
    depths = await store.site_depths()
    made = await store.site_made_since(start_of_today())
    by_site: dict[str, list[PrinterRecord]] = {}
    for p in await store.printers():
        by_site.setdefault(p.site, []).append(p)
    views = []
    for o in await store.outlets():
        if not o.open:
            continue
        printers = by_site.get(o.code, [])
        waiting = depths.get(o.code, 0)
        issuing = _issuing(o, printers)
        wait = _wait_minutes(waiting, seconds_per_card(made.get(o.code))) if issuing else None
        district = BeijingDistrict(o.district).label
        views.append(
            OutletView(
                o, banks.get(o.bank, o.bank), district, issuing, waiting, wait, tuple(printers)
            )
        )
    return views


def listed_only(views: list[OutletView], listed: Collection[str]) -> list[OutletView]:
    """The outlets of the banks on the public list (published or active, 第六条(四)); a bank
    still applying, suspended or gone is not shown to the public."""
    return [v for v in views if v.outlet.bank in listed]


async def banks(store: PagesStore) -> list[BankRow]:
    """The cooperating banks (public: they are listed to the public anyway)."""
    return await store.banks()


def search(
    views: list[OutletView], district: str | None, instant_only: bool, bank: str | None = None
) -> list[OutletView]:
    """The outlets of a district (code), of a bank, and/or issuing on the spot."""
    return [
        v
        for v in views
        if (not district or v.outlet.district == district)
        and (not instant_only or v.outlet.can_issue_instantly)
        and (not bank or v.outlet.bank == bank)
    ]


# --- the bureau ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BankShare:
    bank: BankRow
    open_outlets: int
    instant_outlets: int
    share: Fraction

    @property
    def meets(self) -> bool:
        return self.share >= INSTANT_RATIO

    @property
    def percent(self) -> float:
        return float(self.share * 100)


def _domain_outlet(o: OutletRecord) -> Outlet:
    state = OutletState.OPEN if o.open else OutletState.CLOSED
    return Outlet(
        o.code,
        o.bank,
        o.name,
        BeijingDistrict(o.district),
        o.address,
        o.can_issue_instantly,
        o.has_security_terminal,
        o.psam_serial,
        state,
    )


def check_bureau(op: Operator) -> None:
    """The bureau's pages are for the bureau's accounts: those that see every bank."""
    if op.role not in ALL_BANKS:
        raise Forbidden(f"a {op.role} does not see every bank", role=op.role.value)


async def bank_shares(store: PagesStore, op: Operator) -> list[BankShare]:
    """Each bank's share of open outlets issuing on the spot, against 70 % (第五条(四))."""
    check_bureau(op)
    outlets = await store.outlets()
    shares = []
    for bank in await store.banks():
        own = [_domain_outlet(o) for o in outlets if o.bank == bank.code]
        open_ = [o for o in own if o.is_open]
        instant = sum(o.can_issue_instantly for o in open_)
        shares.append(BankShare(bank, len(open_), instant, instant_ratio(own)))
    return shares


async def recent_batches(store: PagesStore, op: Operator) -> list[BatchRecord]:
    """The latest batches of the operator's bank (of every bank for the bureau)."""
    grant = check(op, Operation.QUERY_STATUS, op.bank)
    return await store.batches_of_bank(grant.bank)


# --- an outlet's desk ---------------------------------------------------------------------


@dataclass(frozen=True)
class Desk:
    outlet: OutletRecord
    printers: tuple[PrinterRecord, ...]
    queued: tuple[SiteJob, ...]
    running: tuple[SiteJob, ...]
    in_doubt: tuple[tuple[SiteJob, JobEvidence], ...]
    dead: tuple[tuple[SiteJob, JobEvidence], ...]
    made_today: tuple[MadeCard, ...]


async def desk(store: PagesStore, op: Operator, outlet: OutletRecord) -> Desk:
    """What a supervisor of ``outlet`` watches: printers, queue, doubtful and dead jobs."""
    check(op, Operation.LIST_JOBS, outlet.bank)
    sites = [outlet.code, outlet.code + MOBILE_SUFFIX]
    jobs = await store.jobs_of_sites(sites)
    printers = tuple(p for p in await store.printers() if p.site in sites)
    doubtful = [j for j in jobs if j.state == JobState.IN_DOUBT]
    evidence = [(j, await store.evidence(j.id)) for j in doubtful]
    dead = [(j, await store.evidence(j.id)) for j in jobs if j.state == JobState.DEAD]
    return Desk(
        outlet,
        printers,
        tuple(j for j in jobs if j.state == JobState.QUEUED),
        tuple(j for j in jobs if j.state == JobState.RUNNING),
        tuple(evidence),
        tuple(dead),
        tuple(await store.made_today(outlet.code, start_of_today())),
    )
