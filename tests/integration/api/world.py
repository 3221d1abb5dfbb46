"""A small world for API tests: two banks, their outlets and one operator of every role."""

from __future__ import annotations

import base64
import io
import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from PIL import Image

from cardqueue import Queue
from issuance.domain.identity import CitizenId
from issuance.domain.roles import Role
from issuance.services import admin, psams
from issuance.store import Store
from issuance.tools.testdata import random_citizen_id
from sscard_core.card_data import Gender

BANK_A = "BKA"
BANK_B = "BKB"
CLAIM_PATH = "/v1/agent/claim"
# The outlets' security terminals and installed PSAMs, and the PSAM each outlet agent names.
EQUIPMENT = {"A1": ("TERM-A1", "PSAM-A1"), "B1": ("TERM-B1", "PSAM-B1")}
AGENT_PSAMS = {"agent_a": "PSAM-A1", "agent_b": "PSAM-B1"}


def photo_bytes(fmt: str = "JPEG", size: tuple[int, int] = (300, 380)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 180, 160)).save(out, format=fmt)
    return out.getvalue()


PHOTO_B64 = base64.b64encode(photo_bytes()).decode()


@dataclass
class World:
    client: httpx.AsyncClient
    store: Store
    queue: Queue
    tokens: dict[str, str] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def auth(self, who: str, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def citizen_id(self) -> str:
        return random_citizen_id(self.rng, region="110101")

    def holder(self, citizen_id: str | None = None, **changes: Any) -> dict[str, Any]:
        cid = CitizenId.parse(citizen_id or self.citizen_id())
        body = {
            "citizen_id": cid.value,
            "name": "张三",
            "gender": cid.gender.value,
            "birth_date": cid.birth_date.isoformat(),
            "ethnicity": 1,
            "birthplace": "110101",
            "phone": "13800000000",
            "address": "北京市东城区",
        }
        body.update(changes)
        return body

    async def apply(
        self,
        who: str = "clerk_a",
        *,
        wait: bool = False,
        citizen_id: str | None = None,
        key: str | None = None,
    ) -> httpx.Response:
        body = {"holder": self.holder(citizen_id), "photo": PHOTO_B64, "wait": wait}
        return await self.client.post("/v1/applications", json=body, headers=self.auth(who, key))

    async def new_card(self, who: str = "clerk_a", *, wait: bool = True) -> dict[str, Any]:
        r = await self.apply(who, wait=wait)
        assert r.status_code == 201, r.text
        card: dict[str, Any] = r.json()
        return card

    async def post(self, who: str, path: str, body: Any = None, key: str | None = None) -> Any:
        """POST as ``who``; an outlet agent's claim names its station's PSAM unless it names one."""
        if path == CLAIM_PATH and isinstance(body, dict) and who in AGENT_PSAMS:
            body = {"psam": AGENT_PSAMS[who], **body}
        return await self.client.post(path, json=body, headers=self.auth(who, key))

    async def make(self, card: dict[str, Any], agent: str = "agent_a") -> None:
        """Let the agent of the card's site claim and complete its job."""
        site = await self.site_of(card)
        r = await self.post(
            agent,
            "/v1/agent/claim",
            {
                "worker": agent,
                "site": site,
                "capabilities": ["print_encode"],
                "limit": 10,
                "wait_seconds": 0,
            },
        )
        assert r.status_code == 200, r.text
        ids = [j["id"] for j in r.json()["jobs"]]
        assert card["job_id"] in ids
        for job_id in ids:
            done = await self.post(
                agent,
                f"/v1/agent/jobs/{job_id}/complete",
                {"worker": agent, "result": {"ok": True}},
            )
            assert done.status_code == 204, done.text

    async def site_of(self, card: dict[str, Any]) -> str:
        return (await self.queue.get(card["job_id"])).site

    async def issued(self, who: str = "clerk_a") -> dict[str, Any]:
        card = await self.new_card(who)
        agent = "agent_a" if who.endswith("_a") else "agent_b"
        await self.make(card, agent)
        r = await self.post(who, f"/v1/cards/{card['card_number']}/hand-over")
        assert r.status_code == 200, r.text
        issued: dict[str, Any] = r.json()
        return issued

    async def active(self, who: str = "clerk_a") -> dict[str, Any]:
        card = await self.issued(who)
        r = await self.post(who, f"/v1/cards/{card['card_number']}/activate")
        assert r.status_code == 200, r.text
        active: dict[str, Any] = r.json()
        return active


async def seed(store: Store) -> dict[str, str]:
    """Banks BKA and BKB, their outlets, and an operator of every role; returns tokens."""
    for code in (BANK_A, BANK_B):
        await admin.create_bank(store, code, f"Bank {code}", active=True)
    outlets = (
        admin.OutletInput("A1", BANK_A, "A 东城", instant=True, psam_serial="PSAM-A1"),
        admin.OutletInput("A2", BANK_A, "A 西城", district="110102"),
        admin.OutletInput("B1", BANK_B, "B 东城", instant=True, psam_serial="PSAM-B1"),
    )
    for o in outlets:
        await admin.create_outlet(store, o)
    for outlet, (terminal, psam) in EQUIPMENT.items():
        await psams.equip_outlet(store, None, outlet, terminal=terminal, psam=psam)
    people: tuple[tuple[str, Role, str | None, str | None], ...] = (
        ("clerk_a", Role.CLERK, BANK_A, "A1"),
        ("clerk_a2", Role.CLERK, BANK_A, "A2"),
        ("supervisor_a", Role.SUPERVISOR, BANK_A, "A1"),
        ("admin_a", Role.BANK_ADMIN, BANK_A, None),
        ("agent_a", Role.AGENT, BANK_A, "A1"),
        ("central_a", Role.AGENT, BANK_A, None),
        ("clerk_b", Role.CLERK, BANK_B, "B1"),
        ("agent_b", Role.AGENT, BANK_B, "B1"),
        ("central_b", Role.AGENT, BANK_B, None),
        ("supervisor_b", Role.SUPERVISOR, BANK_B, "B1"),
        ("auditor", Role.BUREAU_AUDITOR, None, None),
        ("bureau_admin", Role.BUREAU_ADMIN, None, None),
        ("admin_bkb", Role.BANK_ADMIN, BANK_B, None),
    )
    tokens = {}
    for name, role, bank, outlet in people:
        made = await admin.create_operator(store, name, role, bank=bank, outlet=outlet)
        tokens[name] = made.token
    return tokens


def born(cid: str) -> date:
    return CitizenId.parse(cid).birth_date


def gender(cid: str) -> Gender:
    return CitizenId.parse(cid).gender
