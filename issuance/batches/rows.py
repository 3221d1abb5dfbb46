"""One applicant row: its checks and the lightweight record that is enqueued.

:func:`check_row` turns a :class:`~issuance.batches.formats.RawRow` into an
:class:`Applicant` or a list of :class:`FieldProblem` (all of them, not just
the first), each carrying the row's line number:

* every required cell present and not empty (a column already reported
  missing in the header is not reported again on each row);
* each cell within its size cap (:data:`FIELD_MAX_CHARS`);
* the citizen ID valid by every rule of :class:`CitizenId`;
* the declared birth date and gender agreeing with the ID (:func:`cross_check`);
* the name valid (:class:`HolderName`; Latin script only for a foreign
  permanent resident's ID) and drawable by the card font (the checks of
  :func:`check_printable`, made fast in :mod:`intake.screening`);
* gender, birth date, ethnicity code (GB 3304, 1 to 56) and phone readable;
* exactly one photo, found in the archive or decoded from base64, and
  accepted as :func:`load_photo` would (:func:`screen_photo`, which decodes a
  JPEG at 1/8 scale). Nothing decoded is kept: an
  :class:`Applicant` keeps only a :class:`PhotoRef` to the bytes, so 10 000
  checked rows never hold 10 000 pictures.

Accepted spellings of gender and date are data tables (:data:`GENDER_WORDS`,
:data:`DATE_FORMATS`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol, TypeVar

from intake.photo import DEFAULT_LIMITS, PhotoLimits
from intake.screening import printed_name, screen_photo
from issuance.batches.archive import ZipPhotos
from issuance.batches.formats import PHOTO_COLUMNS, Column, FormatProblem, RawRow
from issuance.domain.identity import CitizenId, cross_check
from issuance.domain.names import HolderName, NameScript
from sscard_core.card_data import Gender
from sscard_core.errors import FieldError, FieldProblem, InputError

T = TypeVar("T")

ETHNICITY_CODES = range(1, 57)
PHONE = re.compile(r"\+?[0-9][0-9 -]{2,19}")
PHOTO_FIELDS = frozenset(c.value for c in PHOTO_COLUMNS)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
DATA_URI = re.compile(r"data:image/[a-z]+;base64,", re.IGNORECASE)


class RowProblem(StrEnum):
    """Row problems not coded by the domain's own validators (the FieldProblem code)."""

    REQUIRED = "required"
    INVALID_GENDER = "invalid_gender"
    INVALID_BIRTH_DATE = "invalid_birth_date"
    INVALID_ETHNICITY = "invalid_ethnicity"
    INVALID_PHONE = "invalid_phone"
    PHOTO_MISSING = "photo_missing"
    PHOTO_AMBIGUOUS = "photo_ambiguous"
    NO_ARCHIVE = "photo_archive_missing"
    INVALID_BASE64 = "invalid_base64"


FIELD_MAX_CHARS: dict[Column, int] = {
    Column.CITIZEN_ID: 32,
    Column.NAME: 50,
    Column.GENDER: 8,
    Column.BIRTH_DATE: 16,
    Column.ETHNICITY: 8,
    Column.PHONE: 20,
    Column.PHOTO: 255,
}

GENDER_WORDS: dict[str, Gender] = {
    "1": Gender.MALE,
    "男": Gender.MALE,
    "m": Gender.MALE,
    "male": Gender.MALE,
    "2": Gender.FEMALE,
    "女": Gender.FEMALE,
    "f": Gender.FEMALE,
    "female": Gender.FEMALE,
}

DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")


class PhotoSource(Protocol):
    """Where an applicant's photo bytes can be fetched again when the card is made."""

    def read(self) -> bytes: ...


@dataclass(frozen=True)
class ArchivePhoto:
    """A photo left in the archive, read again on demand."""

    archive: ZipPhotos = field(repr=False, compare=False)
    member: str

    def read(self) -> bytes:
        return self.archive.read(self.member)


