"""Retention: personal data past its period is erased (or counted, with --dry-run); live
cards and their holders are kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from issuance.cli import main
from issuance.runtime import Runtime
from issuance.services import retention
from issuance.services.retention import DEFAULT_DAYS, Kind, RetentionRules
from sscard_core.errors import FieldError
from tests.integration.api.world import World

RULES = RetentionRules(dict(DEFAULT_DAYS))


def later(days: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


async def _cancelled(world: World) -> tuple[dict[str, str], str]:
    card = await world.active()
    number = card["card_number"]
    r = await world.post("supervisor_a", f"/v1/cards/{number}/cancel")
    assert r.status_code == 200, r.text
    stored = await world.store.card_by_number(number, lock=False)
    assert stored is not None
    holder = await world.store.holder(stored.holder)
    return {"citizen_id": holder.citizen_id, "name": holder.name}, number


async def _card_row(rt: Runtime, number: str) -> tuple[str, int]:
    row = await rt.pool.fetchrow(
        "SELECT c.card_data::text AS data, octet_length(p.image) AS photo"
        " FROM cards c JOIN holder_photos p ON p.id = c.photo WHERE c.card_number = $1",
        number,
    )
    return row["data"], row["photo"]


async def test_a_cancelled_cards_data_and_photo_go_after_their_period(
    world: World, rt: Runtime
) -> None:
    person, number = await _cancelled(world)
    live = (await world.active())["card_number"]
    soon = await retention.sweep(rt.store, RULES, now=later(364))
    assert soon[Kind.ENDED_CARDS] == 0
    assert (await _card_row(rt, number))[0] != "{}"
    due = await retention.sweep(rt.store, RULES, now=later(366), dry_run=True)
    assert due[Kind.ENDED_CARDS] == 1
    assert (await _card_row(rt, number))[0] != "{}"  # a dry run changes nothing
    done = await retention.sweep(rt.store, RULES, now=later(366))
    assert done[Kind.ENDED_CARDS] == 1
    assert await _card_row(rt, number) == ("{}", 0)
    data, photo = await _card_row(rt, live)
    assert data != "{}" and photo > 0
    # the record stays, without personal data: its status can still be read
    r = await world.client.get(f"/v1/cards/{number}", headers=world.auth("clerk_a"))
    assert r.status_code == 200 and r.json()["card"]["status"] == "cancelled"
    assert person["name"]


async def test_a_holder_without_a_live_card_is_anonymised_after_the_holder_period(
    world: World, rt: Runtime
) -> None:
    person, _ = await _cancelled(world)
    kept = await world.active()
    assert (await retention.sweep(rt.store, RULES, now=later(1824)))[Kind.HOLDERS] == 0
    done = await retention.sweep(rt.store, RULES, now=later(1826))
    assert done[Kind.HOLDERS] == 1
    r = await world.post("clerk_a", "/v1/holders/lookup", {"citizen_id": person["citizen_id"]})
    assert r.status_code == 404
    row = await rt.pool.fetchrow(
        "SELECT citizen_id_index, sealed, sealed_address, anonymised_at FROM holders"
        " WHERE anonymised_at IS NOT NULL"
    )
    assert row["citizen_id_index"] is None and row["sealed"] is None
    kept_card = await world.store.card_by_number(kept["card_number"], lock=False)
    assert kept_card is not None
    assert (await world.store.holder(kept_card.holder)).name != ""
    # the same person may apply again, as a new holder
    again = await world.apply(citizen_id=person["citizen_id"], key="again")
    assert again.status_code == 201, again.text


async def test_finished_jobs_lose_their_payloads(world: World, rt: Runtime) -> None:
    await world.issued()
    assert (await retention.sweep(rt.store, RULES, now=later(29)))[Kind.JOB_PAYLOADS] == 0
    assert (await retention.sweep(rt.store, RULES, now=later(31)))[Kind.JOB_PAYLOADS] == 1
    assert await rt.pool.fetchval("SELECT payload::text FROM card_jobs_history") == "{}"


async def test_cards_of_a_finished_batch_never_made_are_erased(world: World, rt: Runtime) -> None:
    card = await world.new_card(wait=False)
    stored = await world.store.card_by_number(card["card_number"], lock=False)
    assert stored is not None
    await rt.pool.execute(
        "INSERT INTO batches (id, bank, site, submitted_by, file_kind, rows_read, accepted,"
        " rejected, status, finished_at)"
        " VALUES ('B20260101-000001', 'BKA', 'A1', 1, 'csv', 1, 1, 0, 'complete', now())"
    )
    await rt.pool.execute(
        "INSERT INTO batch_cards (card, batch, line) VALUES ($1, 'B20260101-000001', 2)",
        stored.id,
    )
    assert (await retention.sweep(rt.store, RULES, now=later(29)))[Kind.BATCH_CARDS] == 0
    assert (await retention.sweep(rt.store, RULES, now=later(31)))[Kind.BATCH_CARDS] == 1
    assert (await _card_row(rt, card["card_number"])) == ("{}", 0)


def test_periods_come_from_the_environment_and_bad_ones_are_refused() -> None:
    rules = RetentionRules.from_env({"SSCARD_RETAIN_HOLDERS_DAYS": "3650"})
    assert rules.days[Kind.HOLDERS] == 3650
    assert rules.days[Kind.ENDED_CARDS] == DEFAULT_DAYS[Kind.ENDED_CARDS]
    for bad in ("0", "ten", "-5"):
        with pytest.raises(FieldError) as caught:
            RetentionRules.from_env({"SSCARD_RETAIN_JOB_PAYLOADS_DAYS": bad})
        assert caught.value.fields["field"] == "SSCARD_RETAIN_JOB_PAYLOADS_DAYS"


async def test_the_command_erases_what_is_due_and_its_dry_run_does_not(
    world: World, rt: Runtime, db_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.issued()
    await rt.pool.execute("UPDATE card_jobs_history SET finished_at = now() - interval '40 days'")
    monkeypatch.setenv("SSCARD_DATABASE_URL", db_dsn)
    monkeypatch.setenv("SSCARD_DATA_DIR", str(rt.settings.data_dir))
    assert await asyncio.to_thread(main, ["retention", "run", "--dry-run"]) == 0
    assert await rt.pool.fetchval("SELECT payload::text FROM card_jobs_history") != "{}"
    assert await asyncio.to_thread(main, ["retention", "run"]) == 0
    assert await rt.pool.fetchval("SELECT payload::text FROM card_jobs_history") == "{}"


async def test_sign_in_attempts_past_the_failure_window_are_pruned(
    world: World, rt: Runtime
) -> None:
    for name in ("old-a", "old-b", "fresh"):
        await rt.pool.execute(
            "INSERT INTO sign_in_attempts (name, address, succeeded)"
            " VALUES ($1, '10.0.0.1', false)",
            name,
        )
    await rt.pool.execute(
        "UPDATE sign_in_attempts SET at = now() - interval '16 minutes' WHERE name LIKE 'old-%'"
    )
    now = datetime.now(UTC)
    due = await retention.sweep(rt.store, RULES, now=now, dry_run=True)
    assert due[Kind.SIGN_IN_ATTEMPTS] == 2
    assert await rt.pool.fetchval("SELECT count(*) FROM sign_in_attempts") == 3
    done = await retention.sweep(rt.store, RULES, now=now)
    assert done[Kind.SIGN_IN_ATTEMPTS] == 2
    left = await rt.pool.fetch("SELECT name FROM sign_in_attempts")
    assert [r["name"] for r in left] == ["fresh"]
