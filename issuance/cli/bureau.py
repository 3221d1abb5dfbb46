"""The bureau's commands: a bank's lifecycle, outlet filings and the 70 % rule.

    sscard bank apply CODE NAME --by ADMIN [--on DATE] [--doc REF ...]
    sscard bank conditions CODE --by ADMIN --pboc-ref REF --reviewed-on DATE --remote-activation
    sscard bank decide CODE STAGE --by ADMIN [--on DATE] [--doc REF ...] [--note TEXT]
    sscard bank exit CODE --ground G --by ADMIN --doc REF [--on DATE]
    sscard bank list | show CODE | overdue [--on DATE]
    sscard outlet file BANK --kind add|change|close --by BANK_ADMIN --code C [form fields]
    sscard outlet acknowledge|return FILING --by ADMIN [--note TEXT]
    sscard outlet filings [--bank B] [--status S] | share BANK
    sscard evaluation import-survey|import-complaints FILE --by ADMIN
    sscard evaluation run BANK YEAR --by ADMIN --publicity N --security-rules N
        --technical-support N [--on DATE]
    sscard evaluation list [--bank B] | report BANK YEAR -o FILE.pdf
    sscard evaluation interview BANK YEAR --by ADMIN --attendees A --summary S
    sscard evaluation spot-check BANK --by ADMIN --findings F [--outlet O] [--unsatisfactory]

``--by`` names the operator who decides or files (a bureau administrator, or the bank's
administrator for filings): the command acts with that operator's rights, and the
decision is recorded under that name. Bad input exits 2 naming the field.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import TypeAlias, TypeVar

from rich.console import Console

from issuance.cli.common import run
from issuance.config import Settings
from issuance.domain.banks import BankStage, ExitGround, FilingKind
from issuance.domain.counter_services import Service
from issuance.domain.roles import Role
from issuance.runtime import Runtime
from issuance.services import evaluation, outlets, oversight
from issuance.services.admin import today
from issuance.store import Operator, Store
from issuance.store.oversight import EvaluationRow, FilingRow
from sscard_core.errors import FieldError

out = Console(highlight=False, soft_wrap=True)
T = TypeVar("T")
Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


async def with_store(action: Callable[[Store], Awaitable[T]]) -> T:
    async with Runtime(Settings.from_env(), pool_size=2) as rt:
        return await action(rt.store)


async def as_operator(name: str, action: Callable[[Store, Operator], Awaitable[T]]) -> T:
    async def go(store: Store) -> T:
        return await action(store, await oversight.operator_named(store, name))

    return await with_store(go)


def _by(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", required=True, help="the operator's name (who decides or files)")


def _docs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--doc", action="append", default=[], help="a document referred to")
    parser.add_argument("--note", default="")


def _on(parser: argparse.ArgumentParser, flag: str = "--on") -> None:
    parser.add_argument(flag, type=date.fromisoformat, default=None, help="YYYY-MM-DD (today)")


def register_bank(bank: Sub) -> None:
    """``sscard bank ...`` besides ``create``."""
    p = bank.add_parser("apply", help="record a bank's application (第六条(一))")
    p.add_argument("code")
    p.add_argument("name")
    _by(p)
    _on(p)
    _docs(p)
    p.set_defaults(func=lambda a: run(_apply(a)))

    p = bank.add_parser("conditions", help="record the conditions of 第四条")
    p.add_argument("code")
    _by(p)
    _docs(p)
    p.add_argument("--pboc-ref", required=True, help="the PBOC conformity review's reference")
    p.add_argument("--reviewed-on", type=date.fromisoformat, required=True)
    p.add_argument("--remote-activation", action="store_true",
                   help="committed to nationwide remote activation (第四条(二))")  # fmt: skip
    p.set_defaults(func=lambda a: run(_conditions(a)))

    p = bank.add_parser("decide", help="move a bank one step of its lifecycle")
    p.add_argument("code")
    p.add_argument("stage", choices=[s.value for s in BankStage if s is not BankStage.EXITED])
    _by(p)
    _on(p)
    _docs(p)
    p.set_defaults(func=lambda a: run(_decide(a)))

    p = bank.add_parser("exit", help="terminate the agreement (第十条)")
    p.add_argument("code")
    p.add_argument("--ground", required=True, choices=[g.value for g in ExitGround])
    _by(p)
    _on(p)
    _docs(p)
    p.set_defaults(func=lambda a: run(_exit(a)))

    p = bank.add_parser("list", help="every bank, its stage and deadline")
    p.set_defaults(func=lambda a: run(_list()))
    p = bank.add_parser("show", help="a bank's decisions and deadline")
    p.add_argument("code")
    p.set_defaults(func=lambda a: run(_show(a.code)))
    p = bank.add_parser("overdue", help="第六条 steps past their deadline, both sides")
    _on(p)
    p.set_defaults(func=lambda a: run(_overdue(a.on)))


def register_outlet(outlet: Sub) -> None:
    """``sscard outlet ...`` besides ``create``."""
    p = outlet.add_parser("file", help="file an outlet's opening, change or closing (第七条)")
    p.add_argument("bank")
    p.add_argument("--kind", required=True, choices=[k.value for k in FilingKind])
    p.add_argument("--code", required=True)
    _by(p)
    p.add_argument("--name", default="")
    p.add_argument("--district", default="110101", help="1101xx, or any region if activation-only")
    p.add_argument("--address", default="")
    p.add_argument("--hours", default="", help="opening hours")
    p.add_argument("--service", action="append", default=[], choices=[s.value for s in Service])
    p.add_argument("--instant", action="store_true", help="issues cards on the spot")
    p.add_argument("--terminal", action="store_true", help="has a security terminal")
    p.add_argument("--psam", help="the PSAM card's serial")
    p.add_argument("--activation-only", action="store_true", help="第四条(二): activates only")
    _on(p, "--filed-on")
    p.set_defaults(func=lambda a: run(_file(a)))

    for name, ack in (("acknowledge", True), ("return", False)):
        p = outlet.add_parser(name, help=f"{name} a filing (the bureau)")
        p.add_argument("filing", type=int)
        _by(p)
        p.add_argument("--note", default="")
        p.set_defaults(func=lambda a, ack=ack: run(_decide_filing(a, ack)))

    p = outlet.add_parser("filings", help="filings, newest first")
    p.add_argument("--bank")
    p.add_argument("--outlet")
    p.add_argument("--status", choices=["filed", "acknowledged", "returned"])
    p.set_defaults(func=lambda a: run(_filings(a)))
    p = outlet.add_parser("share", help="a bank's instant-issuance share (第五条(四))")
    p.add_argument("bank")
    p.set_defaults(func=lambda a: run(_share(a.bank)))


# --- banks --------------------------------------------------------------------------------------


def _print_view(v: oversight.BankView) -> None:
    b = v.bank
    existing = " (registered as an existing cooperating bank)" if b.registered_as_existing else ""
    out.print(f"bank {b.code} {b.name}: {b.stage}{existing}")
    if v.deadline is not None:
        d = v.deadline
        late = " OVERDUE" if d.overdue else ""
        due = d.due if d.due is not None else f"unknown ({d.error})"
        out.print(f"  next step owed by the {d.owed_by} by {due} ({d.clause}){late}")
    for step in v.decisions:
        docs = f" documents: {', '.join(step.documents)}" if step.documents else ""
        who = "setup" if step.decided_by is None else f"operator {step.decided_by}"
        out.print(f"  {step.decided_on} {step.from_stage or '-'} → {step.to_stage} by {who}"
                  f"{docs} {step.note}".rstrip())  # fmt: skip


async def _apply(a: argparse.Namespace) -> int:
    new = oversight.NewBank(a.code, a.name, a.on or today(), tuple(a.doc), a.note)
    _print_view(await as_operator(a.by, lambda s, op: oversight.register_application(s, op, new)))
    return 0


async def _conditions(a: argparse.Namespace) -> int:
    c = oversight.Conditions(a.pboc_ref, a.reviewed_on, a.remote_activation, tuple(a.doc))
    _print_view(
        await as_operator(a.by, lambda s, op: oversight.record_conditions(s, op, a.code, c))
    )
    return 0


async def _decide(a: argparse.Namespace) -> int:
    d = oversight.Decision(BankStage(a.stage), a.on or today(), tuple(a.doc), a.note)
    _print_view(await as_operator(a.by, lambda s, op: oversight.decide(s, op, a.code, d)))
    return 0


async def _exit(a: argparse.Namespace) -> int:
    t = oversight.Termination(ExitGround(a.ground), a.on or today(), tuple(a.doc), a.note)

    async def go(store: Store, op: Operator) -> oversight.BankView:
        return await evaluation.terminate(store, op, a.code, t)

    _print_view(await as_operator(a.by, go))
    return 0


async def _list() -> int:
    views = await with_store(lambda s: oversight.list_banks(s, _bureau_reader()))
    for v in views:
        _print_view(v)
    return 0


async def _show(code: str) -> int:
    _print_view(await with_store(lambda s: oversight.bank_view(s, _bureau_reader(), code)))
    return 0


async def _overdue(on: date | None) -> int:
    steps = await with_store(lambda s: oversight.overdue(s, _bureau_reader(), on))
    for step in steps:
        d = step.deadline
        out.print(f"{step.bank} {step.name}: {d.stage}, owed by the {d.owed_by}, due {d.due} "
                  f"({d.clause})")  # fmt: skip
    if not steps:
        out.print("no step is overdue")
    return 0


def _bureau_reader() -> Operator:
    """Reads from the command line: the local administrator reads as the bureau auditor."""
    return Operator(0, "cli", Role.BUREAU_AUDITOR, None, None)


# --- outlets ------------------------------------------------------------------------------


async def _file(a: argparse.Namespace) -> int:
    kind = FilingKind(a.kind)
    form = None
    if kind is not FilingKind.CLOSE:
        form = outlets.OutletForm(
            a.code, a.name, a.district, a.address, a.hours, tuple(a.service), a.instant,
            a.terminal, a.psam, a.activation_only,
        )  # fmt: skip

    async def go(store: Store, op: Operator) -> FilingRow:
        return await outlets.file(store, op, a.bank, kind, form, code=a.code, filed_on=a.filed_on)

    _print_filing(await as_operator(a.by, go))
    return 0


def _print_filing(f: FilingRow) -> None:
    share = f"{f.instant_after}/{f.open_after} instant" if f.open_after else "no open outlet"
    flag = "  BELOW 70 %" if f.below_instant_share else ""
    out.print(f"filing {f.id}: {f.kind} outlet {f.outlet} of {f.bank}, {f.status}; "
              f"after it {share}{flag}")  # fmt: skip


async def _decide_filing(a: argparse.Namespace, acknowledge: bool) -> int:
    async def go(store: Store, op: Operator) -> FilingRow:
        return await outlets.decide(store, op, a.filing, acknowledge=acknowledge, note=a.note)

    _print_filing(await as_operator(a.by, go))
    return 0


async def _filings(a: argparse.Namespace) -> int:
    rows = await with_store(
        lambda s: outlets.filings(
            s, _bureau_reader(), bank=a.bank, outlet=a.outlet, status=a.status
        )
    )
    for f in rows:
        _print_filing(f)
    return 0


async def _share(bank: str) -> int:
    s = await with_store(lambda st: outlets.instant_share(st, _bureau_reader(), bank))
    verdict = "meets" if s.meets_rule else "does NOT meet"
    out.print(f"bank {bank}: {s.instant} of {s.open} open outlets in Beijing issue instantly "
              f"({float(s.ratio) * 100:.1f} %), {verdict} the 70 % rule (第五条(四))")  # fmt: skip
    return 0


# --- evaluation ---------------------------------------------------------------------------


def register(sub: Sub) -> None:
    """``sscard evaluation ...``."""
    group = sub.add_parser("evaluation", help="spot checks, yearly evaluation, interviews (第九条)")
    ev = group.add_subparsers(dest="evaluation_command", required=True, metavar="ACTION")
    for name, kind in (("import-survey", "survey"), ("import-complaints", "complaints")):
        p = ev.add_parser(name, help=f"import a {kind} CSV file (a bad row refuses the file)")
        p.add_argument("file", type=Path)
        _by(p)
        p.set_defaults(func=lambda a, kind=kind: run(_import(a, kind)))

    p = ev.add_parser("run", help="evaluate a bank's year (in the next year's first quarter)")
    p.add_argument("bank")
    p.add_argument("year", type=int)
    _by(p)
    for flag in ("--publicity", "--security-rules", "--technical-support"):
        p.add_argument(flag, type=int, required=True, help="the bureau's score, 0-100")
    _on(p)
    p.set_defaults(func=lambda a: run(_evaluate(a)))

    p = ev.add_parser("list", help="evaluations and whether an interview is owed")
    p.add_argument("--bank")
    p.set_defaults(func=lambda a: run(_evaluations(a.bank)))

    p = ev.add_parser("report", help="write a bank's yearly evaluation report (PDF)")
    p.add_argument("bank")
    p.add_argument("year", type=int)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.set_defaults(func=lambda a: run(_report(a)))

    p = ev.add_parser("interview", help="record an interview (约谈) after an unqualified year")
    p.add_argument("bank")
    p.add_argument("year", type=int)
    _by(p)
    p.add_argument("--attendees", required=True)
    p.add_argument("--summary", required=True)
    _on(p)
    p.set_defaults(func=lambda a: run(_interview(a)))

    p = ev.add_parser("spot-check", help="record a spot check and its findings")
    p.add_argument("bank")
    _by(p)
    p.add_argument("--outlet")
    p.add_argument("--findings", required=True)
    p.add_argument("--unsatisfactory", action="store_true")
    _on(p)
    p.set_defaults(func=lambda a: run(_spot_check(a)))


async def _import(a: argparse.Namespace, kind: str) -> int:
    try:
        size = a.file.stat().st_size
    except OSError as exc:
        raise FieldError("file", f"cannot read {a.file}: {exc.strerror}") from exc
    if size > evaluation.MAX_IMPORT_BYTES:
        raise FieldError("file", f"larger than {evaluation.MAX_IMPORT_BYTES} bytes")
    data = a.file.read_bytes()
    action = evaluation.import_survey if kind == "survey" else evaluation.import_complaints
    done = await as_operator(a.by, lambda s, op: action(s, op, data))
    out.print(f"{done.rows} {done.kind} row(s) imported")
    return 0


def _print_evaluation(e: EvaluationRow) -> None:
    verdict = "qualified" if e.passed else "UNQUALIFIED"
    talk = "" if e.passed else (" (interview recorded)" if e.interviews else " (interview owed)")
    out.print(f"{e.bank} {e.year}: {e.total} {verdict}{talk}; cards {e.cards_issued}, "
              f"satisfaction {e.satisfaction_percent} %, complaints {e.complaints}")  # fmt: skip


async def _evaluate(a: argparse.Namespace) -> int:
    s = evaluation.BureauScores(a.bank, a.year, a.publicity, a.security_rules,
                                a.technical_support, a.on or today())  # fmt: skip
    _print_evaluation(await as_operator(a.by, lambda st, op: evaluation.run_evaluation(st, op, s)))
    return 0


async def _evaluations(bank: str | None) -> int:
    for row in await with_store(lambda s: evaluation.evaluations(s, _bureau_reader(), bank)):
        _print_evaluation(row)
    return 0


async def _report(a: argparse.Namespace) -> int:
    pdf = await with_store(lambda s: evaluation.report_pdf(s, _bureau_reader(), a.bank, a.year))
    a.output.write_bytes(pdf)
    out.print(f"report written to {a.output} ({len(pdf)} bytes)")
    return 0


async def _interview(a: argparse.Namespace) -> int:
    i = evaluation.Interview(a.bank, a.year, a.on or today(), a.attendees, a.summary)
    made = await as_operator(a.by, lambda s, op: evaluation.record_interview(s, op, i))
    out.print(f"interview {made['id']} of {a.bank} for {a.year} recorded")
    return 0


async def _spot_check(a: argparse.Namespace) -> int:
    c = evaluation.SpotCheck(a.bank, a.outlet, a.on or today(), a.findings, not a.unsatisfactory)
    made = await as_operator(a.by, lambda s, op: evaluation.record_spot_check(s, op, c))
    out.print(f"spot check {made['id']} of {a.bank} recorded")
    return 0
