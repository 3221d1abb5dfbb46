"""Submitting batches through the API: accepted, rejected, partial, hostile archives."""

from __future__ import annotations

import io
import zipfile

import pytest

from issuance.domain.cards import CardStatus
from issuance.services import batches
from issuance.services.batches import line_site
from sscard_core.messages import JobState, Priority
from tests.integration.api.world import BANK_A, World
from tests.integration.batches.helpers import batch_people, submit, table_count
from tests.unit.batches.builders import batch_csv, inline, jpeg, with_name


async def test_a_csv_batch_with_a_zip_is_enqueued_in_one_go(world: World) -> None:
    persons = batch_people(25)
    r = await submit(world, persons)
    assert r.status_code == 201, r.text
    body = r.json()
    batch = body["batch"]
    assert body["errors"] == []
    assert (batch["rows_read"], batch["accepted"], batch["rejected"]) == (25, 25, 0)
    assert batch["site"] == line_site(BANK_A)
    counts = await world.queue.batch_counts(batch["id"])
    assert sum(counts.values()) == 25
    assert {state for state, _ in counts} == {JobState.QUEUED}
    for p in persons:
        holder = await world.store.holder_by_citizen_id(p.citizen_id)
        assert holder is not None and holder.name == p.name
        (card,) = await world.store.cards_of_holder(holder.id)
        assert card.status is CardStatus.IN_PRODUCTION
        assert card.job_id is not None
        job = await world.queue.get(card.job_id)
        assert (job.priority, job.batch, job.site) == (
            Priority.EXPEDITED,
            batch["id"],
            batch["site"],
        )
        assert job.payload["card"]["citizen_id"] == p.citizen_id
        events = await world.store.events_of_card(card.id)
        assert [(e.action, e.from_status, e.to_status) for e in events] == [
            ("order", None, "requested"),
            ("start_production", "requested", "in_production"),
        ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
async def test_every_encoding_round_trips(world: World, encoding: str) -> None:
    names = ["欧阳娜娜", "张伟", "阿依古丽·买买提", "司马懿"]
    persons = [with_name(p, n) for p, n in zip(batch_people(4, seed=9), names, strict=True)]
    text = batch_csv(persons)
    data = ("\ufeff" + text).encode("utf-8") if encoding == "utf-8-sig" else text.encode(encoding)
    files = {
        "file": ("b.csv", data, "text/csv"),
        "photos": ("p.zip", _zip(persons), "application/zip"),
    }
    params = {"encoding": encoding} if encoding == "gbk" else {}
    r = await world.client.post(
        "/v1/batches", files=files, params=params, headers=world.auth("clerk_a")
    )
    assert r.status_code == 201, r.text
    for p in persons:
        holder = await world.store.holder_by_citizen_id(p.citizen_id)
        assert holder is not None and holder.name == p.name


def _zip(persons: list) -> bytes:  # type: ignore[type-arg]
    from tests.unit.batches.builders import photo_zip

    return photo_zip(persons)


async def test_a_json_batch_with_inline_photos(world: World) -> None:
    persons = batch_people(5, seed=3)
    body = {"applicants": [inline(p) for p in persons]}
    r = await world.client.post("/v1/batches", json=body, params={"site": "A2"},
                                headers=world.auth("clerk_a"))  # fmt: skip
    assert r.status_code == 201, r.text
    batch = r.json()["batch"]
    assert (batch["file_kind"], batch["accepted"], batch["site"]) == ("json", 5, "A2")


async def test_a_malformed_file_gives_row_numbered_errors_and_writes_nothing(
    world: World,
) -> None:
    persons = batch_people(6, seed=4)
    text = batch_csv(persons).splitlines()
    text[2] = text[2].replace(",1,", ",99,")  # ethnicity out of range on line 3
    text[4] = ",".join(text[4].split(",")[:3])  # truncated row on line 5
    files = {"file": ("b.csv", "\r\n".join(text).encode(), "text/csv"),
             "photos": ("p.zip", _zip(persons), "application/zip")}  # fmt: skip
    r = await world.client.post("/v1/batches", files=files, headers=world.auth("clerk_a"))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "batch_rejected"
    found = {(e["line"], e["code"]) for e in body["errors"]}
    assert (3, "invalid_ethnicity") in found
    assert any(line == 5 for line, _ in found)
    assert all(set(e) >= {"line", "field", "code", "message"} for e in body["errors"])
    for table in ("cards", "card_jobs", "holders", "holder_photos", "batches"):
        assert await table_count(world, table) == 0, table


def _hostile(persons: list) -> bytes:  # type: ignore[type-arg]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for p in persons:
            archive.writestr(p.photo, jpeg())
        archive.writestr("../../etc/evil.jpg", jpeg())
    return out.getvalue()


async def test_a_hostile_zip_is_refused_with_422(world: World) -> None:
    persons = batch_people(3, seed=6)
    r = await submit(world, persons, archive=_hostile(persons))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "archive_refused"
    assert await table_count(world, "card_jobs") == 0
    assert await table_count(world, "cards") == 0


async def test_partial_mode_enqueues_the_valid_rows_and_returns_the_rest(world: World) -> None:
    persons = batch_people(5, seed=8)
    persons[1] = with_name(persons[1], "")
    r = await submit(world, persons, params={"partial": "true"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["batch"]["accepted"] == 4
    assert body["batch"]["rejected"] == 1
    assert [(e["line"], e["field"], e["code"]) for e in body["errors"]] == [(3, "name", "required")]
    assert await table_count(world, "card_jobs") == 4


async def test_duplicates_and_holders_of_active_cards_are_flagged(world: World) -> None:
    active = await world.active()
    holder = await world.store.card_by_number(active["card_number"])
    assert holder is not None
    citizen = (await world.store.holder(holder.holder)).citizen_id
    persons = batch_people(4, seed=10)
    from dataclasses import replace

    persons[1] = replace(
        persons[1],
        citizen_id=citizen,
        name="张三",
        gender="男" if int(citizen[16]) % 2 else "女",
        birth_date=f"{citizen[6:10]}-{citizen[10:12]}-{citizen[12:14]}",
    )
    persons.append(replace(persons[2], photo="photos/dup.jpg"))
    r = await submit(world, persons)
    assert r.status_code == 422, r.text
    found = {(e["line"], e["code"]) for e in r.json()["errors"]}
    assert found == {(3, "active_card"), (6, "duplicate_in_batch")}
    assert await table_count(world, "batches") == 0


async def test_an_unknown_site_is_refused(world: World) -> None:
    r = await submit(world, batch_people(2), params={"site": "B1"})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["site"]


async def test_a_late_bad_row_rolls_back_the_chunks_already_written(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[int] = []
    store = batches._Writer.store

    async def counting(self: batches._Writer, prepared: batches._Prepared) -> None:
        await store(self, prepared)
        written.append(len(prepared.applicants))

    monkeypatch.setattr(batches._Writer, "store", counting)
    persons = batch_people(1_300, seed=30)
    persons[-1] = with_name(persons[-1], "")
    r = await submit(world, persons)
    assert r.status_code == 422, r.text
    assert written == [250, 1_000]  # both chunks were written before the bad row was read
    assert [(e["line"], e["code"]) for e in r.json()["errors"]] == [(1_301, "required")]
    for table in ("cards", "card_jobs", "card_job_keys", "holders", "holder_photos", "batches",
                  "batch_cards", "card_events", "audit_log", "photo_uploads"):  # fmt: skip
        assert await table_count(world, table) == 0, table


async def test_a_large_partial_batch_checked_in_worker_processes(world: World) -> None:
    persons = batch_people(1_200, seed=31)
    for index in (10, 640, 1_150):
        persons[index] = with_name(persons[index], "")
    r = await submit(world, persons, params={"partial": "true"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["batch"]["accepted"], body["batch"]["rejected"]) == (1_197, 3)
    assert [(e["line"], e["code"]) for e in body["errors"]] == [
        (12, "required"),
        (642, "required"),
        (1_152, "required"),
    ]
    for table in ("cards", "card_jobs", "holders", "holder_photos", "batch_cards"):
        assert await table_count(world, table) == 1_197, table
