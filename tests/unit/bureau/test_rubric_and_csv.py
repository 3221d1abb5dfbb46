"""The evaluation rubric from configuration, and the CSV reader of the imports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from issuance.domain.banks import Criterion, EvaluationRules
from issuance.services.evaluation import (
    COMPLAINT_COLUMNS,
    RULES_VARIABLE,
    _rows,
    configured_rules,
    rules_dict,
    rules_from,
)
from sscard_core.errors import FieldError

WEIGHTS = {"cards_issued": 10, "satisfaction": 40, "complaints_12345": 20, "publicity": 10,
           "security_rules": 10, "technical_support": 10}  # fmt: skip


def test_without_configuration_the_defaults_apply() -> None:
    assert configured_rules({}) == EvaluationRules()


def test_a_rubric_file_replaces_weights_and_pass_mark(tmp_path: Path) -> None:
    path = tmp_path / "rubric.json"
    path.write_text(json.dumps({"weights": WEIGHTS, "pass_mark": 70}))
    rules = configured_rules({RULES_VARIABLE: str(path)})
    assert rules.pass_mark == 70
    assert rules.weights[Criterion.SATISFACTION] == 40
    assert rules.card_target == EvaluationRules().card_target
    assert rules_dict(rules)["weights"] == WEIGHTS


@pytest.mark.parametrize(
    "data",
    [
        {"weights": {**WEIGHTS, "satisfaction": 41}},  # not 100
        {"weights": {"cards_issued": 100}},  # criteria missing
        {"weights": {**WEIGHTS, "speed": 0}},  # unknown criterion
        {"pass_mark": "high"},
        {"card_target": 0},
    ],
)
def test_a_bad_rubric_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(FieldError):
        rules_from(data)


def test_an_unreadable_rubric_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(FieldError) as caught:
        configured_rules({RULES_VARIABLE: str(tmp_path / "missing.json")})
    assert caught.value.problem.field == RULES_VARIABLE


def _read(text: str | bytes) -> list[tuple[int, dict[str, str]]]:
    data = text.encode() if isinstance(text, str) else text
    return list(_rows(data, COMPLAINT_COLUMNS))


def test_rows_carry_their_line_numbers() -> None:
    text = (
        "\ufeffticket,received_on,bank,outlet,summary\nT1,2025-01-01,BK,,a\n\n"
        'T2,2025-01-02,BK,O1,"b\nc"\nT3\n'
    )
    rows = _read(text)
    assert [line for line, _ in rows] == [2, 5, 6]  # a quoted newline spans lines 4-5
    assert rows[1][1]["summary"] == "b\nc"
    assert rows[2][1] == {"__width__": "1"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"ticket,received_on\n", "header"),
        (b"\xff\xfe", "file"),
        (b"ticket,received_on,bank,outlet,summary\nT\x00,x,y,z,w\n", "file"),
        (
            ("ticket,received_on,bank,outlet,summary\nT1,a,b,c," + "x" * 5000 + "\n").encode(),
            "summary",
        ),
        (
            ('ticket,received_on,bank,outlet,summary\n"' + "x" * 200_000 + '",a,b,c,d\n').encode(),
            None,
        ),
    ],
)
def test_a_file_that_is_not_the_expected_csv_is_refused(data: bytes, field: str | None) -> None:
    with pytest.raises(FieldError) as caught:
        _read(data)
    # a huge field is over the csv module's limit ("file") or over the cell limit ("ticket"),
    # depending on what csv.field_size_limit this process was given elsewhere
    assert caught.value.problem.field in ((field,) if field else ("file", "ticket"))
