"""A card job's production, step by step, as Server-Sent Events.

The stream first reads the card through the audited status service (scope
checked, one audit row), then follows the job: every :data:`WATCH_SECONDS` it
reads the job's state and the device step the agent reported in its last
heartbeat, and sends an event only when something changed. The browser holds
one connection open and never polls; the stream ends with ``finished`` once the
card is ready, failed or no longer in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from cardqueue import Queue
from issuance.domain.cards import CardStatus
from issuance.services.directory import BEIJING
from issuance.store import Store
from sscard_core.errors import JobNotFound
from sscard_core.messages import JobState, JobStep

WATCH_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0


class Stage(IntEnum):
    """The stages the counter page shows, in order."""

    QUEUED = 0
    FED = 1
    ENCODING = 2
    PRINTING = 3
    DONE = 4


STAGE_LABELS = {
    Stage.QUEUED: "排队",
    Stage.FED: "进卡",
    Stage.ENCODING: "写入芯片",
    Stage.PRINTING: "打印卡面",
    Stage.DONE: "完成",
}
STEP_STAGES = {
    JobStep.IDLE: Stage.QUEUED,
    JobStep.FED: Stage.FED,
    JobStep.ENCODING: Stage.ENCODING,
    JobStep.PRINTING: Stage.PRINTING,
    JobStep.EJECTING: Stage.PRINTING,
}


@dataclass(frozen=True)
class Snapshot:
    stage: Stage
    failed: bool  # the job is dead, in doubt, or the card was spoiled
    note: str
    finished: bool
    card_label: str = ""

    @property
    def label(self) -> str:
        return "制卡未完成" if self.failed else STAGE_LABELS[self.stage]


STATE_NOTES = {
    JobState.QUEUED: "等待打印机",
    JobState.RUNNING: "打印机正在制卡",
    JobState.IN_DOUBT: "制卡中断，待主管核对",
    JobState.DEAD: "制卡失败，待主管处理",
}


async def snapshot(store: Store, queue: Queue, number: str) -> Snapshot:
    """Where the card of ``number`` stands (read after the audited first read)."""
    card = await store.card_by_number(number, lock=False)
    if card is None or card.status is not CardStatus.IN_PRODUCTION or card.job_id is None:
        ready = card is not None and card.status in (
            CardStatus.READY,
            CardStatus.ISSUED,
            CardStatus.ACTIVE,
        )
        failed = card is None or card.status is CardStatus.SPOILED
        label = "" if card is None else card.status.info.label_zh
        stage = Stage.DONE if ready else Stage.QUEUED
        return Snapshot(stage, failed and not ready, label, True, label)
    try:
        job = await queue.get(card.job_id)
    except JobNotFound:
        return Snapshot(Stage.QUEUED, False, "", False)
    if job.state is JobState.SUCCEEDED:
        return Snapshot(Stage.DONE, False, "", False)  # the card turns ready in a moment
    stage = Stage.QUEUED if job.state is JobState.QUEUED else STEP_STAGES[job.step]
    failed = job.state in (JobState.IN_DOUBT, JobState.DEAD)
    return Snapshot(stage, failed, STATE_NOTES.get(job.state, ""), False)


Render = Callable[[Snapshot, datetime], str]
Gone = Callable[[], Awaitable[bool]]


def sse(event: str, data: str) -> bytes:
    """One Server-Sent Event (each line of ``data`` on its own ``data:`` line)."""
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n".encode()


async def watch(
    store: Store, queue: Queue, number: str, render: Render, gone: Gone
) -> AsyncIterator[bytes]:
    """Events for the counter page until the card is finished or the page goes away."""
    last: Snapshot | None = None
    quiet = 0.0
    while not await gone():
        now = await snapshot(store, queue, number)
        if now != last:
            last, quiet = now, 0.0
            yield sse("progress", render(now, datetime.now(BEIJING)))
            if now.finished:
                yield sse("finished", "")
                return
        elif (quiet := quiet + WATCH_SECONDS) >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield b": keep-alive\n\n"
        await asyncio.sleep(WATCH_SECONDS)
