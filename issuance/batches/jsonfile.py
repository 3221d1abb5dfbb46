"""The JSON side of :mod:`issuance.batches.formats` (see there for the rules).

:class:`_Scanner` keeps a text buffer over the stream and decodes one value
at a time with :meth:`json.JSONDecoder.raw_decode`. When a value is cut by
the end of the buffer, the buffer grows (geometrically, so a large element is
re-parsed only a few times) up to :data:`MAX_LINE_CHARS`; past that, or at
the end of the stream, the value is malformed. Consumed text is dropped, so
memory stays at about one element. Before each value is decoded, its nesting
is measured (:func:`issuance.jsondepth.depth_exceeds`): a value nested deeper
than :data:`MAX_ELEMENT_DEPTH` makes the file malformed, where the decoder
would recurse until ``RecursionError``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import IO

from issuance.batches.formats import (
    CELL_SPACE,
    FILE_FIELD,
    HEADER_ALIASES,
    MAX_LINE_CHARS,
    READ_CHUNK,
    ROW_FIELD,
    Column,
    FormatProblem,
    RawRow,
    Record,
    canonical_header,
    sized_cells,
)
from issuance.jsondepth import MAX_JSON_DEPTH, depth_exceeds
from sscard_core.errors import FieldProblem

LIST_KEY = "applicants"
WHITESPACE = " \t\r\n"
# An applicant is an object of scalars (depth 1); deeper values are refused by type anyway.
MAX_ELEMENT_DEPTH = MAX_JSON_DEPTH


class _Malformed(Exception):
    pass


class _Scanner:
    """Values and punctuation read one at a time from a text stream."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        if self._eof:
            return False
        if self._pos > READ_CHUNK:
            self._buf, self._pos = self._buf[self._pos :], 0
        chunk = self._text.read(max(READ_CHUNK, len(self._buf) - self._pos))
        self._eof = not chunk
        self._buf += chunk
        return bool(chunk)

    def peek(self) -> str:
        """The next non-blank character ('' at the end)."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in WHITESPACE:
                self._pos += 1
            if self._pos < len(self._buf) or not self._fill():
                return self._buf[self._pos : self._pos + 1]

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise _Malformed(f"expected {char!r}")
        self._pos += 1

    def value(self) -> object:
        self.peek()
        while True:
            if depth_exceeds(self._buf, MAX_ELEMENT_DEPTH, self._pos):
                raise _Malformed(f"a value nested deeper than {MAX_ELEMENT_DEPTH} levels")
            try:
                found, end = self._decoder.raw_decode(self._buf, self._pos)
            except RecursionError as exc:  # the depth check makes this unreachable; kept safe
                raise _Malformed("a value nested too deeply") from exc
            except json.JSONDecodeError as exc:
                if len(self._buf) - self._pos > MAX_LINE_CHARS:
                    raise _Malformed(f"an element larger than {MAX_LINE_CHARS} characters") from exc
                if not self._fill():
                    raise _Malformed(exc.msg) from exc
                continue
            self._pos = end
            return found


def _seek_list(scan: _Scanner) -> None:
    """Position the scanner after the '[' of the applicant list."""
    if scan.peek() == "[":
        scan.expect("[")
        return
    scan.expect("{")
    while scan.peek() == '"':
        key = scan.value()
        scan.expect(":")
        if key == LIST_KEY:
            scan.expect("[")
            return
        scan.value()
        if scan.peek() == ",":
            scan.expect(",")
    raise _Malformed(f"no {LIST_KEY!r} list")


def _elements(scan: _Scanner) -> Iterator[object]:
    _seek_list(scan)
    if scan.peek() == "]":
        return
    while True:
        yield scan.value()
        if scan.peek() == "]":
            return
        scan.expect(",")


def _problem(code: FormatProblem, message: str, line: int, where: str) -> FieldProblem:
    return FieldProblem(field=where, code=code, message=message, line=line)


def _cell(value: object) -> str | None:
    """A JSON scalar as cell text; None for a type no column takes."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip(CELL_SPACE)


def _pairs(
    item: dict[str, object], line: int, problems: list[FieldProblem]
) -> Iterator[tuple[Column, str]]:
    for key, value in item.items():
        column = HEADER_ALIASES.get(canonical_header(key))
        text = _cell(value)
        if column is None:
            message = f"unknown field {key!r}"
            problems.append(_problem(FormatProblem.UNKNOWN_COLUMN, message, line, ROW_FIELD))
        elif text is None:
            message = f"{type(value).__name__} is not a text or a number"
            problems.append(_problem(FormatProblem.INVALID_TYPE, message, line, column.value))
        else:
            yield column, text


def _row(item: object, line: int) -> RawRow:
    if not isinstance(item, dict):
        message = "an applicant must be a JSON object"
        return RawRow(line, {}, (_problem(FormatProblem.NOT_AN_OBJECT, message, line, ROW_FIELD),))
    problems: list[FieldProblem] = []
    cells, oversized = sized_cells(_pairs(item, line, problems), line)
    return RawRow(line=line, cells=cells, problems=tuple(problems + oversized))


def records(open_binary: Callable[[], IO[bytes]], encoding: str) -> Iterator[Record]:
    """The applicants of a JSON batch, one at a time; a file problem ends the stream."""
    index = 0
    with open_binary() as raw, io.TextIOWrapper(raw, encoding=encoding) as text:
        scan = _Scanner(text)
        if scan.peek() == "":
            yield FieldProblem(FILE_FIELD, FormatProblem.EMPTY_FILE, "the file is empty")
            return
        try:
            for index, item in enumerate(_elements(scan), start=1):
                yield _row(item, index)
        except (_Malformed, UnicodeDecodeError) as exc:
            message = f"not a JSON list of applicants: {exc}"
            yield _problem(FormatProblem.MALFORMED, message, index + 1, FILE_FIELD)
