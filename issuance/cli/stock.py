"""``sscard stock``: blank card bodies through the API, as the operator whose token is given.

    sscard stock request receipt|transfer|destruction --outlet O --lot L --quantity N [--to O2]
    sscard stock confirm|cancel ID      (confirm: a second, different operator's token)
    sscard stock show OUTLET
    sscard stock reconcile OUTLET --day YYYY-MM-DD --counted N

Dual control needs two people, so these commands act as the operator of
``--token-file`` (or ``SSCARD_TOKEN``) against ``--api`` (or ``SSCARD_API``).
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any, TypeAlias

import httpx
from rich.console import Console

from issuance.cli.batch import _call, _client, _connection, _refused
from issuance.services.stock import RequestKind
from sscard_core.errors import FieldError

out = Console(highlight=False)
Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(sub: Sub) -> None:
    group = sub.add_parser("stock", help="blank card bodies: dual control and reconciliation")
    ssub = group.add_subparsers(dest="stock_command", required=True, metavar="ACTION")
    req = ssub.add_parser("request", help="ask for a receipt, transfer or destruction")
    req.add_argument("kind", choices=[k.value for k in RequestKind])
    req.add_argument("--outlet", required=True)
    req.add_argument("--to", dest="to_outlet", help="the outlet a transfer goes to")
    req.add_argument("--lot", required=True, help="the lot number")
    req.add_argument("--quantity", type=int, required=True)
    req.add_argument("--note", default="")
    _connection(req)
    req.set_defaults(func=_request)
    for action in ("confirm", "cancel"):
        p = ssub.add_parser(action, help=f"{action} a pending request")
        p.add_argument("request_id", type=int, metavar="ID")
        _connection(p)
        p.set_defaults(func=_decide)
    show = ssub.add_parser("show", help="an outlet's bodies, pending requests, reconciliations")
    show.add_argument("outlet")
    _connection(show)
    show.set_defaults(func=_show)
    rec = ssub.add_parser("reconcile", help="close an outlet's day against a count")
    rec.add_argument("outlet")
    rec.add_argument("--day", type=date.fromisoformat, required=True)
    rec.add_argument("--counted", type=int, required=True)
    _connection(rec)
    rec.set_defaults(func=_reconcile)


def _answer(response: httpx.Response, ok: int) -> dict[str, Any]:
    if response.status_code == 422:
        body = response.json()
        raise FieldError(str(body.get("field", body.get("code", "request"))),
                         str(body.get("message", "")))  # fmt: skip
    if response.status_code != ok:
        raise _refused(response)
    body = response.json()
    assert isinstance(body, dict)
    return body


def _print_request(r: dict[str, Any]) -> None:
    where = r["outlet"] + (f" → {r['to_outlet']}" if r["to_outlet"] else "")
    decided = f", {r['state']} by {r['decided_by']}" if r["decided_by"] else f", {r['state']}"
    out.print(f"request {r['id']}: {r['kind']} of {r['quantity']} bodies, lot {r['lot']}, {where};"
              f" asked by {r['requested_by']}{decided}")  # fmt: skip


def _request(ns: argparse.Namespace) -> int:
    body = {"kind": ns.kind, "outlet": ns.outlet, "to_outlet": ns.to_outlet, "lot": ns.lot,
            "quantity": ns.quantity, "note": ns.note}  # fmt: skip
    with _client(ns) as http:
        _print_request(_answer(_call(lambda: http.post("/v1/stock/requests", json=body)), 201))
    return 0


def _decide(ns: argparse.Namespace) -> int:
    path = f"/v1/stock/requests/{ns.request_id}/{ns.stock_command}"
    with _client(ns) as http:
        _print_request(_answer(_call(lambda: http.post(path)), 200))
    return 0


def _show(ns: argparse.Namespace) -> int:
    with _client(ns) as http:
        s = _answer(_call(lambda: http.get(f"/v1/outlets/{ns.outlet}/stock")), 200)
    out.print(f"outlet {s['outlet']}: {s['balance']} blank bodies")
    for r in s["pending"]:
        _print_request(r)
    for day in s["reconciliations"]:
        flags = ", ".join(e["kind"] for e in day["exceptions"]) or "reconciles"
        out.print(f"{day['day']}: expected {day['expected']}, counted {day['counted']} ({flags})")
    return 0


def _reconcile(ns: argparse.Namespace) -> int:
    body = {"day": ns.day.isoformat(), "counted": ns.counted}
    path = f"/v1/outlets/{ns.outlet}/stock/reconciliations"
    with _client(ns) as http:
        d = _answer(_call(lambda: http.post(path, json=body)), 201)
    out.print(f"{d['day']} at {d['outlet']}: {d['opening']} + {d['received']} - {d['issued']}"
              f" - {d['spoiled']} - {d['destroyed']} = {d['expected']};"
              f" counted {d['counted']}")  # fmt: skip
    for e in d["exceptions"]:
        out.print(f"[bold red]exception[/]: {e}")
    return 1 if d["exceptions"] else 0