@dataclass(frozen=True)
class InlinePhoto:
    """A photo given inline as base64 text (kept as text, decoded on demand)."""

    text: str = field(repr=False)

    def read(self) -> bytes:
        try:
            return base64.b64decode(DATA_URI.sub("", "".join(self.text.split())), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise FieldError(
                Column.PHOTO_BASE64.value, "is not valid base64", code=RowProblem.INVALID_BASE64
            ) from exc


PhotoRef = ArchivePhoto | InlinePhoto


@dataclass(frozen=True)
class Applicant:
    """A checked row: what is needed to enqueue its card, and where its photo is."""

    line: int
    citizen_id: str
    name: str
    gender: Gender
    birth_date: date
    ethnicity: int
    phone: str
    photo: PhotoRef


@dataclass(frozen=True)
class RowContext:
    """What row checks need besides the row."""

    photos: ZipPhotos | None = None
    declared: frozenset[Column] | None = None  # the CSV header's columns; None for JSON
    today: date | None = None
    photo_limits: PhotoLimits = DEFAULT_LIMITS


@dataclass(frozen=True)
class RowResult:
    """An applicant, or the row's problems; ``citizen_id`` whenever the ID itself is valid."""

    applicant: Applicant | None
    citizen_id: str | None
    problems: tuple[FieldProblem, ...]


def parse_gender(text: str) -> Gender:
    found = GENDER_WORDS.get(unicodedata.normalize("NFKC", text).strip().lower())
    if found is None:
        raise FieldError(
            "gender", f"{text!r} is not 1/2, 男/女 or M/F", code=RowProblem.INVALID_GENDER
        )
    return found


def parse_birth_date(text: str) -> date:
    value = unicodedata.normalize("NFKC", text).strip()
    if ISO_DATE.fullmatch(value):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise FieldError(
        "birth_date",
        f"{text!r} is not a date such as 1987-06-15",
        code=RowProblem.INVALID_BIRTH_DATE,
    )


def parse_ethnicity(text: str) -> int:
    value = unicodedata.normalize("NFKC", text).strip()
    if not (value.isascii() and value.isdigit()) or int(value) not in ETHNICITY_CODES:
        raise FieldError(
            "ethnicity", f"{text!r} is not a GB 3304 code 1-56", code=RowProblem.INVALID_ETHNICITY
        )
    return int(value)


def parse_phone(text: str) -> str:
    value = unicodedata.normalize("NFKC", text).strip()
    if PHONE.fullmatch(value) is None:
        raise FieldError("phone", f"{text!r} is not a phone number", code=RowProblem.INVALID_PHONE)
    return value


def _as_problem(exc: InputError, where: str, line: int) -> FieldProblem:
    if isinstance(exc, FieldError):
        p = exc.problem
        return FieldProblem(field=p.field, code=p.code, message=p.message, line=line)
    reason = exc.fields.get("reason")
    code = f"{exc.code}:{reason}" if reason else exc.code
    return FieldProblem(field=where, code=code, message=exc.message, line=line)


class _Sheet:
    """The cells of one row, with the problems found so far."""

    def __init__(self, raw: RawRow, ctx: RowContext) -> None:
        self.raw = raw
        self.ctx = ctx
        self.problems: list[FieldProblem] = list(raw.problems)

    def add(self, where: str, code: str, message: str) -> None:
        self.problems.append(
            FieldProblem(field=where, code=code, message=message, line=self.raw.line)
        )

    def reported(self, column: Column) -> bool:
        declared = self.ctx.declared
        in_header = declared is not None and column not in declared
        return in_header or any(p.field == column.value for p in self.problems)

    def photo_reported(self) -> bool:
        """True when the header lacks both photo columns or a photo cell was refused."""
        declared = self.ctx.declared
        no_column = declared is not None and not declared & PHOTO_COLUMNS
        return no_column or any(p.field in PHOTO_FIELDS for p in self.problems)

    def cell(self, column: Column, *, required: bool) -> str | None:
        value = self.raw.cells.get(column, "")
        if not value:
            if required and not self.reported(column):
                self.add(column.value, RowProblem.REQUIRED, "is required")
            return None
        cap = FIELD_MAX_CHARS.get(column)
        if cap is not None and len(value) > cap:
            self.add(column.value, FormatProblem.FIELD_TOO_LARGE, f"longer than {cap} characters")
            return None
        return value

    def attempt(self, where: str, parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except InputError as exc:
            self.problems.append(_as_problem(exc, where, self.raw.line))
            return None

    def take(self, column: Column, parse: Callable[[str], T], *, required: bool = True) -> T | None:
        value = self.cell(column, required=required)
        return None if value is None else self.attempt(column.value, lambda: parse(value))


def _name(sheet: _Sheet, citizen_id: CitizenId | None) -> str | None:
    latin = citizen_id is not None and citizen_id.is_foreign_permanent_resident

    def parse(text: str) -> str:
        holder = HolderName.parse(text, allow_latin=latin)
        printed = printed_name(holder.value)
        return printed if holder.script is NameScript.CHINESE else holder.value

    return sheet.take(Column.NAME, parse)


def _photo_ref(sheet: _Sheet) -> PhotoRef | None:
    member = sheet.cell(Column.PHOTO, required=False)
    inline = sheet.cell(Column.PHOTO_BASE64, required=False)
    if member and inline:
        sheet.add(
            Column.PHOTO.value, RowProblem.PHOTO_AMBIGUOUS, "give photo or photo_base64, not both"
        )
        return None
    if inline:
        return InlinePhoto(inline)
    if not member:
        if not sheet.photo_reported():
            sheet.add(Column.PHOTO.value, RowProblem.PHOTO_MISSING, "the row has no photo")
        return None
    if sheet.ctx.photos is None:
        sheet.add(Column.PHOTO.value, RowProblem.NO_ARCHIVE, "no photo archive was supplied")
        return None
    return ArchivePhoto(sheet.ctx.photos, member)


def _checked_photo(sheet: _Sheet) -> PhotoRef | None:
    ref = _photo_ref(sheet)
    if ref is None:
        return None
    where = Column.PHOTO.value if isinstance(ref, ArchivePhoto) else Column.PHOTO_BASE64.value
    limits = sheet.ctx.photo_limits
    screened = sheet.attempt(where, lambda: screen_photo(ref.read(), limits))
    return None if screened is None else ref  # nothing decoded is kept


def _cross_check(
    sheet: _Sheet, cid: CitizenId | None, born: date | None, gender: Gender | None
) -> None:
    if cid is not None and born is not None and gender is not None:
        sheet.attempt("citizen_id", lambda: cross_check(cid, born, gender))


def check_row(raw: RawRow, ctx: RowContext) -> RowResult:
    """Check every field of ``raw``; an :class:`Applicant` only when nothing is wrong."""
    if not raw.cells and raw.problems:
        return RowResult(None, None, raw.problems)
    sheet = _Sheet(raw, ctx)
    cid = sheet.take(Column.CITIZEN_ID, lambda t: CitizenId.parse(t, today=ctx.today))
    name = _name(sheet, cid)
    gender = sheet.take(Column.GENDER, parse_gender)
    born = sheet.take(Column.BIRTH_DATE, parse_birth_date)
    ethnicity = sheet.take(Column.ETHNICITY, parse_ethnicity)
    phone = sheet.take(Column.PHONE, parse_phone, required=False)
    photo = _checked_photo(sheet)
    _cross_check(sheet, cid, born, gender)
    key = cid.value if cid is not None else None
    if (
        sheet.problems
        or cid is None
        or name is None
        or gender is None
        or born is None
        or ethnicity is None
        or photo is None
    ):
        return RowResult(None, key, tuple(sheet.problems))
    applicant = Applicant(raw.line, cid.value, name, gender, born, ethnicity, phone or "", photo)
    return RowResult(applicant, key, ())
