"""The counter mix and outlet agents, as locust users, offered at a fixed rate.

Run through ``sscard loadtest`` (which starts the stack, seeds the accounts
and sets the environment below), or by hand:
``locust -f benchmarks/locustfile.py --host http://127.0.0.1:8080`` with
``SSCARD_LOAD_ACCOUNTS`` naming a JSON file ``{"clerks": [token...], "agent":
token, "site": outlet code, "psam": its installed PSAM}``.

Every task sends exactly one request, and each user starts its tasks as a
Poisson process of rate ``SSCARD_LOAD_RATE`` (tasks per second per user;
the gaps are drawn from the exponential distribution and counted from one
start to the next, so a slow answer does not slow the arrivals; a user's first
task comes one drawn gap after it arrives, since locust starts each second's
new users at the same instant). The load
offered is ``users x rate`` requests per second, arriving as independent
clerks' requests do, not in lockstep: the test asks "is this rate sustained,
and how fast is each answer?", not "how much does it take to saturate?". A
rate the stack cannot sustain shows as measured throughput below the offered
one.

Weights of the counter mix, from what a counter does in a day: most visits
are questions about a card being made or used; applications and loss reports
are the bulk of the rest.

| task | weight | why |
|---|---|---|
| status query (应用状态查询) | 38 | every pickup, every "is my card ready?" |
| instant application (申领, person waits) | 12 | |
| holder look-up | 10 | most visits start with one |
| hand-over (领卡), activation (启用) | 5 + 5 | each application ends so |
| loss report, loss cancelled (挂失 / 解挂) | 6 + 6 | lost and found cards |
| PIN change / reset job | 6 + 2 | |
| information change (phone, address) | 6 | |

Outlet agents (1 agent user for every 10 clerks) claim the outlet's jobs and
complete them at once, without printing: the load test measures the service,
not the printers. Applicants are generated: valid citizen IDs with check
digits, Chinese names including minority names with ``·``.
"""

from __future__ import annotations

import base64
import io
import os
import random
import time
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from locust import events, task
from locust.contrib.fasthttp import FastHttpUser
from PIL import Image

from issuance.domain.identity import CitizenId
from issuance.tools.pacing import PoissonPacing
from issuance.tools.testdata import fresh_citizen_id, random_name

ACCOUNTS: dict[str, Any] = orjson.loads(
    Path(os.environ.get("SSCARD_LOAD_ACCOUNTS", "var/load-accounts.json")).read_bytes()
)
RATE = float(os.environ.get("SSCARD_LOAD_RATE", "5"))  # tasks (= requests) per second per user
LOG = os.environ.get("SSCARD_LOAD_LOG")  # every request's start, task, time and outcome, as CSV


