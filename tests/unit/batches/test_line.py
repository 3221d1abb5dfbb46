"""The simulated production line: the real agent makes every card, and busy time is measured."""

from __future__ import annotations

from pathlib import Path

from issuance.tools.line import BusyClock, LineConfig, run_line
from printers.agent.loop import AgentEvent, EventKind


async def test_a_small_line_makes_every_card_once(tmp_path: Path) -> None:
    report = await run_line(LineConfig(printers=2, cards=6, time_scale=0.0), tmp_path)
    assert (report.made, report.dead) == (6, 0)
    assert sum(p.cards for p in report.printers) == 6
    assert all(0.0 < p.utilisation <= 1.0 for p in report.printers)


def test_busy_time_is_clipped_to_the_window() -> None:
    clock = BusyClock()
    clock(AgentEvent(EventKind.CLAIMED, 1, "p1", "card job claimed"))
    clock(AgentEvent(EventKind.MADE, 1, "p1", "job complete"))
    ((began, ended),) = clock.intervals["p1"]
    inside = clock.use("p1", began, ended)
    assert inside.utilisation == 1.0 and inside.cards == 1
    later = clock.use("p1", ended, ended + 1.0)
    assert later.busy_seconds == 0.0
    assert clock.use("p2", began, ended + 1.0).utilisation == 0.0
