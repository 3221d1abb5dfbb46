"""Operators' credentials and the audit trail from the command line.

    sscard operator token issue|rotate|revoke NAME     (issue and rotate print the token ONCE)
    sscard operator password NAME                      (reads the password from stdin)
    sscard operator totp enrol|remove NAME             (enrol prints the secret and URI once)
    sscard audit search [--citizen-id ID] [--card N] [--operator NAME] [--since T] [--until T]
    sscard audit export [filters] [--output FILE]      (CSV; standard output by default)
    sscard audit verify                                (exit 1 naming the first broken record)
    sscard terminal register SERIAL --model M --outlet O | terminal state SERIAL STATE
    sscard psam receive SERIAL --bank B | psam ACTION SERIAL [--terminal T] [--note N]
    sscard psam show SERIAL | psam outlet CODE

These run with the database's own access (the embedded server, or
``SSCARD_DATABASE_URL``), so they see every bank's records.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TextIO, TypeAlias, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from issuance.cli.common import run
from issuance.config import Settings
from issuance.domain.psam import PsamAction, TerminalState
from issuance.runtime import Runtime
from issuance.services import audit, credentials, psams
from issuance.store import IssuedToken, Store
from sscard_core.errors import FieldError

out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one line per error, for logs
T = TypeVar("T")
Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


async def _with_store(action: Callable[[Store, Settings], Awaitable[T]]) -> T:
    settings = Settings.from_env()
    async with Runtime(settings, pool_size=2) as rt:
        return await action(rt.store, settings)


def _group(parent: Sub, name: str, help_text: str) -> Sub:
    parser = parent.add_parser(name, help=help_text)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def register_operator(operator: Sub) -> None:
    """The credential commands under ``sscard operator``."""
    token = _group(operator, "token", "bearer tokens: issue, rotate, revoke")
    for action, help_text in (
        ("issue", "issue one more token (printed once)"),
        ("rotate", "revoke every token and issue a new one (printed once)"),
        ("revoke", "revoke every token at once"),
    ):
        p = token.add_parser(action, help=help_text)
        p.add_argument("name")
        p.set_defaults(func=lambda a: run(_token(a.token_command, a.name)))
    password = operator.add_parser("password", help="set the sign-in password (from stdin)")
    password.add_argument("name")
    password.set_defaults(func=lambda a: run(_password(a.name)))
    totp = _group(operator, "totp", "the TOTP second factor")
    enrol = totp.add_parser("enrol", help="enrol: prints the secret and otpauth URI once")
    enrol.add_argument("name")
    enrol.set_defaults(func=lambda a: run(_totp(a.name, remove=False)))
    remove = totp.add_parser("remove", help="remove the second factor")
    remove.add_argument("name")
    remove.set_defaults(func=lambda a: run(_totp(a.name, remove=True)))


def _time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone, e.g. {value}+08:00")
    return parsed


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--citizen-id", help="the holder's citizen ID")
    p.add_argument("--card", help="the card number")
    p.add_argument("--operator", help="the operator's name")
    p.add_argument("--since", type=_time, help="from this time (ISO 8601 with zone)")
    p.add_argument("--until", type=_time, help="before this time (ISO 8601 with zone)")
    p.add_argument("--action", help="read, change, sign_in, ...")


def _query(a: argparse.Namespace) -> audit.AuditQuery:
    return audit.AuditQuery(a.citizen_id, a.card, a.operator, a.since, a.until, a.action)


def register(sub: Sub) -> None:
    group = _group(sub, "audit", "the audit trail: search, export, verify the hash chain")
    search = group.add_parser("search", help="matching records, oldest first")
    _filters(search)
    search.add_argument("--after", type=int, default=0, help="the last id of the previous page")
    search.add_argument("--limit", type=int, default=100)
    search.set_defaults(func=lambda a: run(_search(a)))
    export = group.add_parser("export", help="matching records as CSV")
    _filters(export)
    export.add_argument("--output", help="a file (default: standard output)")
    export.set_defaults(func=_export)
    verify = group.add_parser("verify", help="check the hash chain; names the first bad record")
    verify.set_defaults(func=lambda a: run(_verify()))
    register_modules(sub)


def register_modules(sub: Sub) -> None:
    terminal = _group(sub, "terminal", "security terminals")
    reg = terminal.add_parser("register", help="register a terminal at an outlet")
    reg.add_argument("serial")
    reg.add_argument("--model", required=True)
    reg.add_argument("--outlet", required=True)
    reg.set_defaults(func=lambda a: run(_terminal(a)))
    state = terminal.add_parser("state", help="in_service, out_of_service or retired")
    state.add_argument("serial")
    state.add_argument("state", choices=[t.value for t in TerminalState])
    state.set_defaults(func=lambda a: run(_terminal(a)))

    psam = _group(sub, "psam", "PSAM cards")
    receive = psam.add_parser("receive", help="record a PSAM card the bank received")
    receive.add_argument("serial")
    receive.add_argument("--bank", required=True)
    receive.set_defaults(func=lambda a: run(_psam(a)))
    for action in PsamAction:
        move = psam.add_parser(action.value, help=f"{action.value} a PSAM card")
        move.add_argument("serial")
        move.add_argument("--terminal", help="the terminal (install)")
        move.add_argument("--note", default="")
        move.set_defaults(func=lambda a: run(_psam(a)))
    show = psam.add_parser("show", help="a PSAM card and its moves")
    show.add_argument("serial")
    show.set_defaults(func=lambda a: run(_psam(a)))
    outlet = psam.add_parser("outlet", help="an outlet's terminals and PSAM cards")
    outlet.add_argument("serial", metavar="CODE")
    outlet.set_defaults(func=lambda a: run(_psam(a)))


async def _terminal(a: argparse.Namespace) -> int:
    async def act(store: Store, _: Settings) -> int:
        if a.terminal_command == "register":
            t = await psams.register_terminal(store, None, a.serial, a.model, a.outlet)
        else:
            t = await psams.set_terminal_state(store, None, a.serial, TerminalState(a.state))
        out.print(f"terminal {t.serial} ({t.model}) at {t.outlet}: {t.state}")
        return 0

    return await _with_store(act)


async def _psam(a: argparse.Namespace) -> int:
    command = a.psam_command

    async def act(store: Store, _: Settings) -> int:
        if command == "outlet":
            found = await psams.of_outlet(store, None, a.serial)
            for t in found.terminals:
                out.print(f"terminal {t.serial} ({t.model}): {t.state}")
            for p in found.psams:
                out.print(f"PSAM {p.serial} of {p.bank} in {p.terminal}: {p.state}")
            return 0
        if command == "show":
            p, moves = await psams.history(store, None, a.serial)
            for m in moves:
                out.print(f"  {m.at:%Y-%m-%d %H:%M:%S} {m.action}: {m.from_state} → {m.to_state}"
                          f" terminal={m.terminal} by {m.actor} {m.note}")  # fmt: skip
        elif command == "receive":
            p = await psams.receive_psam(store, None, a.serial, a.bank)
        else:
            p = await psams.move_psam(
                store, None, a.serial, PsamAction(command), terminal=a.terminal, note=a.note
            )
        out.print(
            f"PSAM {p.serial} of {p.bank}: {p.state}"
            + (f" in terminal {p.terminal} at {p.outlet}" if p.terminal else "")
        )
        return 0

    return await _with_store(act)


def _print_token(issued: IssuedToken, name: str) -> None:
    out.print(f"token of {name}, valid until {issued.expires_at:%Y-%m-%d %H:%M %Z}; shown once:")
    print(issued.token)


async def _token(action: str, name: str) -> int:
    async def act(store: Store, settings: Settings) -> int:
        policy = settings.credentials
        if action == "revoke":
            n = await credentials.revoke_named(store, name)
            out.print(f"{n} token(s) of {name} revoked")
        elif action == "rotate":
            _print_token(await credentials.rotate_named(store, name, policy), name)
        else:
            _print_token(await credentials.issue(store, name, policy), name)
        return 0

    return await _with_store(act)


async def _password(name: str) -> int:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise FieldError("password", "give the password on standard input")
    await _with_store(lambda s, _: credentials.set_password_named(s, name, password))
    out.print(f"password of {name} set")
    return 0


async def _totp(name: str, *, remove: bool) -> int:
    if remove:
        await _with_store(lambda s, _: credentials.remove_totp_named(s, name))
        out.print(f"second factor of {name} removed")
        return 0
    enrolment = await _with_store(lambda s, _: credentials.enrol_totp_named(s, name))
    out.print(f"{name} now signs in with a TOTP code; enrol an authenticator with (shown once):")
    print(enrolment.secret)
    print(enrolment.uri)
    return 0


async def _search(a: argparse.Namespace) -> int:
    async def act(store: Store, _: Settings) -> int:
        page = await audit.search(store, _query(a), bank=None, after=a.after, limit=a.limit)
        for r in page.rows:
            who = f"{r.operator_name}({r.operator})"
            subject = f" holder={r.holder}" if r.holder is not None else ""
            subject += f" card={r.card_number}" if r.card_number else ""
            detail = f" [{r.detail}]" if r.detail else ""
            out.print(f"{r.id} {r.at:%Y-%m-%d %H:%M:%S%z} {who} {r.action} {r.purpose}"
                      f"{subject}{detail}")  # fmt: skip
        if page.next_after is not None:
            out.print(f"more: --after {page.next_after}")
        return 0

    return await _with_store(act)


def _export(a: argparse.Namespace) -> int:
    """CSV to ``--output`` (opened before the event loop starts) or standard output."""
    with contextlib.ExitStack() as stack:
        target: TextIO = sys.stdout
        if a.output is not None:
            target = stack.enter_context(open(a.output, "w", encoding="utf-8", newline=""))

        async def act(store: Store, _: Settings) -> int:
            async for line in await audit.export_csv(store, _query(a), bank=None):
                target.write(line)
            return 0

        return run(_with_store(act))


async def _verify() -> int:
    columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("chain", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = await _with_store(lambda s, _: audit.verify(s, progress))
    if report.broken is None:
        out.print(f"the audit chain holds: {report.checked} records, last id {report.last_id}")
        return 0
    b = report.broken
    after = "the start" if b.after_id is None else f"record {b.after_id}"
    out.print(f"[bold red]the audit chain is broken[/] at record {b.record_id} ({b.kind.value});"
              f" {report.checked} records chain correctly up to {after}")  # fmt: skip
    return 1
