"""The agent names its station's PSAM (its serial, read from the PSAM) in every claim."""

from __future__ import annotations

import json

import httpx

from printers.agent.client import AgentClient
from printers.devices.chip.crypto import KeyUsage
from printers.devices.simulators.psam import SimulatedPsam

KEYS = {usage: bytes([0x11 + n]) * 16 for n, usage in enumerate(KeyUsage)}


async def _claim_body(psam: str | None) -> dict[str, object]:
    seen: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"jobs": []})

    transport = httpx.MockTransport(answer)
    async with AgentClient("http://svc", "t", worker="w", site="A1", transport=transport,
                           psam=psam) as client:  # fmt: skip
        assert await client.claim(wait_seconds=0) == []
    return seen[0]


async def test_the_claim_carries_the_serial_the_psam_reports() -> None:
    psam = SimulatedPsam(KEYS, serial="PSAM-0042")
    assert psam.serial == "PSAM-0042"
    assert (await _claim_body(psam.serial))["psam"] == "PSAM-0042"
    assert "psam" not in await _claim_body(None)
