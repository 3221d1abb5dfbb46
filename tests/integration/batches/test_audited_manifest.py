"""Reading a batch's manifest (every holder's name and citizen ID) is audited, card by card."""

from __future__ import annotations

from tests.integration.api.world import World
from tests.integration.batches.helpers import batch_people, submit


async def test_the_manifest_read_leaves_one_audit_row_per_card(world: World) -> None:
    r = await submit(world, batch_people(3, seed=21))
    assert r.status_code == 201, r.text
    batch = r.json()["batch"]["id"]
    pdf = await world.client.get(f"/v1/batches/{batch}/manifest.pdf", headers=world.auth("clerk_a"))
    assert pdf.status_code == 200, pdf.text
    found = await world.client.get(
        "/v1/audit", params={"action": "read", "operator": "clerk_a"}, headers=world.auth("auditor")
    )
    reads = [x for x in found.json()["records"] if x["purpose"] == "batch_manifest"]
    assert len(reads) == 3
    assert len({x["card"] for x in reads}) == 3 and all(x["holder"] for x in reads)
