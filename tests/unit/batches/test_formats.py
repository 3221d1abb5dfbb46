"""Reading batch files: encodings, JSON shapes, structure, line numbers."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from issuance.batches.archive import ZipPhotos
from issuance.batches.check import check_batch
from issuance.batches.formats import (
    MAX_CELL_BYTES,
    MAX_LINE_CHARS,
    Column,
    FileKind,
    RawRow,
    detect_encoding,
    open_batch,
)
from sscard_core.errors import FieldProblem

from .builders import TODAY, ZH_HEADER, Person, batch_csv, inline, with_name

RARE = "刘䶮"  # U+4DAE is in GB 18030 but not in GBK


def rows_of(source: bytes | Path, encoding: str | None = None) -> list[RawRow]:
    return [r for r in open_batch(source, encoding=encoding).records if isinstance(r, RawRow)]


@pytest.mark.parametrize(
    ("codec", "prefix", "expected"),
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
        ("gbk", b"", "gb18030"),
        ("gb18030", b"", "gb18030"),
    ],
)
def test_each_encoding_is_detected_and_read(
    five: list[Person], five_photos: ZipPhotos, codec: str, prefix: bytes, expected: str
) -> None:
    data = prefix + batch_csv(five, ZH_HEADER).encode(codec)
    result = check_batch(data, photos=five_photos, today=TODAY)
    assert result.encoding == expected
    assert [a.name for a in result.applicants] == [p.name for p in five]
    assert [a.citizen_id for a in result.applicants] == [p.citizen_id for p in five]


def test_gb18030_rare_character_survives(five: list[Person], five_photos: ZipPhotos) -> None:
    with pytest.raises(UnicodeEncodeError):
        RARE.encode("gbk")
    persons = [with_name(five[0], RARE), *five[1:]]
    data = batch_csv(persons).encode("gb18030")
    result = check_batch(data, photos=five_photos, today=TODAY)
    assert result.applicants[0].name == RARE
    assert detect_encoding(data) == "gb18030"


def test_explicit_encoding_overrides_detection(five: list[Person]) -> None:
    data = batch_csv(five).encode("gbk")
    assert rows_of(data, encoding="gbk")[0].cells[Column.NAME] == five[0].name
    assert rows_of(data, encoding="latin-1")[0].cells[Column.NAME] != five[0].name


def test_csv_from_a_path(tmp_path: Path, five: list[Person]) -> None:
    path = tmp_path / "batch.csv"
    path.write_bytes(batch_csv(five).encode("utf-8"))
    assert [r.line for r in rows_of(path)] == [2, 3, 4, 5, 6]


def test_quoted_cell_over_two_lines_keeps_physical_line_numbers(five: list[Person]) -> None:
    text = batch_csv(five).replace(five[1].phone, '"138\n00138000"', 1)
    rows = rows_of(text.encode())
    assert [r.line for r in rows] == [2, 4, 5, 6, 7]


def test_blank_lines_are_skipped_but_counted(five: list[Person]) -> None:
    lines = batch_csv(five).split("\r\n")
    text = "\r\n".join([lines[0], "", lines[1], ",,,,,,", *lines[2:]])
    assert [r.line for r in rows_of(text.encode())] == [3, 5, 6, 7, 8]


@pytest.mark.parametrize("shape", ["list", "object"])
def test_json_both_shapes(
    shape: str, five: list[Person], five_photos: ZipPhotos, tmp_path: Path
) -> None:
    items = [p.as_json() for p in five]
    body = items if shape == "list" else {"batch": {"id": "B1", "x": [1]}, "applicants": items}
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    result = check_batch(path, photos=five_photos, today=TODAY)
    assert result.kind is FileKind.JSON
    assert [a.line for a in result.applicants] == [1, 2, 3, 4, 5]


def test_json_inline_photos_and_chinese_keys(five: list[Person]) -> None:
    items = [inline(p) for p in five]
    items[0] = {
        "身份证号": five[0].citizen_id,
        **{k: v for k, v in items[0].items() if k != "citizen_id"},
    }
    result = check_batch(json.dumps(items).encode(), today=TODAY)
    assert len(result.applicants) == 5


def test_json_row_numbers_and_bad_elements(five: list[Person]) -> None:
    items: list[object] = [inline(five[0]), "not an object", {**inline(five[1]), "salary": 1}]
    result = check_batch(json.dumps(items).encode(), partial=True, today=TODAY)
    codes = {(p.line, p.code) for p in result.problems}
    assert codes == {(2, "not_an_object"), (3, "unknown_column")}
    assert [a.line for a in result.applicants] == [1]


def test_json_cut_short_is_reported_after_the_last_good_element(five: list[Person]) -> None:
    text = json.dumps([inline(p) for p in five[:2]])
    result = check_batch(text[:-40].encode(), partial=True, today=TODAY)
    assert [a.line for a in result.applicants] == [1]
    assert [(p.line, p.code) for p in result.problems] == [(2, "malformed_row")]


def test_json_wrong_value_type(five: list[Person]) -> None:
    item = {**inline(five[0]), "ethnicity": [1]}
    result = check_batch(json.dumps([item]).encode(), partial=True, today=TODAY)
    assert [(p.line, p.field, p.code) for p in result.problems] == [
        (1, "ethnicity", "invalid_type")
    ]


def test_oversized_cell_is_dropped_and_reported(five: list[Person]) -> None:
    huge = "1" * (MAX_CELL_BYTES + 1)
    text = batch_csv([five[0]]).replace(five[0].phone, huge)
    [row] = rows_of(text.encode())
    assert Column.PHONE not in row.cells
    assert [(p.field, p.code) for p in row.problems] == [("phone", "field_too_large")]


def test_records_stream_lazily(five: list[Person]) -> None:
    data = batch_csv(five).encode() + b"\xff\xfe broken \xff\r\n"
    batch = open_batch(data, encoding="utf-8")
    first = next(batch.records)
    assert isinstance(first, RawRow) and first.line == 2
    rest = list(batch.records)
    assert [r.line for r in rest] == [3, 4, 5, 6, 7]
    assert isinstance(rest[-1], FieldProblem)
    assert rest[-1].code == "encoding_error"


def test_a_line_without_end_is_cut_at_the_cap(five: list[Person]) -> None:
    endless = "1" * (MAX_LINE_CHARS + 10)
    data = (batch_csv(five[:2]) + endless + "\r\n").encode()
    records = list(open_batch(data).records)
    last = records[-1]
    assert isinstance(last, FieldProblem)
    assert (last.line, last.code) == (4, "field_too_large")
