"""第九条, 第十条: spot checks, the yearly evaluation and its inputs, interviews, termination.

* Spot checks (不定期抽查) are recorded with their findings.
* The yearly evaluation of year N is made in the first quarter of N+1 from: the cards the
  bank handed over in N (counted in the database), the satisfaction surveys and 12345
  complaints imported from CSV files (a file with any bad row is refused whole, each
  problem named with its line and field), and the bureau's scores for publicity, security
  rules and technical support. The rubric (weights, card target, complaint penalty, pass
  mark) is configuration: ``SSCARD_EVALUATION_RULES`` names a JSON file; without it the
  defaults of :class:`issuance.domain.banks.EvaluationRules` apply.
* An unqualified year requires an interview (约谈) record; two unqualified years in a row
  make termination on 第十条第一款(二) possible. A termination records its ground, and the
  bank's ordering stops (its stage is ``exited``).
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import orjson

from issuance.domain.banks import (
    Criterion,
    Evaluation,
    EvaluationRules,
    ServiceRecord,
    evaluate,
    evaluation_window,
)
from issuance.domain.roles import Operation
from issuance.services import oversight as bureau
from issuance.services.admin import BEIJING
from issuance.services.common import check
from issuance.store import Operator, Store
from issuance.store.oversight import EvaluationRow, OversightStore
from printers.documents.evaluation_report import CriterionLine, EvaluationReport, evaluation_pdf
from sscard_core.errors import BatchRejected, ConflictError, FieldError, FieldProblem, NotFound

RULES_VARIABLE = "SSCARD_EVALUATION_RULES"
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 100_000
MAX_CELL_CHARS = 4000
COMPLAINT_COLUMNS = ("ticket", "received_on", "bank", "outlet", "summary")
SURVEY_COLUMNS = ("year", "bank", "outlet", "surveyed", "satisfied")


# --- the rubric ----------------------------------------------------------------


def rules_from(data: Mapping[str, Any]) -> EvaluationRules:
    """A rubric from a mapping: ``weights`` (criterion → int, summing to 100), ``card_target``,
    ``points_per_complaint``, ``pass_mark``; missing keys keep their defaults."""
    default = EvaluationRules()
    try:
        weights = {Criterion(k): int(v) for k, v in data.get("weights", default.weights).items()}
        return EvaluationRules(
            weights=weights,
            card_target=int(data.get("card_target", default.card_target)),
            points_per_complaint=int(
                data.get("points_per_complaint", default.points_per_complaint)
            ),
            pass_mark=int(data.get("pass_mark", default.pass_mark)),
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise FieldError(RULES_VARIABLE, f"not a valid rubric: {exc}") from exc


def configured_rules(environ: Mapping[str, str] | None = None) -> EvaluationRules:
    """The rubric named by ``SSCARD_EVALUATION_RULES``, or the defaults."""
    path = (os.environ if environ is None else environ).get(RULES_VARIABLE)
    if not path:
        return EvaluationRules()
    try:
        data = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise FieldError(RULES_VARIABLE, f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise FieldError(RULES_VARIABLE, "the rubric is a JSON object")
    return rules_from(data)


def rules_dict(rules: EvaluationRules) -> dict[str, Any]:
    return {
        "weights": {c.value: w for c, w in rules.weights.items()},
        "card_target": rules.card_target,
        "points_per_complaint": rules.points_per_complaint,
        "pass_mark": rules.pass_mark,
    }


# --- spot checks ----------------------------------------------------------------


@dataclass(frozen=True)
class SpotCheck:
    bank: str
    outlet: str | None
    checked_on: date
    findings: str
    satisfactory: bool


async def record_spot_check(store: Store, op: Operator, c: SpotCheck) -> dict[str, Any]:
    check(op, Operation.EVALUATE_BANK, c.bank)
    if not 0 < len(c.findings.strip()) <= 4000:
        raise FieldError("findings", "1 to 4000 characters")
    async with store.transaction() as tx:
        o = bureau.oversight(tx)
        await _known_bank(o, c.bank)
        if c.outlet is not None:
            owners = await o.known_outlets([c.outlet])
            if owners.get(c.outlet) != c.bank:
                raise FieldError("outlet", f"no outlet {c.outlet} at bank {c.bank}")
        check_id = await o.insert_spot_check(
            c.bank, c.outlet, on=c.checked_on, findings=c.findings.strip(),
            ok=c.satisfactory, op=op.id,
        )  # fmt: skip
        await bureau.log(o, op, c.bank, "spot_check", str(check_id),
                         satisfactory=c.satisfactory)  # fmt: skip
        return {"id": check_id, **c.__dict__}


async def spot_checks(store: Store, op: Operator, bank: str | None) -> list[dict[str, Any]]:
    check(op, Operation.READ_OVERSIGHT, bank)
    return await bureau.oversight(store).spot_checks(op.bank or bank)


async def _known_bank(o: OversightStore, bank: str) -> None:
    if await o.bank(bank) is None:
        raise NotFound(f"no bank {bank}", resource="bank")


# --- imports ----------------------------------------------------------------


def _rows(data: bytes, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of a CSV file with exactly ``columns`` as its header."""
    if len(data) > MAX_IMPORT_BYTES:
        raise FieldError("file", f"larger than {MAX_IMPORT_BYTES} bytes", code="file_too_large")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FieldError("file", f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if "\x00" in text:
        raise FieldError("file", "contains a NUL character")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        yield from _checked_rows(reader, columns)
    except csv.Error as exc:
        raise FieldError("file", f"not a CSV file: {exc}", line=reader.line_num) from exc


def _checked_rows(reader: Any, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != tuple(columns):
        raise FieldError("header", f"the first line must be {','.join(columns)}", line=1)
    for row in reader:
        if reader.line_num - 1 > MAX_IMPORT_ROWS:
            raise FieldError("file", f"more than {MAX_IMPORT_ROWS} rows", code="too_many_rows")
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            yield reader.line_num, {"__width__": str(len(row))}
            continue
        for column, value in zip(columns, row, strict=True):
            if len(value) > MAX_CELL_CHARS:
                raise FieldError(column, f"longer than {MAX_CELL_CHARS} characters",
                                 line=reader.line_num)  # fmt: skip
        yield reader.line_num, {c: v.strip() for c, v in zip(columns, row, strict=True)}


class _Problems:
    def __init__(self) -> None:
        self.items: list[FieldProblem] = []

    def add(self, line: int, field: str, message: str, code: str = "invalid_field") -> None:
        self.items.append(FieldProblem(field, code, message, line))

    def raise_any(self, what: str) -> None:
        if self.items:
            raise BatchRejected(self.items, f"{len(self.items)} problem(s) in the {what} file; "
                                "nothing was imported")  # fmt: skip


def _int(problems: _Problems, line: int, field: str, value: str, *, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        problems.add(line, field, "must be a whole number")
        return low
    if not low <= number <= high:
        problems.add(line, field, f"must be between {low} and {high}")
    return number


def _date(problems: _Problems, line: int, field: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.add(line, field, "must be a date YYYY-MM-DD")
        return date.min


async def _owners(o: OversightStore, rows: Sequence[tuple[int, dict[str, str]]]) -> tuple[
    set[str], dict[str, str]
]:  # fmt: skip
    banks = {b.code for b in await o.banks()}
    outlets = await o.known_outlets(sorted({r.get("outlet", "") for _, r in rows} - {""}))
    return banks, outlets


def _bank_and_outlet(
    problems: _Problems, line: int, row: dict[str, str], banks: set[str], outlets: dict[str, str]
) -> None:
    if row["bank"] not in banks:
        problems.add(line, "bank", f"no bank {row['bank']!r}", "unknown_bank")
    elif row["outlet"] and outlets.get(row["outlet"]) != row["bank"]:
        problems.add(line, "outlet", f"no outlet {row['outlet']!r} at bank {row['bank']}",
                     "unknown_outlet")  # fmt: skip


def _width(problems: _Problems, line: int, row: dict[str, str], columns: Sequence[str]) -> bool:
    if "__width__" in row:
        problems.add(line, "row", f"{row['__width__']} fields where {len(columns)} are expected")
        return False
    return True


@dataclass(frozen=True)
class Imported:
    kind: str
    rows: int


async def import_complaints(store: Store, op: Operator, data: bytes) -> Imported:
    """12345 complaints: ticket,received_on,bank,outlet,summary (outlet may be empty)."""
    check(op, Operation.EVALUATE_BANK, None)
    rows = list(_rows(data, COMPLAINT_COLUMNS))
    problems = _Problems()
    async with store.transaction() as tx:
        o = bureau.oversight(tx)
        banks, outlets = await _owners(o, [r for r in rows if "__width__" not in r[1]])
        known = await o.existing_tickets([r.get("ticket", "") for _, r in rows])
        seen: set[str] = set()
        good: list[tuple[str, date, str, str | None, str]] = []
        for line, row in rows:
            if not _width(problems, line, row, COMPLAINT_COLUMNS):
                continue
            ticket = row["ticket"]
            if not 0 < len(ticket) <= 64:
                problems.add(line, "ticket", "1 to 64 characters")
            elif ticket in seen or ticket in known:
                problems.add(line, "ticket", f"ticket {ticket} is already imported", "duplicate")
            seen.add(ticket)
            received = _date(problems, line, "received_on", row["received_on"])
            _bank_and_outlet(problems, line, row, banks, outlets)
            if len(row["summary"]) > 1000:
                problems.add(line, "summary", "at most 1000 characters")
            good.append((ticket, received, row["bank"], row["outlet"] or None, row["summary"]))
        problems.raise_any("complaints")
        await o.insert_complaints(good)
        await bureau.log(o, op, None, "import_complaints", "12345", rows=len(good))
    return Imported("complaints_12345", len(good))


async def import_survey(store: Store, op: Operator, data: bytes) -> Imported:
    """Satisfaction surveys: year,bank,outlet,surveyed,satisfied (outlet may be empty); a row
    for a (year, bank, outlet) already imported replaces it."""
    check(op, Operation.EVALUATE_BANK, None)
    rows = list(_rows(data, SURVEY_COLUMNS))
    problems = _Problems()
    async with store.transaction() as tx:
        o = bureau.oversight(tx)
        banks, outlets = await _owners(o, [r for r in rows if "__width__" not in r[1]])
        seen: set[tuple[str, str, str]] = set()
        good: list[tuple[int, str, str, int, int]] = []
        for line, row in rows:
            if not _width(problems, line, row, SURVEY_COLUMNS):
                continue
            year = _int(problems, line, "year", row["year"], low=2000, high=2100)
            surveyed = _int(problems, line, "surveyed", row["surveyed"], low=1, high=10_000_000)
            satisfied = _int(problems, line, "satisfied", row["satisfied"], low=0, high=10_000_000)
            if satisfied > surveyed:
                problems.add(line, "satisfied", "more satisfied than surveyed")
            _bank_and_outlet(problems, line, row, banks, outlets)
            key = (row["year"], row["bank"], row["outlet"])
            if key in seen:
                problems.add(line, "outlet", "a second row for this year, bank and outlet",
                             "duplicate")  # fmt: skip
            seen.add(key)
            good.append((year, row["bank"], row["outlet"], surveyed, satisfied))
        problems.raise_any("survey")
        await o.upsert_satisfaction(good)
        await bureau.log(o, op, None, "import_survey", "satisfaction", rows=len(good))
    return Imported("satisfaction", len(good))


# --- the yearly evaluation ----------------------------------------------------------------


@dataclass(frozen=True)
class BureauScores:
    bank: str
    year: int
    publicity: int
    security_rules: int
    technical_support: int
    evaluated_on: date


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=BEIJING), datetime(year + 1, 1, 1, tzinfo=BEIJING)


async def service_record(o: OversightStore, s: BureauScores) -> ServiceRecord:
    """The bank's year: cards handed over and complaints counted, satisfaction summed."""
    start, end = _year_bounds(s.year)
    cards = await o.cards_issued(s.bank, start, end)
    surveyed, satisfied = await o.satisfaction(s.bank, s.year)
    if not surveyed:
        raise ConflictError(f"no satisfaction survey of {s.bank} for {s.year} is imported",
                            code="survey_missing", clause="第九条")  # fmt: skip
    complaints = await o.complaints(s.bank, date(s.year, 1, 1), date(s.year + 1, 1, 1))
    percent = int(Fraction(satisfied * 100, surveyed))
    return ServiceRecord(s.bank, s.year, cards, percent, complaints, s.publicity,
                         s.security_rules, s.technical_support)  # fmt: skip


async def run_evaluation(
    store: Store, op: Operator, s: BureauScores, rules: EvaluationRules | None = None
) -> EvaluationRow:
    """第九条: evaluate year ``s.year`` of the bank, in the first quarter of the next year."""
    check(op, Operation.EVALUATE_BANK, s.bank)
    for name in ("publicity", "security_rules", "technical_support"):
        if not 0 <= getattr(s, name) <= 100:
            raise FieldError(name, "a score from 0 to 100")
    first, last = evaluation_window(s.year)
    if not first <= s.evaluated_on <= last:
        raise ConflictError(
            f"year {s.year} is evaluated in the first quarter of {s.year + 1} "
            f"({first} to {last}), not on {s.evaluated_on}", code="outside_evaluation_window",
            clause="第九条",
        )  # fmt: skip
    rubric = rules or configured_rules()
    async with store.transaction() as tx:
        o = bureau.oversight(tx)
        await _known_bank(o, s.bank)
        record = await service_record(o, s)
        result = evaluate(record, rubric)
        values = (
            s.bank, s.year, record.cards_issued, record.satisfaction_percent,
            record.complaints_12345, s.publicity, s.security_rules, s.technical_support,
            orjson.dumps({c.value: v for c, v in result.scores}).decode(),
            Decimal(result.total.numerator) / Decimal(result.total.denominator),
            result.passed, orjson.dumps(rules_dict(rubric)).decode(), s.evaluated_on, op.id,
        )  # fmt: skip
        if not await o.insert_evaluation(values):
            raise ConflictError(f"{s.bank} is already evaluated for {s.year}",
                                code="evaluation_exists")  # fmt: skip
        await bureau.log(o, op, s.bank, "evaluation", str(s.year), passed=result.passed,
                         total=str(float(result.total)))  # fmt: skip
        (row,) = await o.evaluations(s.bank, s.year)
        return row


async def evaluations(
    store: Store, op: Operator, bank: str | None, year: int | None = None
) -> list[EvaluationRow]:
    check(op, Operation.READ_OVERSIGHT, bank)
    return await bureau.oversight(store).evaluations(op.bank or bank, year)


@dataclass(frozen=True)
class Interview:
    bank: str
    year: int
    held_on: date
    attendees: str
    summary: str


async def record_interview(store: Store, op: Operator, i: Interview) -> dict[str, Any]:
    """约谈 after an unqualified evaluation (第九条)."""
    check(op, Operation.EVALUATE_BANK, i.bank)
    if not 0 < len(i.attendees.strip()) <= 1000:
        raise FieldError("attendees", "1 to 1000 characters")
    if not 0 < len(i.summary.strip()) <= 4000:
        raise FieldError("summary", "1 to 4000 characters")
    async with store.transaction() as tx:
        o = bureau.oversight(tx)
        found = await o.evaluations(i.bank, i.year)
        if not found:
            raise NotFound(f"no evaluation of {i.bank} for {i.year}", resource="evaluation")
        if found[0].passed:
            raise ConflictError(f"{i.bank} qualified in {i.year}: no interview is called for",
                                code="interview_not_required", clause="第九条")  # fmt: skip
        if i.held_on < found[0].evaluated_on:
            raise FieldError("held_on", "the interview follows the evaluation")
        interview_id = await o.insert_interview(
            i.bank, i.year, held_on=i.held_on, attendees=i.attendees.strip(),
            summary=i.summary.strip(), op=op.id,
        )  # fmt: skip
        await bureau.log(o, op, i.bank, "interview", str(i.year), interview=interview_id)
        return {"id": interview_id, **i.__dict__}


async def interviews(store: Store, op: Operator, bank: str | None) -> list[dict[str, Any]]:
    check(op, Operation.READ_OVERSIGHT, bank)
    return await bureau.oversight(store).interviews(op.bank or bank)


def as_domain(row: EvaluationRow) -> Evaluation:
    scores = tuple((Criterion(k), int(v)) for k, v in row.scores.items())
    return Evaluation(row.bank, row.year, scores, Fraction(row.total), row.passed)


async def terminate(
    store: Store, op: Operator, code: str, t: bureau.Termination
) -> bureau.BankView:
    """第十条: the bank's evaluations show (or not) two unqualified years in a row."""
    rows = await bureau.oversight(store).evaluations(code)
    return await bureau.terminate(store, op, code, t, [as_domain(r) for r in rows])


# --- the report ----------------------------------------------------------------


def _measured(row: EvaluationRow) -> dict[str, str]:
    return {
        Criterion.CARDS_ISSUED.value: f"{row.cards_issued} 张",
        Criterion.SATISFACTION.value: f"{row.satisfaction_percent}%",
        Criterion.COMPLAINTS.value: f"{row.complaints} 件",
        Criterion.PUBLICITY.value: f"{row.publicity} 分",
        Criterion.SECURITY_RULES.value: f"{row.security_rules} 分",
        Criterion.TECHNICAL_SUPPORT.value: f"{row.technical_support} 分",
    }


async def report_pdf(store: Store, op: Operator, bank: str, year: int) -> bytes:
    """The yearly evaluation report of one bank, as a PDF."""
    check(op, Operation.READ_OVERSIGHT, bank)
    o = bureau.oversight(store)
    found = await o.evaluations(bank, year)
    bank_row = await o.bank(bank)
    if not found or bank_row is None:
        raise NotFound(f"no evaluation of {bank} for {year}", resource="evaluation")
    row = found[0]
    measured = _measured(row)
    weights = row.rules["weights"]
    lines = [
        CriterionLine(c, measured.get(c, ""), int(score), int(weights.get(c, 0)))
        for c, score in row.scores.items()
    ]
    talks = [f"{i['held_on']} {i['summary']}" for i in await o.interviews(bank)
             if i["year"] == year]  # fmt: skip
    checks = [
        f"{c['checked_on']} {'合格' if c['satisfactory'] else '存在问题'}:{c['findings']}"
        for c in await o.spot_checks(bank)
        if c["checked_on"].year == year
    ]
    report = EvaluationReport(
        bank, bank_row.name, year, row.evaluated_on, lines, f"{row.total:.2f}",
        int(row.rules["pass_mark"]), row.passed, talks, checks,
    )  # fmt: skip
    return await asyncio.to_thread(evaluation_pdf, report)
