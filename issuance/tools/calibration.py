"""The machine's speed, against which sscard's performance figures are read.

Machines of the same size differ by up to twice in speed, so every figure of
``sscard loadtest`` and ``sscard bench queue`` is reported with the user CPU
time of ``python3 -c "sum(range(10**8))"`` (run by this Python, in a child
process), taken before and after the measurement: a busy or slow machine shows
in it. The targets of ``benchmarks/targets.toml`` are for a machine on which it
takes :data:`REFERENCE_SECONDS`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from sscard_core.errors import SscardError

CODE = "sum(range(10**8))"
COMMAND = f'python3 -c "{CODE}"'
REFERENCE_SECONDS = 1.17  # the reference machine's (benchmarks/targets.toml)


@dataclass(frozen=True)
class Calibration:
    """The calibration's user CPU seconds before and after a measurement."""

    before_s: float
    after_s: float

    def to_dict(self) -> dict[str, object]:
        return {"command": COMMAND, "before_s": self.before_s, "after_s": self.after_s,
                "reference_s": REFERENCE_SECONDS}  # fmt: skip

    def describe(self) -> str:
        slower = max(self.before_s, self.after_s) / REFERENCE_SECONDS
        return (
            f"machine calibration ({COMMAND}, user CPU): {self.before_s:g} s before, "
            f"{self.after_s:g} s after; the reference machine's {REFERENCE_SECONDS:g} s "
            f"(this one up to {slower:.1f}x its time)"
        )


def calibrate(python: str = sys.executable, code: str = CODE) -> float:
    """The user CPU seconds of one run of ``code`` in a child process (its own usage,
    whatever else this process has started)."""
    child = subprocess.Popen([python, "-c", code])
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SscardError(
            f"the calibration exited with status {child.returncode}", code="calibration_failed"
        )
    return round(usage.ru_utime, 2)
