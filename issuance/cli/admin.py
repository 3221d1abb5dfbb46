"""Administration commands: banks, outlets, operators, a card's record, the OpenAPI document.

    sscard bank create CODE NAME [--active]
    sscard outlet create CODE --bank B --name N [--instant --psam SERIAL] [--district 1101xx]
    sscard operator create NAME --role R [--bank B] [--outlet O]   (prints the token ONCE)
    sscard operator token|password|totp ...   (see :mod:`issuance.cli.security`)
    sscard operator link NAME [--base URL]   (a one-time sign-in link for the pages)
    sscard card show CARD_NUMBER
    sscard openapi

They run against the Runtime (the embedded database, or ``SSCARD_DATABASE_URL``).
Bad input exits 2 naming the field. ``card show`` prints the card's state and
its events, not the holder's personal data.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

from rich.console import Console

from issuance.api.app import create_app
from issuance.cli import bureau, security
from issuance.cli.common import run
from issuance.config import Settings
from issuance.domain.numbers import validate_card_number
from issuance.domain.roles import Role
from issuance.runtime import Runtime
from issuance.services import admin, signin
from issuance.store import Store
from issuance.store.pages import PagesStore
from sscard_core.errors import NotFound

out = Console(highlight=False)
T = TypeVar("T")
Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


async def _with_store(action: Callable[[Store], Awaitable[T]]) -> T:
    async with Runtime(Settings.from_env(), pool_size=2) as rt:
        return await action(rt.store)


async def _with_pages(action: Callable[[PagesStore], Awaitable[T]]) -> T:
    async with Runtime(Settings.from_env(), pool_size=2) as rt:
        return await action(PagesStore(rt.pool))


def _group(sub: Sub, name: str, help_text: str) -> Sub:
    parser = sub.add_parser(name, help=help_text)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def register(sub: Sub) -> None:
    banks = _group(sub, "bank", "cooperative banks")
    bank = banks.add_parser("create", help="add a bank (setup; see bank apply)")
    bank.add_argument("code", help="2 to 6 upper-case letters or digits")
    bank.add_argument("name")
    bank.add_argument(
        "--active", action="store_true",
        help="an existing cooperating bank, registered as such: it orders cards at once "
        "(without it the bank has applied and waits for the bureau's decisions)",
    )  # fmt: skip
    bank.set_defaults(func=lambda a: run(_bank(a)))
    bureau.register_bank(banks)

    outlets = _group(sub, "outlet", "outlets")
    bureau.register_outlet(outlets)
    outlet = outlets.add_parser("create", help="register an outlet already on file (setup)")
    outlet.add_argument("code")
    outlet.add_argument("--bank", required=True)
    outlet.add_argument("--name", required=True)
    outlet.add_argument("--district", default="110101", help="Beijing district code (1101xx)")
    outlet.add_argument("--address", default="")
    outlet.add_argument("--instant", action="store_true", help="issues cards on the spot")
    outlet.add_argument("--psam", help="the PSAM card's serial (needed with --instant)")
    outlet.set_defaults(func=lambda a: run(_outlet(a)))

    operators = _group(sub, "operator", "operators")
    security.register_operator(operators)
    op = operators.add_parser("create", help="add an operator")
    op.add_argument("name")
    op.add_argument("--role", required=True, choices=[r.value for r in Role])
    op.add_argument("--bank")
    op.add_argument("--outlet")
    op.set_defaults(func=lambda a: run(_operator(a)))
    register_sign_in(operators)

    card = _group(sub, "card", "cards").add_parser("show", help="a card's state and events")
    card.add_argument("card_number")
    card.set_defaults(func=lambda a: run(_card(a.card_number)))

    api = sub.add_parser("openapi", help="print the HTTP API's OpenAPI document")
    api.set_defaults(func=lambda a: _openapi())


async def _bank(a: argparse.Namespace) -> int:
    institution = await _with_store(lambda s: admin.create_bank(s, a.code, a.name, active=a.active))
    state = "active (existing cooperating bank)" if a.active else "applied"
    out.print(f"bank {a.code} created (institution {institution}), {state}")
    return 0


async def _outlet(a: argparse.Namespace) -> int:
    o = admin.OutletInput(a.code, a.bank, a.name, a.district, a.address, a.instant, a.psam)
    await _with_store(lambda s: admin.create_outlet(s, o))
    out.print(f"outlet {a.code} of {a.bank} filed" + (" (instant issuance)" if a.instant else ""))
    return 0


async def _operator(a: argparse.Namespace) -> int:
    role = Role(a.role)
    policy = Settings.from_env().credentials
    made = await _with_store(
        lambda s: admin.create_operator(
            s, a.name, role, bank=a.bank, outlet=a.outlet, policy=policy
        )
    )
    out.print(f"operator {made.name} ({made.role}) created; token valid until "
              f"{made.expires_at:%Y-%m-%d %H:%M %Z}, shown only once:")  # fmt: skip
    print(made.token)
    return 0


async def _card(number: str) -> int:
    value = validate_card_number(number)

    async def show(store: Store) -> int:
        card = await store.card_by_number(value)
        if card is None:
            raise NotFound(f"no card {value}")
        out.print(f"card {card.card_number} ({card.card_identifier}) of bank {card.bank}")
        out.print(f"status: {card.status.value} ({card.status.info.label_zh})")
        out.print(f"valid {card.issue_date} to {card.expiry_date}; job {card.job_id}")
        for e in await store.events_of_card(card.id):
            reason = f" ({e.reason})" if e.reason else ""
            out.print(f"  {e.at:%Y-%m-%d %H:%M:%S} {e.action}: {e.from_status} → {e.to_status}"
                      f"{reason} outlet={e.outlet} operator={e.operator}")  # fmt: skip
        return 0

    return await _with_store(show)


def register_sign_in(operators: Sub) -> None:
    link = operators.add_parser("link", help="a one-time sign-in link for the pages")
    link.add_argument("name")
    link.add_argument("--base", default="http://127.0.0.1:8080", help="the pages' address")
    link.set_defaults(func=lambda a: run(_link(a.name, a.base)))


async def _link(name: str, base: str) -> int:
    token = await _with_pages(lambda s: signin.sign_in_link(s, name))
    out.print(f"one-time sign-in link for {name} (valid 15 minutes):")
    print(f"{base.rstrip('/')}/signin/link/{token}")
    return 0


def _openapi() -> int:
    document = create_app(Runtime(Settings.from_env())).openapi()
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    return 0
