"""``sscard keys``: the data keys that seal personal data.

    sscard keys rotate [--activate-in SECONDS] [--batch N] [--blind-index]
    sscard keys encrypt-existing [--batch N]
    sscard keys list
    sscard keys destroy KEYID

``rotate`` makes a new data key, waits until every running service has loaded
it (``--activate-in``, default 60 s: services reload keys every 20 s), then
seals again, batch by batch with a progress bar, every value under an older
key, and marks the older keys retired. ``encrypt-existing`` seals the rows
written before migration 0007 (and any value under a key other than the
active one) without making a new key. Both run while the service runs.
``list`` shows every key with the number of values sealed under it;
``destroy`` deletes a retired key's wrapped secret once no value names it
(exit 1 with ``key_in_use`` while one does).
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import TypeAlias

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from issuance.cli.common import run
from issuance.config import Settings
from issuance.runtime import Runtime
from issuance.services import keys
from issuance.store import Store
from issuance.vault.vault import ACTIVATION_DELAY
from sscard_core.errors import FieldError

out = Console(highlight=False)
Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _batch_rows(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("between 1 and 10000")
    return value


def register(sub: Sub) -> None:
    group = sub.add_parser("keys", help="the data keys that seal personal data")
    actions = group.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    rotate = actions.add_parser("rotate", help="a new data key; every value sealed again under it")
    rotate.add_argument(
        "--activate-in", type=float, default=ACTIVATION_DELAY.total_seconds(),
        help="seconds before the new key seals (running services load it first; default 60)",
    )  # fmt: skip
    rotate.add_argument("--batch", type=_batch_rows, default=keys.BATCH_ROWS, help="rows per batch")
    rotate.add_argument(
        "--blind-index", action="store_true",
        help="rotate the blind-index key: every holder indexed again under a new one",
    )  # fmt: skip
    rotate.set_defaults(func=lambda a: run(_rotate(a.activate_in, a.batch, a.blind_index)))
    existing = actions.add_parser(
        "encrypt-existing", help="seal the personal data written before sealing began"
    )
    existing.add_argument(
        "--batch", type=_batch_rows, default=keys.BATCH_ROWS, help="rows per batch"
    )
    existing.set_defaults(func=lambda a: run(_encrypt_existing(a.batch)))
    listed = actions.add_parser("list", help="every data key and the values sealed under it")
    listed.set_defaults(func=lambda a: run(_list()))
    destroy = actions.add_parser("destroy", help="destroy a retired key no value uses any more")
    destroy.add_argument("key_id", type=int, metavar="KEYID")
    destroy.set_defaults(func=lambda a: run(_destroy(a.key_id)))


async def _walk(store: Store, rows: int) -> keys.Resealed:
    totals = await keys.total_rows(store)
    columns = (
        TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=out) as bar:
        tasks = {t: bar.add_task(t.value, total=n) for t, n in totals.items()}
        done = await keys.reseal_all(
            store, rows=rows, progress=lambda t, n: bar.advance(tasks[t], n)
        )
        for t, task in tasks.items():
            bar.update(task, completed=done.seen[t], total=max(done.seen[t], totals[t]))
    for t in keys.Table:
        out.print(f"{t.value:>8}: {done.resealed[t]} of {done.seen[t]} sealed again")
    return done


async def _rotate(activate_in: float, rows: int, blind_index: bool) -> int:
    if not 0 <= activate_in <= 3600:
        raise FieldError("--activate-in", "between 0 and 3600 seconds")
    async with Runtime(Settings.from_env(), pool_size=2) as rt:
        delay = timedelta(seconds=activate_in)
        key_id, at = await keys.new_data_key(rt.store, delay, blind_index=blind_index)
        kind = "blind-index key" if blind_index else "data key"
        out.print(f"{kind} {key_id} made; it is used from {at:%H:%M:%S %Z}")
        with Progress(TextColumn("waiting for running services to load it: {task.fields[left]} s"),
                      console=out, transient=True) as bar:  # fmt: skip
            task = bar.add_task("wait", left=int(activate_in))
            await keys.wait_until(at, lambda left: bar.update(task, left=int(left)))
        await _walk(rt.store, rows)
        retired = await keys.retire_older_keys(rt.store, key_id)
    out.print(f"retired key(s): {', '.join(map(str, retired)) or 'none'}")
    return 0


async def _encrypt_existing(rows: int) -> int:
    async with Runtime(Settings.from_env(), pool_size=2) as rt:
        await _walk(rt.store, rows)
    return 0


async def _list() -> int:
    async with Runtime(Settings.from_env(), pool_size=2) as rt:
        table = await keys.key_table(rt.store)
    grid = Table("id", "purpose", "active from", "retired", "destroyed", "values")
    for k in table:
        grid.add_row(
            str(k.id), k.purpose, f"{k.active_from:%Y-%m-%d %H:%M:%S}",
            f"{k.retired_at:%Y-%m-%d %H:%M}" if k.retired_at else "-",
            f"{k.destroyed_at:%Y-%m-%d %H:%M}" if k.destroyed_at else "-", str(k.values),
        )  # fmt: skip
    out.print(grid)
    return 0


async def _destroy(key_id: int) -> int:
    async with Runtime(Settings.from_env(), pool_size=2) as rt:
        at = await keys.destroy_key(rt.store, key_id)
    out.print(f"data key {key_id} destroyed at {at:%Y-%m-%d %H:%M:%S %Z}")
    return 0
