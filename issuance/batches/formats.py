"""Reading batch files (CSV or JSON) into a stream of raw rows.

Design notes: ``docs/batches.md`` (section ``issuance.batches.formats``).
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO

from sscard_core.errors import FieldProblem

MAX_CELL_BYTES = 1024
MAX_PHOTO_BASE64_CHARS = 2_800_000  # a 2 MiB photo in base64, with room for line breaks
MAX_LINE_CHARS = MAX_PHOTO_BASE64_CHARS + 16 * MAX_CELL_BYTES
READ_CHUNK = 64 * 1024
# Trimmed around a cell: spaces only. A tab or a line break inside a cell (even at its end)
# stays, for the field's own check to refuse.
CELL_SPACE = " \u3000"
FILE_FIELD = "(file)"
HEADER_FIELD = "(header)"
ROW_FIELD = "(row)"

# csv's own cap on one field (process-wide, 128 KiB by default) must admit an inline photo.
csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_CHARS))

BatchSource = str | Path | bytes


class Column(StrEnum):
    """The columns of a batch file."""

    CITIZEN_ID = "citizen_id"
    NAME = "name"
    GENDER = "gender"
    BIRTH_DATE = "birth_date"
    ETHNICITY = "ethnicity"
    PHONE = "phone"
    PHOTO = "photo"
    PHOTO_BASE64 = "photo_base64"


REQUIRED_COLUMNS = (
    Column.CITIZEN_ID,
    Column.NAME,
    Column.GENDER,
    Column.BIRTH_DATE,
    Column.ETHNICITY,
)
PHOTO_COLUMNS = frozenset({Column.PHOTO, Column.PHOTO_BASE64})

HEADER_ALIASES: dict[str, Column] = {
    **{c.value: c for c in Column},
    "身份证号": Column.CITIZEN_ID,
    "身份证号码": Column.CITIZEN_ID,
    "公民身份号码": Column.CITIZEN_ID,
    "社会保障号码": Column.CITIZEN_ID,
    "姓名": Column.NAME,
    "性别": Column.GENDER,
    "出生日期": Column.BIRTH_DATE,
    "民族": Column.ETHNICITY,
    "民族代码": Column.ETHNICITY,
    "电话": Column.PHONE,
    "联系电话": Column.PHONE,
    "手机号": Column.PHONE,
    "照片": Column.PHOTO,
    "照片文件": Column.PHOTO,
    "照片数据": Column.PHOTO_BASE64,
}


class FileKind(StrEnum):
    CSV = "csv"
    JSON = "json"


class FormatProblem(StrEnum):
    """Problems with a file's structure (the FieldProblem code)."""

    EMPTY_FILE = "empty_file"
    MISSING_COLUMN = "missing_column"
    UNKNOWN_COLUMN = "unknown_column"
    DUPLICATE_COLUMN = "duplicate_column"
    WRONG_COLUMN_COUNT = "wrong_column_count"
    TRUNCATED_ROW = "truncated_row"
    MALFORMED = "malformed_row"
    ENCODING = "encoding_error"
    FIELD_TOO_LARGE = "field_too_large"
    NOT_AN_OBJECT = "not_an_object"
    INVALID_TYPE = "invalid_type"


@dataclass(frozen=True)
class RawRow:
    """One applicant's cells as read; ``problems`` are structural ones found while reading."""

    line: int
    cells: Mapping[Column, str]
    problems: tuple[FieldProblem, ...] = ()


Record = RawRow | FieldProblem


@dataclass(frozen=True)
class BatchFile:
    """An opened batch file: its header (for CSV) and a lazy stream of records."""

    kind: FileKind
    encoding: str
    columns: frozenset[Column] | None  # the CSV header's columns; None for JSON
    header_problems: tuple[FieldProblem, ...]
    records: Iterator[Record] = field(repr=False)


def canonical_header(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


def _problem(code: FormatProblem, message: str, line: int | None, where: str) -> FieldProblem:
    return FieldProblem(field=where, code=code, message=message, line=line)


def _opener(source: BatchSource) -> Callable[[], IO[bytes]]:
    if isinstance(source, bytes):
        return lambda: io.BytesIO(source)
    return lambda: Path(source).open("rb")


def detect_encoding(source: BatchSource) -> str:
    """``utf-8-sig`` or ``utf-8`` if the whole file decodes strictly, else ``gb18030``."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    with _opener(source)() as raw:
        first = raw.read(READ_CHUNK)
        chunk = first
        try:
            while chunk:
                decoder.decode(chunk)
                chunk = raw.read(READ_CHUNK)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8"


def sniff_kind(source: BatchSource) -> FileKind:
    """JSON for a ``.json`` path or content starting with ``[`` or ``{``; CSV otherwise."""
    if not isinstance(source, bytes):
        suffix = Path(source).suffix.lower()
        if suffix in (".json", ".csv"):
            return FileKind(suffix[1:])
    with _opener(source)() as raw:
        head = raw.read(256).removeprefix(codecs.BOM_UTF8).lstrip()
    return FileKind.JSON if head[:1] in (b"[", b"{") else FileKind.CSV


def size_problem(column: Column, value: str, line: int) -> FieldProblem | None:
    """``field_too_large`` for a cell above its cap (bytes of UTF-8, or base64 characters)."""
    if column is Column.PHOTO_BASE64:
        too_large = len(value) > MAX_PHOTO_BASE64_CHARS
        cap = f"{MAX_PHOTO_BASE64_CHARS} characters"
    else:
        too_large = len(value) > MAX_CELL_BYTES // 4 and len(value.encode()) > MAX_CELL_BYTES
        cap = f"{MAX_CELL_BYTES} bytes"
    if not too_large:
        return None
    return _problem(FormatProblem.FIELD_TOO_LARGE, f"longer than {cap}", line, column.value)


def sized_cells(
    pairs: Iterator[tuple[Column, str]], line: int
) -> tuple[dict[Column, str], list[FieldProblem]]:
    """Keep the cells within their caps; report the others."""
    cells: dict[Column, str] = {}
    problems: list[FieldProblem] = []
    for column, value in pairs:
        oversized = size_problem(column, value, line)
        if oversized is None:
            cells[column] = value
        else:
            problems.append(oversized)
    return cells, problems


def open_batch(
    source: BatchSource, *, encoding: str | None = None, kind: FileKind | None = None
) -> BatchFile:
    """Open a batch file: the header is read now, the rows as they are iterated."""
    from issuance.batches import csvfile, jsonfile

    chosen_kind = kind or sniff_kind(source)
    if chosen_kind is FileKind.JSON:
        chosen = encoding or "utf-8-sig"
        return BatchFile(FileKind.JSON, chosen, None, (), jsonfile.records(_opener(source), chosen))
    chosen = encoding or detect_encoding(source)
    return csvfile.open_csv(_opener(source), chosen)
