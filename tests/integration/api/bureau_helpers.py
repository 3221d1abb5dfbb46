"""Helpers of the bureau's API tests: a bank taken through its lifecycle, filings."""

from __future__ import annotations

from typing import Any

from issuance.domain.roles import Role
from issuance.services import admin
from tests.integration.api.world import World

LIFECYCLE_AFTER_APPROVAL = (
    "system_integration", "acceptance", "agreement_signed", "published", "active",
)  # fmt: skip


def form(code: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code, "name": f"网点 {code}", "district": "110105",
        "address": "北京市朝阳区某路1号", "opening_hours": "周一至周五 9:00-17:00",
        "services": ["apply", "activate", "report_loss"],
    }  # fmt: skip
    body.update(changes)
    return body


async def register(world: World, code: str, applied_on: str = "2025-09-26") -> dict[str, Any]:
    r = await world.post(
        "bureau_admin", "/v1/bureau/banks",
        {"code": code, "name": f"银行 {code}", "applied_on": applied_on,
         "documents": [f"{code}-申请书"]},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def decide(world: World, code: str, stage: str, on: str = "2025-10-09") -> Any:
    return await world.post(
        "bureau_admin", f"/v1/bureau/banks/{code}/decisions",
        {"stage": stage, "decided_on": on, "documents": [f"{code}-{stage}"]},
    )  # fmt: skip


async def conditions(world: World, code: str) -> Any:
    return await world.post(
        "bureau_admin", f"/v1/bureau/banks/{code}/conditions",
        {"pboc_review_ref": "银发审〔2025〕12号", "pboc_reviewed_on": "2025-08-01",
         "remote_activation_committed": True},
    )  # fmt: skip


async def file_and_acknowledge(world: World, bank: str, who: str, body: dict[str, Any]) -> Any:
    r = await world.post(who, f"/v1/bureau/banks/{bank}/filings", body)
    assert r.status_code == 201, r.text
    ack = await world.post("bureau_admin", f"/v1/bureau/filings/{r.json()['id']}/acknowledge", {})
    assert ack.status_code == 200, ack.text
    return ack.json()


async def new_bank_with_counter(world: World, code: str) -> None:
    """A bank that has applied, with an admin, an acknowledged instant outlet and a clerk."""
    await register(world, code)
    made = await admin.create_operator(world.store, f"admin_{code}", Role.BANK_ADMIN, bank=code)
    world.tokens[f"admin_{code}"] = made.token
    outlet = form(f"{code}1", instant=True, security_terminal=True, psam_serial=f"PSAM-{code}")
    await file_and_acknowledge(world, code, f"admin_{code}", {"kind": "add", "outlet": outlet})
    clerk = await admin.create_operator(
        world.store, f"clerk_{code}", Role.CLERK, bank=code, outlet=f"{code}1"
    )
    world.tokens[f"clerk_{code}"] = clerk.token
