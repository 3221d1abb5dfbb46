"""The ``sscard`` command.

Each command group lives in its own module with a ``register(subparsers)``
function; a command's handler returns the exit status. Bad input exits 2 with
the line and field (a file that cannot be read too: a short message, never a
traceback); a database or device failure exits 1.

The group modules are imported when the parser is built, not when this
package is imported, so ``python -m issuance.cli.serve`` (the parent of the
API worker processes) loads only what serving needs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from rich.console import Console

from sscard_core.errors import InputError, SscardError

# (module in issuance.cli, its register function), in the order of ``sscard --help``
GROUPS: tuple[tuple[str, str], ...] = (
    ("serve", "register"),
    ("db", "register"),
    ("keys", "register"),
    ("retention", "register"),
    ("bench", "register"),
    ("admin", "register"),
    ("security", "register"),
    ("loadtest", "register"),
    ("agent", "register"),
    ("agent", "register_demo"),
    ("printer", "register"),
    ("batch", "register"),
    ("bureau", "register"),
    ("stock", "register"),
)
Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

err = Console(stderr=True, highlight=False, soft_wrap=True)  # one line per error, for logs


# Commands whose module alone is imported when named first: a restarted agent (or server)
# starts without importing every other command (about a second less on a busy machine).
ALONE: dict[str, tuple[str, str]] = {"agent": ("agent", "register"), "serve": ("serve", "register")}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sscard", description="Social security card issuance for Beijing's cooperative banks."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups = [ALONE[command]] if command in ALONE else GROUPS
    for module, function in groups:
        register: Register = getattr(importlib.import_module(f"issuance.cli.{module}"), function)
        register(sub)
    return parser


def report(exc: SscardError) -> int:
    """Print an error for a person; the exit status says what kind it was."""
    err.print(f"[bold red]error[/]: {exc.message}")
    for problem in getattr(exc, "problems", []):
        where = f"line {problem.line}, " if problem.line is not None else ""
        err.print(f"  {where}{problem.field}: {problem.message}")
    return 2 if isinstance(exc, InputError) else 1


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0]) if argv and argv[0] in ALONE else build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except SscardError as exc:
        return report(exc)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        err.print(f"[bold red]error[/]: {exc.filename or ''}: {exc.strerror or exc}")
        return 2  # a file named on the command line: bad input
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
