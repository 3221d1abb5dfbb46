"""The journal: marks survive a crash, in-flight runs and their verdicts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from printers.agent.journal import Journal, Mark, Settlement, verdict
from sscard_core.messages import Reconciliation

CRASHING_WRITER = """
import os, sys
from pathlib import Path
from printers.agent.journal import Journal, Mark
j = Journal(Path(sys.argv[1]))
done = j.begin(1, "card", "p1")
for m in (Mark.FEEDING, Mark.FED, Mark.ENCODING, Mark.ENCODED, Mark.PRINTING, Mark.EJECTED):
    j.mark(done, m)
j.settle(done, __import__("printers.agent.journal").agent.journal.Settlement.COMPLETED)
run = j.begin(2, "card", "p2")
for m in (Mark.FEEDING, Mark.FED, Mark.ENCODING):
    j.mark(run, m)
os._exit(9)  # no close, no checkpoint: a crash
"""


def test_reopened_after_a_crash_lists_in_flight_runs(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, str(path)],
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
        check=False,
    )
    assert proc.returncode == 9
    with Journal(path) as journal:
        (run,) = journal.in_flight()
    assert (run.job_id, run.printer, run.last) == (2, "p2", Mark.ENCODING)
    assert run.marks == (Mark.CLAIMED, Mark.FEEDING, Mark.FED, Mark.ENCODING)
    assert verdict(run).outcome is Reconciliation.FAILED
    assert verdict(run).spoiled


def test_verdicts(journal: Journal) -> None:
    def run_with(*marks: Mark) -> tuple[Reconciliation, bool]:
        run = journal.begin(7, "card", "p1")
        for mark in marks:
            journal.mark(run, mark)
        answer = verdict(journal.run(run))
        return answer.outcome, answer.spoiled

    assert run_with() == (Reconciliation.NOT_STARTED, False)
    assert run_with(Mark.FEEDING, Mark.NOT_FED) == (Reconciliation.NOT_STARTED, False)
    assert run_with(Mark.FEEDING) == (Reconciliation.FAILED, False)
    assert run_with(Mark.FEEDING, Mark.FED, Mark.PRINTING) == (Reconciliation.FAILED, True)
    assert run_with(Mark.FEEDING, Mark.FED, Mark.REJECTING, Mark.REJECTED) == (
        Reconciliation.FAILED,
        True,
    )
    assert run_with(Mark.FEEDING, Mark.FED, Mark.PRINTING, Mark.EJECTED) == (
        Reconciliation.MADE,
        False,
    )


def test_settled_runs_leave_the_in_flight_list(journal: Journal) -> None:
    first = journal.begin(1, "card", "p1")
    second = journal.begin(2, "card", "p1")
    journal.mark(second, Mark.VERIFIED, {"read_back": {"name": "张三丰"}})
    journal.settle(first, Settlement.COMPLETED)
    assert [r.job_id for r in journal.in_flight()] == [2]
    assert journal.run(second).details[Mark.VERIFIED] == {"read_back": {"name": "张三丰"}}
    assert journal.settlement(first) is Settlement.COMPLETED
    assert journal.settlement(second) is None
