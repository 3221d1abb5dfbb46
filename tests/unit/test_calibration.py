"""The machine calibration that load and queue figures are reported with."""

from __future__ import annotations

import resource
import tomllib
from pathlib import Path

import pytest

from issuance.tools.calibration import COMMAND, REFERENCE_SECONDS, Calibration, calibrate
from sscard_core.errors import SscardError


def test_the_calibration_counts_the_childs_own_cpu() -> None:
    mine = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    spent = calibrate(code="sum(range(3 * 10**7))")
    assert spent > 0.05  # the loop ran in the child, and its time is the child's
    assert resource.getrusage(resource.RUSAGE_SELF).ru_utime - mine < spent


def test_a_calibration_that_fails_is_an_error() -> None:
    with pytest.raises(SscardError) as caught:
        calibrate(code="raise SystemExit(3)")
    assert caught.value.code == "calibration_failed"
    assert "status 3" in caught.value.message


def test_the_report_names_the_command_both_runs_and_the_reference() -> None:
    calibration = Calibration(2.0, 2 * REFERENCE_SECONDS)
    assert calibration.to_dict() == {"command": COMMAND, "before_s": 2.0,
                                     "after_s": 2 * REFERENCE_SECONDS,
                                     "reference_s": REFERENCE_SECONDS}  # fmt: skip
    text = calibration.describe()
    assert COMMAND in text and "2 s before" in text and "up to 2.0x" in text


def test_the_reference_is_the_one_the_targets_are_set_for() -> None:
    targets = Path(__file__).resolve().parents[2] / "benchmarks" / "targets.toml"
    machine = tomllib.loads(targets.read_text(encoding="utf-8"))["machine"]
    assert machine["calibration_s"] == REFERENCE_SECONDS
