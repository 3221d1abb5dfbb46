"""``sscard batch submit|watch`` and ``sscard bench line``.

The batch commands talk to the service over HTTP, like ``sscard agent``: the
API's base URL is ``--api`` (or ``SSCARD_API``), the operator's bearer token
is read from ``--token-file`` or taken from ``SSCARD_TOKEN``. Nothing is
checked locally: the service checks every row (the same checks, with the
active-card lookups only it can make) and the CLI shows its answer.

``submit FILE [--photos ZIP] [--site S] [--partial] [--rejects OUT.csv]``
    posts the file (and the zip) as multipart. A rejected batch prints the
    errors as a table, writes them to the rejects CSV (``line, field, code,
    message``; default ``FILE.rejects.csv``) and exits 2: nothing was
    enqueued. In partial mode the valid rows are enqueued, the rejected ones
    are shown and written the same way, and the exit status is 0.

``watch ID``
    polls ``GET /v1/batches/ID`` every ``--every`` seconds and shows a progress
    bar (made and failed over all cards) with the in-doubt, remaining and
    spoiled counts, the pace in cards per hour and the estimated finish,
    until the batch is complete.

``bench line``
    runs the time-compressed production line of :mod:`issuance.tools.line`
    and prints each printer's utilisation.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from issuance.batches.check import problems_table, rejects_csv
from issuance.cli.common import readable_file, run
from issuance.config import default_api_url
from sscard_core.errors import AuthError, DatabaseError, FieldError, FieldProblem, SscardError

out = Console(highlight=False)
BATCHES_PATH = "/v1/batches"
OCTETS = "application/octet-stream"
ZIP = "application/zip"
TIMEOUT_SECONDS = 300.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    batch = sub.add_parser("batch", help="expedited small batches (小批量加急制发卡)")
    bsub = batch.add_subparsers(dest="batch_command", required=True, metavar="WHAT")
    s = bsub.add_parser("submit", help="check and enqueue a batch file")
    s.add_argument("file", type=readable_file, help="the CSV or JSON batch file")
    s.add_argument("--photos", type=readable_file, help="the zip of photos the file names")
    s.add_argument("--site", help="an outlet code, or 'central' for the bank's production line")
    s.add_argument("--partial", action="store_true", help="enqueue the valid rows anyway")
    s.add_argument("--rejects", type=Path, help="where to write the rejected rows (CSV)")
    s.add_argument("--encoding", choices=("utf-8", "utf-8-sig", "gbk", "gb18030"))
    _connection(s)
    s.set_defaults(func=submit_command)
    w = bsub.add_parser("watch", help="follow a batch until it is complete")
    w.add_argument("batch_id", metavar="ID")
    w.add_argument("--every", type=float, default=2.0, help="seconds between polls")
    _connection(w)
    w.set_defaults(func=watch_command)


def _connection(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--api",
        default=default_api_url(),
        help="the API's base URL (default "
        "$SSCARD_API, else where `sscard serve` listens: $SSCARD_HOST:$SSCARD_PORT)",
    )
    p.add_argument("--token-file", type=readable_file,
                   help="the bearer token (else $SSCARD_TOKEN)")  # fmt: skip


def token_of(ns: argparse.Namespace) -> str:
    if ns.token_file is not None:
        return str(ns.token_file.read_text().strip())
    token = os.environ.get("SSCARD_TOKEN", "").strip()
    if not token:
        raise AuthError("give --token-file or set SSCARD_TOKEN")
    return token


def _client(ns: argparse.Namespace) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token_of(ns)}"}
    return httpx.Client(base_url=ns.api, headers=headers, timeout=TIMEOUT_SECONDS)


def _call(send: Callable[[], httpx.Response]) -> httpx.Response:
    try:
        return send()
    except httpx.HTTPError as exc:
        raise DatabaseError(f"the service is unreachable: {exc}", code="api_unreachable") from exc


def _problems(body: dict[str, Any]) -> list[FieldProblem]:
    return [
        FieldProblem(str(e.get("field", "")), str(e.get("code", "")), str(e.get("message", "")),
                     e.get("line"))
        for e in body.get("errors", [])
    ]  # fmt: skip


def _write_rejects(ns: argparse.Namespace, problems: list[FieldProblem]) -> Path:
    path: Path = ns.rejects or ns.file.with_name(ns.file.name + ".rejects.csv")
    path.write_text(rejects_csv(problems), encoding="utf-8")
    return path


def _post(ns: argparse.Namespace) -> httpx.Response:
    """POST the batch file and its photos, streamed from disk (never read whole)."""
    params = {"partial": str(ns.partial).lower()}
    params |= {k: v for k, v in (("site", ns.site), ("encoding", ns.encoding)) if v}
    key = {"Idempotency-Key": f"batch-{secrets.token_hex(12)}"}
    with contextlib.ExitStack() as stack, _client(ns) as http:
        files: dict[str, tuple[str, BinaryIO, str]] = {
            "file": (ns.file.name, stack.enter_context(ns.file.open("rb")), OCTETS)
        }
        if ns.photos is not None:
            files["photos"] = (ns.photos.name, stack.enter_context(ns.photos.open("rb")), ZIP)
        return _call(lambda: http.post(BATCHES_PATH, files=files, params=params, headers=key))


def _refused(response: httpx.Response) -> SscardError:
    body = response.json() if response.headers.get("content-type", "").endswith("json") else {}
    message = str(body.get("message", response.text[:200]))
    return SscardError(f"{response.status_code} {body.get('code', '')}: {message}")


def submit_command(ns: argparse.Namespace) -> int:
    response = _post(ns)
    body = response.json() if response.status_code in (201, 422) else {}
    problems = _problems(body)
    if response.status_code == 422 and body.get("code") == "batch_rejected":
        out.print(problems_table(problems, title="Batch rejected: nothing was enqueued"))
        out.print(f"rejected rows written to {_write_rejects(ns, problems)}")
        return 2
    if response.status_code == 422:
        raise FieldError(str(body.get("code", "batch")), str(body.get("message", "")))
    if response.status_code != 201:
        raise _refused(response)
    batch = body["batch"]
    if problems:
        out.print(problems_table(problems, title="Rows left out"))
        out.print(f"rejected rows written to {_write_rejects(ns, problems)}")
    out.print(f"batch [bold]{batch['id']}[/]: {batch['accepted']} card(s) enqueued at "
              f"{batch['site']}, {batch['rejected']} row(s) rejected")  # fmt: skip
    return 0


# --- watch ------------------------------------------------------------------------------------


def status_line(p: dict[str, Any]) -> str:
    """The figures beside the bar."""
    rate = p.get("cards_per_hour")
    pace = "—" if rate is None else f"{rate:.0f}/h"
    finish = p.get("estimated_finish") or "—"
    return (f"failed {p['failed']} · in doubt {p['in_doubt']} · remaining {p['remaining']} · "
            f"spoiled {p['spoiled']} · {pace} · finish {finish}")  # fmt: skip


def _poll(http: httpx.Client, batch_id: str) -> dict[str, Any]:
    response = _call(lambda: http.get(f"{BATCHES_PATH}/{batch_id}"))
    if response.status_code != 200:
        raise _refused(response)
    body: dict[str, Any] = response.json()
    return body


def watch_command(ns: argparse.Namespace) -> int:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[figures]}"))  # fmt: skip
    with _client(ns) as http, Progress(*columns, console=out, transient=False) as bar:
        p = _poll(http, ns.batch_id)
        task = bar.add_task(ns.batch_id, total=p["cards"], figures=status_line(p))
        while True:
            bar.update(task, completed=p["done"] + p["failed"], figures=status_line(p))
            if p["complete"]:
                break
            time.sleep(ns.every)
            p = _poll(http, ns.batch_id)
    out.print(f"batch {ns.batch_id} complete: {p['done']} made, {p['failed']} failed, "
              f"{p['spoiled']} spoiled")  # fmt: skip
    return 0


# --- bench line -------------------------------------------------------------------------------


def register_bench_line(bsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    line = bsub.add_parser("line", help="a simulated production line, time compressed")
    line.add_argument("--printers", type=int, default=6)
    line.add_argument("--cards", type=int, default=120)
    line.add_argument("--time-scale", type=float, default=0.01, help="0.01: 100x faster")
    line.set_defaults(func=bench_line_command)


def bench_line_command(ns: argparse.Namespace) -> int:
    from issuance.tools.line import TARGET_UTILISATION, LineConfig, run_line

    config = LineConfig(printers=ns.printers, cards=ns.cards, time_scale=ns.time_scale)
    with tempfile.TemporaryDirectory(prefix="sscard-line-") as folder:
        report = run(run_line(config, Path(folder)))
    table = Table(title=f"{config.printers} printers, {config.cards} cards, "
                        f"time x{1 / config.time_scale:.0f}")  # fmt: skip
    for heading in ("Printer", "Cards", "Busy"):
        table.add_column(heading, justify="right")
    for p in report.printers:
        style = "green" if p.utilisation >= TARGET_UTILISATION else "red"
        table.add_row(p.name, str(p.cards), f"[{style}]{p.utilisation:.1%}[/]")
    out.print(table)
    out.print(f"queue dry after {report.dry_after_seconds:.1f} s; "
              f"{report.cards_per_hour:.0f} cards per simulated hour")  # fmt: skip
    return 0 if report.lowest_utilisation >= TARGET_UTILISATION else 1