class RequestLog:
    """Writes ``start,task,ms,failed`` for every request, for percentiles by phase and second."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "w", encoding="utf-8", buffering=1 << 16)  # noqa: SIM115

    def record(self, name: str, response_time: float, exception: Any = None, **kw: Any) -> None:
        start = kw.get("start_time") or time.time() - response_time / 1000
        self._file.write(f"{start:.4f},{name},{response_time:.2f},{int(exception is not None)}\n")

    def close(self, **_kw: Any) -> None:
        self._file.close()


if LOG:
    _log = RequestLog(LOG)
    events.request.add_listener(
        lambda name, response_time, exception=None, **kw: _log.record(
            name, response_time, exception, **kw
        )
    )
    events.quitting.add_listener(_log.close)


def _photo() -> str:
    image = Image.new("RGB", (180, 220), (200, 210, 230))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=70)
    return base64.b64encode(buf.getvalue()).decode()


PHOTO = _photo()


# Every citizen ID this process has applied for: drawn twice, the second application would be
# refused (409) while the first card is in production, a collision of the generator (about one run
# in a hundred at 3,500 applications), not an error of the service.
DRAWN: set[str] = set()


def applicant(rng: random.Random) -> dict[str, Any]:
    cid = CitizenId.parse(fresh_citizen_id(rng, DRAWN, born_before=date(2008, 1, 1)))
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
    """A counter clerk at an instant-issuance outlet, with the cards of their holders."""

    weight = 10

    def wait_time(self) -> float:
        return self.pacing(self)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.pacing = PoissonPacing(RATE, self.rng)
        token = self.rng.choice(ACCOUNTS["clerks"])
        self.auth = {"Authorization": f"Bearer {token}"}
        # this clerk's cards, by where they stand
        self.ordered: list[str] = []
        self.ready: list[str] = []
        self.handed: list[str] = []
        self.active: list[str] = []
        self.lost: list[str] = []
        self.holders: list[str] = []
        self.wait()  # the first task one drawn gap after arriving: see PoissonPacing

    def _post(self, path: str, body: dict[str, Any], name: str) -> Any:
        headers = {**self.auth, "Idempotency-Key": f"{self.rng.getrandbits(64):x}"}
        return self.client.post(path, json=body, headers=headers, name=name)

    @staticmethod
    def _move(number: str, src: list[str], dst: list[str]) -> None:
        src.remove(number)
        dst.append(number)

    @task(12)
    def apply(self) -> None:
        person = applicant(self.rng)
        body = {"holder": person, "photo": PHOTO, "wait": True}
        r = self._post("/v1/applications", body, "apply instant")
        if r.status_code == 201:
            self.ordered.append(r.json()["card_number"])
            self.holders.append(person["citizen_id"])

    @task(38)
    def status(self) -> None:
        if self.ordered:
            number = self.ordered[0]
            r = self.client.get(f"/v1/cards/{number}", headers=self.auth, name="status")
            if r.status_code == 200 and r.json()["card"]["status"] == "ready":
                self._move(number, self.ordered, self.ready)
        elif self.active:
            number = self.rng.choice(self.active)
            self.client.get(f"/v1/cards/{number}", headers=self.auth, name="status")
        else:
            self.apply()

    @task(10)
    def lookup(self) -> None:
        if not self.holders:
            return self.apply()
        self._post("/v1/holders/lookup", {"citizen_id": self.rng.choice(self.holders)}, "lookup")
        return None

    @task(5)
    def hand_over(self) -> None:
        if not self.ready:
            return self.status()
        number = self.ready[0]
        if self._post(f"/v1/cards/{number}/hand-over", {}, "hand over").status_code == 200:
            self._move(number, self.ready, self.handed)
        return None

    @task(5)
    def activate(self) -> None:
        if not self.handed:
            return self.hand_over()
        number = self.handed[0]
        if self._post(f"/v1/cards/{number}/activate", {}, "activate").status_code == 200:
            self._move(number, self.handed, self.active)
        return None

    @task(6)
    def report_loss(self) -> None:
        if not self.active:
            return self.activate()
        number = self.rng.choice(self.active)
        if (
            self._post(f"/v1/cards/{number}/loss", {"kind": "temporary"}, "report loss").status_code
            == 200
        ):
            self._move(number, self.active, self.lost)
        return None

    @task(6)
    def cancel_loss(self) -> None:
        if not self.lost:
            return self.report_loss()
        number = self.lost[0]
        if self._post(f"/v1/cards/{number}/loss/cancel", {}, "cancel loss").status_code == 200:
            self._move(number, self.lost, self.active)
        return None

    @task(8)
    def pin_job(self) -> None:
        if not self.active:
            return self.lookup()
        number = self.rng.choice(self.active)
        path = "pin-change" if self.rng.random() < 0.75 else "pin-reset"
        self._post(f"/v1/cards/{number}/{path}", {}, path)
        return None

    @task(6)
    def info_change(self) -> None:
        if not self.holders:
            return self.apply()
        phone = f"13{self.rng.randrange(10**9):09d}"
        body = {"citizen_id": self.rng.choice(self.holders), "phone": phone}
        self._post("/v1/holders/info-change", body, "info change")
        return None


class OutletAgent(FastHttpUser):
    """An outlet agent: claims the outlet's jobs, then completes them one request at a time."""

    weight = 1

    def wait_time(self) -> float:
        return self.pacing(self)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.pacing = PoissonPacing(RATE, self.rng)
        self.auth = {"Authorization": f"Bearer {ACCOUNTS['agent']}"}
        self.worker = f"load-agent-{random.getrandbits(32):x}"
        self.held: list[int] = []
        self.wait()

    @task
    def work(self) -> None:
        if self.held:
            job = self.held.pop()
            body = {"worker": self.worker, "result": {"load": True}}
            self.client.post(f"/v1/agent/jobs/{job}/complete", json=body, headers=self.auth,
                             name="agent complete")  # fmt: skip
            return
        body = {
            "worker": self.worker,
            "site": ACCOUNTS["site"],
            "psam": ACCOUNTS["psam"],  # the outlet's installed PSAM: a claim without it is refused
            "capabilities": ["print_encode", "encode"],
            "limit": 5,
            "wait_seconds": 0,
        }
        r = self.client.post("/v1/agent/claim", json=body, headers=self.auth, name="agent claim")
        if r.status_code == 200:
            self.held = [job["id"] for job in r.json()["jobs"]]
