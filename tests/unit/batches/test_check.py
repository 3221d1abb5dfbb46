"""Checking whole batches: row checks with line numbers, duplicates, active cards, modes."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import pytest
from rich.console import Console

from issuance.batches.archive import ZipPhotos
from issuance.batches.check import (
    ACTIVE_CARD_CHUNK,
    FIRST_CHUNK,
    BatchCheck,
    check_batch,
    problems_table,
    rejects_csv,
)
from issuance.batches.rows import ArchivePhoto, InlinePhoto
from sscard_core.errors import BatchRejected, FieldProblem

from .builders import (
    EN_HEADER,
    TODAY,
    Person,
    batch_csv,
    csv_text,
    inline,
    jpeg,
    people,
    photo_zip,
    with_name,
)


def partial(text: str, photos: ZipPhotos | None = None) -> BatchCheck:
    return check_batch(text.encode(), photos=photos, partial=True, today=TODAY)


def found(result: BatchCheck) -> list[tuple[int | None, str, str]]:
    return [(p.line, p.field, p.code) for p in result.problems]


def test_valid_batch_gives_lightweight_applicants(
    five: list[Person], five_photos: ZipPhotos
) -> None:
    result = check_batch(batch_csv(five).encode(), photos=five_photos, today=TODAY)
    assert result.problems == ()
    assert result.rows_read == 5
    first = result.applicants[0]
    assert isinstance(first.photo, ArchivePhoto)
    assert first.photo.read() == jpeg()
    assert (first.citizen_id, first.line, first.ethnicity) == (five[0].citizen_id, 2, 1)


def test_default_mode_rejects_everything_on_one_problem(
    five: list[Person], five_photos: ZipPhotos
) -> None:
    bad = [*five[:4], Person(**{**five[4].__dict__, "ethnicity": "57"})]
    with pytest.raises(BatchRejected) as caught:
        check_batch(batch_csv(bad).encode(), photos=five_photos, today=TODAY)
    assert [(p.line, p.field, p.code) for p in caught.value.problems] == [
        (6, "ethnicity", "invalid_ethnicity")
    ]


def test_partial_mode_returns_valid_rows_and_rejects(
    five: list[Person], five_photos: ZipPhotos
) -> None:
    broken = five[2].citizen_id[:17] + ("0" if five[2].citizen_id[17] != "0" else "1")
    rows = [p.cells() for p in five]
    rows[2] = (broken, *rows[2][1:])
    result = partial(csv_text(rows), five_photos)
    assert found(result) == [(4, "citizen_id", "citizen_id_check_digit")]
    assert [a.line for a in result.applicants] == [2, 3, 5, 6]


def test_bad_ids_are_reported_with_their_rule(five: list[Person], five_photos: ZipPhotos) -> None:
    rows = [p.cells() for p in five]
    rows[0] = ("990101198001011234", *rows[0][1:])
    rows[1] = ("11010119800101123", *rows[1][1:])
    rows[2] = ("11010119801301123X", *rows[2][1:])
    result = partial(csv_text(rows), five_photos)
    assert found(result) == [
        (2, "citizen_id", "citizen_id_region"),
        (3, "citizen_id", "citizen_id_length"),
        (4, "citizen_id", "citizen_id_birth_date"),
    ]


def test_declared_birth_date_and_gender_must_agree(
    five: list[Person], five_photos: ZipPhotos
) -> None:
    rows = [p.cells() for p in five]
    rows[0] = (rows[0][0], rows[0][1], rows[0][2], "1999-01-01", *rows[0][4:])
    other = "女" if five[1].gender == "男" else "男"
    rows[1] = (rows[1][0], rows[1][1], other, *rows[1][3:])
    result = partial(csv_text(rows), five_photos)
    assert found(result) == [
        (2, "birth_date", "birth_date_mismatch"),
        (3, "gender", "gender_mismatch"),
    ]


def test_names_must_be_valid_and_drawable(five: list[Person], five_photos: ZipPhotos) -> None:
    persons = [
        with_name(five[0], "张\U00020000"),  # a CJK Extension B character the card font lacks
        with_name(five[1], "JOHN SMITH"),
        with_name(five[2], "·阿依古丽"),
        *five[3:],
    ]
    result = partial(batch_csv(persons), five_photos)
    assert found(result) == [
        (2, "name", "unprintable_character"),
        (3, "name", "name_latin_not_allowed"),
        (4, "name", "name_dot_position"),
    ]


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("name", "张" * 51, "field_too_large"),
        ("phone", "1" * 21, "field_too_large"),
        ("phone", "call me", "invalid_phone"),
        ("gender", "x", "invalid_gender"),
        ("birth_date", "15/06/1987", "invalid_birth_date"),
        ("ethnicity", "汉", "invalid_ethnicity"),
        ("photo", "p" * 256, "field_too_large"),
    ],
)
def test_field_problems(
    five: list[Person], five_photos: ZipPhotos, column: str, value: str, code: str
) -> None:
    person = Person(**{**five[0].__dict__, column: value})
    result = partial(batch_csv([person, *five[1:]]), five_photos)
    assert found(result) == [(2, column, code)]


def test_cell_over_one_kib_is_refused(five: list[Person], five_photos: ZipPhotos) -> None:
    person = Person(**{**five[0].__dict__, "phone": "1" * 1025})
    result = partial(batch_csv([person, *five[1:]]), five_photos)
    assert found(result) == [(2, "phone", "field_too_large")]


def test_truncated_and_overlong_rows(five: list[Person], five_photos: ZipPhotos) -> None:
    rows = [p.cells() for p in five]
    rows[1] = rows[1][:3]
    rows[3] = (*rows[3], "extra")
    text = csv_text(rows)
    result = partial(text[: text.rindex(",")], five_photos)  # the last row is cut short too
    assert found(result) == [
        (3, "(row)", "truncated_row"),
        (5, "(row)", "wrong_column_count"),
        (6, "(row)", "truncated_row"),
    ]
    assert [a.line for a in result.applicants] == [2, 4]


def test_broken_quote_stops_the_file_with_a_line(
    five: list[Person], five_photos: ZipPhotos
) -> None:
    rows = [p.cells() for p in five]
    rows[2] = ('"' + rows[2][0], *rows[2][1:])
    result = partial(csv_text(rows), five_photos)
    assert found(result) == [(4, "(row)", "malformed_row")]
    assert [a.line for a in result.applicants] == [2, 3]


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", ",".join(EN_HEADER).encode() + b"\r\n", b"[]"])
def test_empty_file(data: bytes) -> None:
    with pytest.raises(BatchRejected) as caught:
        check_batch(data, today=TODAY)
    assert [p.code for p in caught.value.problems] == ["empty_file"]


def test_missing_column_is_reported_once_on_the_header(five: list[Person]) -> None:
    header = tuple(h for h in EN_HEADER if h != "gender")
    rows = [
        tuple(c for h, c in zip(EN_HEADER, p.cells(), strict=True) if h != "gender") for p in five
    ]
    with ZipPhotos(photo_zip(five)) as photos:
        result = partial(csv_text(rows, header), photos)
    assert found(result) == [(1, "gender", "missing_column")]
    assert result.applicants == ()


def test_unknown_and_repeated_columns(five: list[Person], five_photos: ZipPhotos) -> None:
    header = (*EN_HEADER, "salary", "姓名")
    rows = [(*p.cells(), "1", p.name) for p in five]
    result = partial(csv_text(rows, header), five_photos)
    assert found(result) == [(1, "(header)", "unknown_column"), (1, "name", "duplicate_column")]


def test_duplicates_are_flagged_on_the_later_line(
    five: list[Person], five_photos: ZipPhotos
) -> None:
    persons = [*five, five[1]]
    result = partial(batch_csv(persons), five_photos)
    assert found(result) == [(7, "citizen_id", "duplicate_in_batch")]
    assert "line 3" in result.problems[0].message
    assert [a.line for a in result.applicants] == [2, 3, 4, 5, 6]


def test_active_cards_are_asked_in_chunks() -> None:
    count = FIRST_CHUNK + ACTIVE_CARD_CHUNK + 5
    persons = people(count, seed=3)
    holders = {persons[0].citizen_id, persons[-1].citizen_id, "110101198001010011"}
    asked: list[int] = []

    def has_active_card(ids: Sequence[str]) -> set[str]:
        asked.append(len(ids))
        return holders & set(ids)

    with ZipPhotos(photo_zip(persons)) as photos:
        result = check_batch(
            batch_csv(persons).encode(),
            photos=photos,
            partial=True,
            has_active_card=has_active_card,
            today=TODAY,
        )
    assert asked == [FIRST_CHUNK, ACTIVE_CARD_CHUNK, 5]  # the first chunk is handed on early
    assert found(result) == [
        (2, "citizen_id", "active_card"),
        (count + 1, "citizen_id", "active_card"),
    ]
    assert len(result.applicants) == count - 2


def test_too_many_rows(five: list[Person], five_photos: ZipPhotos) -> None:
    result = check_batch(
        batch_csv(five).encode(), photos=five_photos, partial=True, today=TODAY, max_rows=3
    )
    assert found(result) == [(5, "(file)", "too_many_rows")]
    assert len(result.applicants) == 3


def test_photo_problems(five: list[Person]) -> None:
    archive = photo_zip(five[:3])
    rows = [p.cells() for p in five]
    rows[4] = (*rows[4][:6], "")
    with ZipPhotos(archive) as photos:
        result = partial(csv_text(rows), photos)
    assert found(result) == [
        (5, "photo", "archive_refused:no_such_member"),
        (6, "photo", "photo_missing"),
    ]
    without = partial(batch_csv(five[:1]))
    assert found(without) == [(2, "photo", "photo_archive_missing")]


def test_unusable_photo_in_the_archive(five: list[Person]) -> None:
    with ZipPhotos(photo_zip(five, photo=b"GIF89a not a photo")) as photos:
        result = partial(batch_csv(five[:1]), photos)
    assert found(result) == [(2, "photo", "invalid_photo:unsupported_format")]


def test_inline_photos(five: list[Person]) -> None:
    import json

    items = [inline(p) for p in five[:3]]
    items[1]["photo_base64"] = "@@not base64@@"
    items[2]["photo_base64"] = base64.b64encode(jpeg(40, 40)).decode()
    items.append({**inline(five[3]), "photo": "x.jpg"})
    result = check_batch(json.dumps(items).encode(), partial=True, today=TODAY)
    assert found(result) == [
        (2, "photo_base64", "invalid_base64"),
        (3, "photo_base64", "invalid_photo:too_few_pixels"),
        (4, "photo", "photo_ambiguous"),
    ]
    [good] = result.applicants
    assert isinstance(good.photo, InlinePhoto)
    assert good.photo.read() == jpeg()


def test_rejects_csv_and_table() -> None:
    problems = [
        FieldProblem("citizen_id", "citizen_id_check_digit", "the check character is wrong", 4),
        FieldProblem("(file)", "empty_file", 'no "rows", at all'),
    ]
    assert rejects_csv(problems).splitlines() == [
        "line,field,code,message",
        "4,citizen_id,citizen_id_check_digit,the check character is wrong",
        ',(file),empty_file,"no ""rows"", at all"',
    ]
    console = Console(file=io.StringIO(), width=120, record=True)
    console.print(problems_table(problems))
    text = console.export_text()
    assert "(2)" in text and "citizen_id_check_digit" in text and "4" in text


def test_a_row_with_another_error_is_still_reported_for_its_active_card(
    five: list[Person], five_photos: ZipPhotos
) -> None:
    bad = [*five[:4], Person(**{**five[4].__dict__, "ethnicity": "57"}), five[0]]
    holders = {five[0].citizen_id, five[4].citizen_id}

    def has_active_card(ids: Sequence[str]) -> set[str]:
        return holders & set(ids)

    result = check_batch(
        batch_csv(bad).encode(), photos=five_photos, partial=True,
        has_active_card=has_active_card, today=TODAY,
    )  # fmt: skip
    assert found(result) == [
        (2, "citizen_id", "active_card"),
        (6, "ethnicity", "invalid_ethnicity"),
        (6, "citizen_id", "active_card"),
        (7, "citizen_id", "duplicate_in_batch"),
        (7, "citizen_id", "active_card"),
    ]
    assert [a.line for a in result.applicants] == [3, 4, 5]


def test_a_name_with_a_line_break_in_a_batch_is_refused(
    five: list[Person], five_photos: ZipPhotos
) -> None:
    rows = [p.cells() for p in five]
    rows[1] = (rows[1][0], f'"{rows[1][1]}\n"', *rows[1][2:])  # quoted: the break is in the cell
    result = partial(csv_text(rows), five_photos)
    assert found(result) == [(3, "name", "name_control_characters")]
    assert [a.line for a in result.applicants] == [2, 5, 6, 7]  # line 3's cell ends on line 4
