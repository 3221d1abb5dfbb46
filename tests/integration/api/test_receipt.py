"""The handover receipt, served as a PDF to the clerks of the card's bank."""

from __future__ import annotations

import io

from pypdf import PdfReader

from tests.integration.api.world import World


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


async def test_a_handed_over_card_has_its_receipt(world: World) -> None:
    card = await world.issued()
    number = card["card_number"]
    r = await world.client.get(f"/v1/cards/{number}/receipt.pdf", headers=world.auth("clerk_a"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    text = _text(r.content)
    stored = await world.store.card_by_number(number)
    assert stored is not None
    holder = await world.store.holder(stored.holder)
    assert number in text
    assert holder.citizen_id[:6] + "********" + holder.citizen_id[-4:] in text
    assert holder.citizen_id not in text
    assert "A 东城" in text  # the outlet of the hand-over
    purposes = [row["purpose"] for row in await world.store.audit_of_holder(stored.holder)]
    assert purposes[-1] == "receipt"


async def test_another_banks_clerk_cannot_tell_the_card_exists(world: World) -> None:
    number = (await world.issued())["card_number"]
    r = await world.client.get(f"/v1/cards/{number}/receipt.pdf", headers=world.auth("clerk_b"))
    missing = await world.client.get(
        "/v1/cards/Z99999999/receipt.pdf", headers=world.auth("clerk_b")
    )
    assert r.status_code == missing.status_code == 404
    assert r.json()["code"] == missing.json()["code"]


async def test_a_card_not_yet_handed_over_has_no_receipt(world: World) -> None:
    number = (await world.new_card())["card_number"]
    r = await world.client.get(f"/v1/cards/{number}/receipt.pdf", headers=world.auth("clerk_a"))
    assert (r.status_code, r.json()["code"]) == (409, "not_handed_over")


async def test_an_agent_may_not_read_a_receipt(world: World) -> None:
    number = (await world.issued())["card_number"]
    r = await world.client.get(f"/v1/cards/{number}/receipt.pdf", headers=world.auth("agent_a"))
    assert r.status_code == 403
