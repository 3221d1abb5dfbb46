"""The CSV side of :mod:`issuance.batches.formats` (see there for the rules).

Lines come from :class:`_Lines`, which reads with ``readline(limit)`` so a
line can never grow past :data:`MAX_LINE_CHARS`, and counts physical lines so
each row carries the line it starts on. The header is read eagerly by
:func:`open_csv`; the rows are a generator that holds the file open until it
is exhausted or closed.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from issuance.batches.formats import (
    CELL_SPACE,
    FILE_FIELD,
    HEADER_ALIASES,
    HEADER_FIELD,
    MAX_LINE_CHARS,
    PHOTO_COLUMNS,
    REQUIRED_COLUMNS,
    ROW_FIELD,
    BatchFile,
    Column,
    FileKind,
    FormatProblem,
    RawRow,
    Record,
    canonical_header,
    sized_cells,
)
from sscard_core.errors import FieldProblem


class _LineTooLong(Exception):
    pass


class _Lines:
    """Physical lines of a binary stream, capped in length, decoded one by one, counted.

    Lines are split on the byte ``\n``, which is never part of a multi-byte
    character in UTF-8 or GB 18030, and each is decoded on its own, so an
    undecodable byte is reported on its own line.
    """

    def __init__(self, raw: IO[bytes], encoding: str, limit: int = MAX_LINE_CHARS) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)("strict")
        self._limit = limit
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._raw.readline(self._limit + 1)
        if not line:
            raise StopIteration
        self.count += 1
        if len(line) > self._limit:
            raise _LineTooLong
        return self._decoder.decode(line)


@dataclass(frozen=True)
class _Header:
    line: int
    columns: tuple[Column | None, ...]  # None: an unknown or repeated column
    problems: tuple[FieldProblem, ...]

    @property
    def present(self) -> frozenset[Column]:
        return frozenset(c for c in self.columns if c is not None)


def _problem(code: FormatProblem, message: str, line: int | None, where: str) -> FieldProblem:
    return FieldProblem(field=where, code=code, message=message, line=line)


def _header_columns(
    cells: Sequence[str], line: int
) -> tuple[list[Column | None], list[FieldProblem]]:
    columns: list[Column | None] = []
    problems: list[FieldProblem] = []
    for cell in cells:
        column = HEADER_ALIASES.get(canonical_header(cell))
        if column is None:
            problems.append(
                _problem(
                    FormatProblem.UNKNOWN_COLUMN, f"unknown column {cell!r}", line, HEADER_FIELD
                )
            )
        elif column in columns:
            problems.append(
                _problem(
                    FormatProblem.DUPLICATE_COLUMN, f"{cell!r} appears twice", line, column.value
                )
            )
            column = None
        columns.append(column)
    return columns, problems


def _missing_columns(present: set[Column], line: int) -> list[FieldProblem]:
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    problems = [
        _problem(FormatProblem.MISSING_COLUMN, "the column is missing", line, c.value)
        for c in missing
    ]
    if not present & PHOTO_COLUMNS:
        problems.append(
            _problem(
                FormatProblem.MISSING_COLUMN,
                "a photo or photo_base64 column is needed",
                line,
                Column.PHOTO.value,
            )
        )
    return problems


def parse_header(cells: Sequence[str], line: int) -> _Header:
    columns, problems = _header_columns(cells, line)
    problems += _missing_columns({c for c in columns if c is not None}, line)
    return _Header(line=line, columns=tuple(columns), problems=tuple(problems))


def _is_blank(cells: Sequence[str]) -> bool:
    return all(not cell.strip() for cell in cells)


def _row(cells: list[str], line: int, header: _Header) -> RawRow:
    width = len(header.columns)
    if len(cells) != width:
        code = (
            FormatProblem.TRUNCATED_ROW if len(cells) < width else FormatProblem.WRONG_COLUMN_COUNT
        )
        message = f"{len(cells)} cells where the header has {width}"
        return RawRow(line=line, cells={}, problems=(_problem(code, message, line, ROW_FIELD),))
    pairs = (
        (c, v.strip(CELL_SPACE))
        for c, v in zip(header.columns, cells, strict=True)
        if c is not None
    )
    kept, problems = sized_cells(pairs, line)
    return RawRow(line=line, cells=kept, problems=tuple(problems))


def _failure(exc: Exception, line: int) -> FieldProblem:
    if isinstance(exc, UnicodeDecodeError):
        return _problem(
            FormatProblem.ENCODING, f"undecodable bytes: {exc.reason}", line, FILE_FIELD
        )
    if isinstance(exc, _LineTooLong):
        return _problem(
            FormatProblem.FIELD_TOO_LARGE,
            f"a line longer than {MAX_LINE_CHARS} characters",
            line,
            ROW_FIELD,
        )
    return _problem(FormatProblem.MALFORMED, f"cannot be parsed as CSV: {exc}", line, ROW_FIELD)


_READ_ERRORS = (csv.Error, _LineTooLong, UnicodeDecodeError)


def _stream(open_binary: Callable[[], IO[bytes]], encoding: str) -> Iterator[_Header | Record]:
    """Yield the header (or a problem), then each row; stops at the first unreadable line."""
    with open_binary() as raw:
        lines = _Lines(raw, encoding)
        reader = csv.reader(lines, strict=True)
        header: _Header | None = None
        start = 1
        try:
            for cells in reader:
                line, start = start, lines.count + 1
                if _is_blank(cells):
                    continue
                if header is None:
                    header = parse_header(cells, line)
                    yield header
                else:
                    yield _row(cells, line, header)
        except _READ_ERRORS as exc:
            yield _failure(exc, start)


def _empty() -> FieldProblem:
    return _problem(
        FormatProblem.EMPTY_FILE, "the file holds no header and no applicant", None, FILE_FIELD
    )


def _rows_only(stream: Iterator[_Header | Record]) -> Iterator[Record]:
    for item in stream:
        if not isinstance(item, _Header):
            yield item


def open_csv(open_binary: Callable[[], IO[bytes]], encoding: str) -> BatchFile:
    """Read the header now; the rows stream from :attr:`BatchFile.records`."""
    stream = _stream(open_binary, encoding)
    first = next(stream, None)
    if isinstance(first, _Header):
        return BatchFile(FileKind.CSV, encoding, first.present, first.problems, _rows_only(stream))
    problems = (first,) if isinstance(first, FieldProblem) else (_empty(),)
    return BatchFile(FileKind.CSV, encoding, frozenset(), problems, iter(()))
