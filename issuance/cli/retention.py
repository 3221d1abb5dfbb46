"""``sscard retention run [--dry-run]``: erase the personal data past its retention period.

The periods come from the environment (``SSCARD_RETAIN_<KIND>_DAYS``; the README
lists the defaults). The running service does the same every hour.
"""

from __future__ import annotations

import argparse
from typing import TypeAlias

from rich.console import Console
from rich.table import Table

from issuance.cli.common import run
from issuance.config import Settings
from issuance.runtime import Runtime
from issuance.services import retention

out = Console(highlight=False)
Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(sub: Sub) -> None:
    group = sub.add_parser("retention", help="erase personal data past its retention period")
    actions = group.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    go = actions.add_parser("run", help="erase (or count, with --dry-run) what is due")
    go.add_argument("--dry-run", action="store_true", help="count what is due; change nothing")
    go.set_defaults(func=lambda a: run(_run(a.dry_run)))


async def _run(dry_run: bool) -> int:
    settings = Settings.from_env()
    rules = retention.RetentionRules.from_env(attempt_window=settings.credentials.failure_window)
    async with Runtime(settings, pool_size=2) as rt:
        done = await retention.sweep(rt.store, rules, dry_run=dry_run)
    table = Table("kind", "kept", "due" if dry_run else "erased", "set with")
    for kind, n in done.items():
        table.add_row(kind.value, str(rules.kept(kind)), str(n), kind.variable)
    out.print(table)
    return 0
