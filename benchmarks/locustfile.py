"""The counter mix, batch-sized applications and outlet agents, as locust users.

Run through ``sscard loadtest`` (which starts the stack, seeds the accounts
and writes ``SSCARD_LOAD_ACCOUNTS``), or by hand:
``locust -f benchmarks/locustfile.py --host http://127.0.0.1:8080`` with that
variable pointing at a JSON file ``{"clerks": [token...], "agent": token,
"site": outlet code}``.

Weights of the counter mix (per clerk, per task pick), from what a counter
does in a day: most visits are questions about a card being made or used;
applications and loss reports are the bulk of the rest.

| task | weight | why |
|---|---|---|
| status query (应用状态查询) | 40 | every pickup, every "is my card ready?" |
| instant application (申领, person waits) | 15 | |
| hand-over + activation (启用) | 10 | each application ends so |
| loss report + cancel (挂失 / 解挂) | 10 | lost and found cards |
| holder look-up | 10 | most visits start with one |
| PIN change / reset job | 8 | |
| information change (phone, address) | 7 | |

Agents claim instant jobs of the outlet and complete them at once (no
printing): the load test measures the service, not the printers.
Applicants are generated: valid citizen IDs with check digits, Chinese names
including minority names with ``·``.
"""

from __future__ import annotations

import base64
import io
import os
import random
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from locust import between, task
from locust.contrib.fasthttp import FastHttpUser
from PIL import Image

from issuance.domain.identity import CitizenId, random_citizen_id
from issuance.domain.names import random_name

ACCOUNTS: dict[str, Any] = orjson.loads(
    Path(os.environ.get("SSCARD_LOAD_ACCOUNTS", "var/load-accounts.json")).read_bytes()
)


def _photo() -> str:
    image = Image.new("RGB", (180, 220), (200, 210, 230))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=70)
    return base64.b64encode(buf.getvalue()).decode()


PHOTO = _photo()


def applicant(rng: random.Random) -> dict[str, Any]:
    cid = CitizenId.parse(random_citizen_id(rng, born_before=date(2008, 1, 1)))
    return {
        "citizen_id": cid.value,
        "name": random_name(rng),
        "gender": cid.gender.value,
        "birth_date": cid.birth_date.isoformat(),
        "ethnicity": 1,
        "birthplace": cid.region,
        "phone": f"13{rng.randrange(10**9):09d}",
    }


class Clerk(FastHttpUser):
    """A counter clerk at an instant-issuance outlet."""

    weight = 10
    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        self.rng = random.Random()
        token = self.rng.choice(ACCOUNTS["clerks"])
        self.auth = {"Authorization": f"Bearer {token}"}
        self.cards: list[str] = []  # card numbers this clerk ordered
        self.active: list[str] = []
        self.holders: list[str] = []
        self.apply()

    def _post(self, path: str, body: dict[str, Any], name: str) -> Any:
        headers = {**self.auth, "Idempotency-Key": f"{self.rng.getrandbits(64):x}"}
        return self.client.post(path, json=body, headers=headers, name=name)

    @task(15)
    def apply(self) -> None:
        person = applicant(self.rng)
        r = self._post("/v1/applications", {"holder": person, "photo": PHOTO, "wait": True},
                       "apply instant")  # fmt: skip
        if r.status_code == 201:
            self.cards.append(r.json()["card_number"])
            self.holders.append(person["citizen_id"])

    @task(40)
    def status(self) -> None:
        if self.cards:
            number = self.rng.choice(self.cards)
            self.client.get(f"/v1/cards/{number}", headers=self.auth, name="status")

    @task(10)
    def lookup(self) -> None:
        if self.holders:
            body = {"citizen_id": self.rng.choice(self.holders)}
            self._post("/v1/holders/lookup", body, "holder lookup")

    @task(10)
    def hand_over_and_activate(self) -> None:
        for number in list(self.cards):
            r = self.client.get(f"/v1/cards/{number}", headers=self.auth, name="status")
            if r.status_code == 200 and r.json()["card"]["status"] == "ready":
                self._post(f"/v1/cards/{number}/hand-over", {}, "hand over")
                self._post(f"/v1/cards/{number}/activate", {}, "activate")
                self.cards.remove(number)
                self.active.append(number)
                return

    @task(10)
    def loss_and_cancel(self) -> None:
        if self.active:
            number = self.rng.choice(self.active)
            self._post(f"/v1/cards/{number}/loss", {"kind": "temporary"}, "report loss")
            self._post(f"/v1/cards/{number}/loss/cancel", {}, "cancel loss")

    @task(8)
    def pin_job(self) -> None:
        if self.active:
            number = self.rng.choice(self.active)
            path = "pin-change" if self.rng.random() < 0.7 else "pin-reset"
            self._post(f"/v1/cards/{number}/{path}", {}, path)

    @task(7)
    def info_change(self) -> None:
        if self.holders:
            body = {"citizen_id": self.rng.choice(self.holders),
                    "phone": f"13{self.rng.randrange(10**9):09d}"}  # fmt: skip
            self._post("/v1/holders/info-change", body, "info change")


class OutletAgent(FastHttpUser):
    """An outlet agent claiming instant jobs and completing them at once."""

    weight = 1
    wait_time = between(0.01, 0.05)

    def on_start(self) -> None:
        self.auth = {"Authorization": f"Bearer {ACCOUNTS['agent']}"}
        self.name = f"load-agent-{random.getrandbits(32):x}"

    @task
    def claim_and_complete(self) -> None:
        body = {
            "worker": self.name,
            "site": ACCOUNTS["site"],
            "capabilities": ["print_encode", "encode"],
            "limit": 5,
            "wait_seconds": 0,
        }
        r = self.client.post("/v1/agent/claim", json=body, headers=self.auth, name="agent claim")
        if r.status_code != 200:
            return
        for job in r.json()["jobs"]:
            self.client.post(f"/v1/agent/jobs/{job['id']}/complete",
                             json={"worker": self.name, "result": {"load": True}},
                             headers=self.auth, name="agent complete")  # fmt: skip
