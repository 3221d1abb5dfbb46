"""Personal data is sealed at rest: the database's own tables, read directly, hold no
citizen ID, name or phone of the holders made through the API."""

from __future__ import annotations

import pytest

from issuance.api.app import create_app
from issuance.runtime import Runtime
from issuance.services import keys
from issuance.store.store import HOLDER_CONTEXT
from issuance.vault import is_sealed, sealed_key_id
from sscard_core.errors import VaultError
from tests.integration.api.world import PHOTO_B64, World
from tests.integration.plaintext import occurrences

NAMES = ("欧阳明月", "司马长风", "诸葛青云", "上官飞燕")
PHONES = ("13912345678", "13687654321", "18611112222", "15933334444")
ADDRESSES = ("北京市东城区某街1号", "北京市西城区另一街2号", "北京市朝阳区上门路3号")


async def _holders(world: World) -> list[dict[str, str]]:
    """Three people through the API: applications, an info change, a home visit, a batch
    manifest's worth of reads; their cards made and handed over."""
    people = []
    for i, (name, phone) in enumerate(zip(NAMES[:3], PHONES[:3], strict=True)):
        holder = world.holder(name=name, phone=phone, address=ADDRESSES[0])
        r = await world.post(
            "clerk_a",
            "/v1/applications",
            {"holder": holder, "photo": PHOTO_B64, "wait": True},
            key=f"apply-{i}",
        )
        assert r.status_code == 201, r.text
        await world.make(r.json())
        people.append(holder)
    change = {"citizen_id": people[0]["citizen_id"], "address": ADDRESSES[1]}
    r = await world.post("clerk_a", "/v1/holders/info-change", change, key="change-1")
    assert r.status_code == 200, r.text
    visitor = world.holder(name=NAMES[3], phone=PHONES[3], address=ADDRESSES[2])
    visit = {"holder": visitor, "photo": PHOTO_B64, "appointment_at": "2030-01-02T09:30:00+08:00",
             "visit_address": ADDRESSES[2]}  # fmt: skip
    r = await world.post("clerk_a", "/v1/home-visits", visit, key="visit-1")
    assert r.status_code == 201, r.text
    people.append(visitor)
    for who in people:
        r = await world.post("clerk_a", "/v1/holders/lookup", {"citizen_id": who["citizen_id"]})
        assert r.status_code == 200, r.text
    return people


async def test_no_table_holds_a_plain_id_name_or_phone(world: World, rt: Runtime) -> None:
    people = await _holders(world)
    needles = [p[f] for p in people for f in ("citizen_id", "name", "phone")] + list(ADDRESSES)
    async with rt.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM holders") == len(people)
        assert await occurrences(conn, needles) == []
        # the test can find what is there: the holders' unsealed birthplace and the outlet names
        assert await occurrences(conn, ["A 东城"]) != []


async def test_values_record_their_key_and_lookups_use_the_blind_index(
    world: World, rt: Runtime
) -> None:
    (person, *_) = await _holders(world)
    row = await rt.pool.fetchrow("SELECT citizen_id, name, sealed, citizen_id_index FROM holders")
    assert row["citizen_id"] is None and row["name"] is None
    assert is_sealed(bytes(row["sealed"]))
    assert sealed_key_id(bytes(row["sealed"])) == rt.vault.active_key.id
    assert bytes(row["citizen_id_index"]) != person["citizen_id"].encode()
    r = await world.post("clerk_a", "/v1/holders/lookup", {"citizen_id": person["citizen_id"]})
    assert r.status_code == 200, r.text
    assert r.json()["holder"]["name"] == person["name"]


async def test_a_second_application_for_one_person_is_refused_through_the_blind_index(
    world: World,
) -> None:
    cid = world.citizen_id()
    first = await world.apply(citizen_id=cid)
    assert first.status_code == 201, first.text
    second = await world.apply(citizen_id=cid, key="again")
    assert second.status_code == 409, second.text


async def test_rotation_seals_every_value_again_under_the_new_key(
    world: World, rt: Runtime
) -> None:
    people = await _holders(world)
    old = rt.vault.active_key.id
    new, _ = await keys.new_data_key(rt.store, keys.timedelta(0))
    assert new != old and rt.vault.active_key.id == new
    done = await keys.reseal_all(rt.store, rows=2)
    assert done.resealed[keys.Table.HOLDERS] == len(people)
    assert done.resealed[keys.Table.PHOTOS] >= len(people)
    assert done.resealed[keys.Table.CARDS] == len(people)
    assert done.resealed[keys.Table.HISTORY] + done.resealed[keys.Table.JOBS] == len(people)
    assert done.resealed[keys.Table.VISITS] == 1
    assert done.resealed[keys.Table.ANSWERS] >= len(people)
    for sealed in await rt.pool.fetch("SELECT sealed, sealed_address FROM holders"):
        assert {sealed_key_id(bytes(v)) for v in sealed.values()} == {new}
    again = await keys.reseal_all(rt.store)
    assert sum(again.resealed.values()) == 0
    assert await keys.retire_older_keys(rt.store, new) == [old]
    r = await world.post("clerk_a", "/v1/holders/lookup", {"citizen_id": people[1]["citizen_id"]})
    assert r.json()["holder"]["name"] == people[1]["name"]


async def test_rows_written_before_sealing_are_sealed_by_encrypt_existing(
    world: World, rt: Runtime
) -> None:
    cid = world.citizen_id()
    await rt.pool.execute(
        """INSERT INTO holders (citizen_id, name, gender, birth_date, ethnicity, birthplace,
                                phone, address, bank)
           VALUES ($1, '旧记录', '1', '1980-01-01', 1, '110101', '13000000000', '旧地址', 'BKA')""",
        cid,
    )
    assert await keys.plain_holders(rt.store) == 1
    assert await world.store.holder_by_citizen_id(cid, lock=False) is None  # not findable yet
    done = await keys.reseal_all(rt.store)
    assert done.resealed[keys.Table.HOLDERS] == 1
    assert await keys.plain_holders(rt.store) == 0
    row = await rt.pool.fetchrow("SELECT * FROM holders")
    assert (row["citizen_id"], row["name"], row["phone"], row["address"]) == (None, None, "", "")
    assert rt.vault.open_json(bytes(row["sealed"]), HOLDER_CONTEXT)[1] == "旧记录"
    found = await world.store.holder_by_citizen_id(cid, lock=False)
    assert found is not None and (found.name, found.address) == ("旧记录", "旧地址")


async def test_the_service_will_not_start_on_plain_holders(world: World, rt: Runtime) -> None:
    await rt.pool.execute(
        """INSERT INTO holders (citizen_id, name, gender, birth_date, ethnicity, birthplace, bank)
           VALUES ($1, '旧记录', '1', '1980-01-01', 1, '110101', 'BKA')""",
        world.citizen_id(),
    )
    app = create_app(rt)
    with pytest.raises(VaultError) as caught:
        async with app.router.lifespan_context(app):
            pass
    assert caught.value.code == "plain_holders"
    await keys.reseal_all(rt.store)
    async with app.router.lifespan_context(app):
        pass


async def test_a_tampered_value_is_refused(world: World, rt: Runtime) -> None:
    (person, *_) = await _holders(world)
    await rt.pool.execute(
        "UPDATE holders SET sealed = overlay(sealed placing '\\x00'::bytea from 30 for 1)"
    )
    r = await world.post("clerk_a", "/v1/holders/lookup", {"citizen_id": person["citizen_id"]})
    assert r.status_code == 503
    assert r.json()["code"] == "sealed_value_tampered"
