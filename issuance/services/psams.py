"""The register of security terminals and PSAM cards, and the check made at every claim.

A bank's administrators (``MANAGE_OUTLETS``) register their outlets'
terminals and their PSAM cards and move a PSAM through its states
(:mod:`issuance.domain.psam`); the admin commands do the same with the
database's own access (actor ``cli``). Every move is recorded with its date
and who made it. A bank's supervisors and administrators, and the bureau's
auditors, read an outlet's register.

An agent names the PSAM it works with when it claims (read from the PSAM
through its reader). A claim for chip work (``encode``, ``print_encode``) at
an outlet is refused (403 ``psam_refused`` with a ``reason``) unless that PSAM
is installed, belongs to the outlet's bank and sits in a terminal in service
at that outlet. The check runs before every claim attempt of a long poll, so
revoking or suspending a PSAM stops its outlet at once. It is strict: an
outlet with no PSAM installed refuses chip work (``psam_missing`` when the
agent names none, ``psam_unknown`` / ``psam_wrong_outlet`` otherwise) until
its terminal and PSAM are registered (:func:`equip_outlet` does it in one
call).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from issuance.domain.psam import (
    IN_TERMINAL,
    PsamAction,
    PsamState,
    TerminalState,
    next_state,
)
from issuance.domain.roles import ALL_BANKS, Operation, Role
from issuance.services.common import check
from issuance.store import Operator, PsamMove, PsamRecord, Store, TerminalRecord
from sscard_core.errors import ConflictError, FieldError, Forbidden, NotFound
from sscard_core.messages import Capability

CHIP_WORK = frozenset({Capability.ENCODE, Capability.PRINT_ENCODE})
READERS = frozenset({Role.BANK_ADMIN, Role.SUPERVISOR, Role.BUREAU_AUDITOR})
CLI_ACTOR = "cli"


@dataclass(frozen=True)
class OutletModules:
    outlet: str
    terminals: tuple[TerminalRecord, ...]
    psams: tuple[PsamRecord, ...]


def _actor(op: Operator | None) -> tuple[int | None, str]:
    return (None, CLI_ACTOR) if op is None else (op.id, op.name)


async def _outlet_bank(tx: Store, op: Operator | None, outlet: str) -> str:
    found = await tx.outlet(outlet)
    if found is None:
        raise NotFound(f"no outlet {outlet}", resource="outlet")
    if op is not None:
        check(op, Operation.MANAGE_OUTLETS, found.bank)
    return found.bank


async def register_terminal(
    store: Store, op: Operator | None, serial: str, model: str, outlet: str
) -> TerminalRecord:
    async with store.transaction() as tx:
        await _outlet_bank(tx, op, outlet)
        await tx.insert_terminal(serial, model, outlet)
        found = await tx.terminal(serial)
    assert found is not None
    return found


async def set_terminal_state(
    store: Store, op: Operator | None, serial: str, state: TerminalState
) -> TerminalRecord:
    async with store.transaction() as tx:
        terminal = await tx.terminal(serial)
        if terminal is None:
            raise NotFound(f"no terminal {serial}", resource="terminal")
        await _outlet_bank(tx, op, terminal.outlet)
        await tx.set_terminal_state(serial, state.value)
        found = await tx.terminal(serial)
    assert found is not None
    return found


async def receive_psam(store: Store, op: Operator | None, serial: str, bank: str) -> PsamRecord:
    """A PSAM card the bank has received (state ``received``)."""
    if op is not None:
        check(op, Operation.MANAGE_OUTLETS, bank)
    operator, actor = _actor(op)
    async with store.transaction() as tx:
        if not await tx.bank_exists(bank):
            raise FieldError("bank", f"no bank {bank}", code="unknown_bank")
        move = PsamMove("receive", None, PsamState.RECEIVED.value, None, operator, actor, "")
        await tx.insert_psam(serial, bank, move)
        found = await tx.psam(serial)
    assert found is not None
    return found


async def _scoped_psam(tx: Store, op: Operator | None, serial: str) -> PsamRecord:
    psam = await tx.psam(serial, lock=True)
    if psam is None:
        raise NotFound(f"no PSAM {serial}", resource="psam")
    if op is not None:
        check(op, Operation.MANAGE_OUTLETS, psam.bank)
    return psam


async def _install_target(tx: Store, psam: PsamRecord, terminal: str | None) -> str:
    if terminal is None:
        raise FieldError("terminal", "installing a PSAM names its terminal")
    found = await tx.terminal(terminal)
    if found is None:
        raise FieldError("terminal", f"no terminal {terminal}", code="unknown_terminal")
    outlet = await tx.outlet(found.outlet)
    if outlet is None or outlet.bank != psam.bank:
        raise FieldError("terminal", f"terminal {terminal} is not at an outlet of {psam.bank}")
    if found.state != TerminalState.IN_SERVICE:
        raise ConflictError(f"terminal {terminal} is {found.state}", code="terminal_not_in_service")
    return terminal


async def move_psam(
    store: Store,
    op: Operator | None,
    serial: str,
    action: PsamAction,
    *,
    terminal: str | None = None,
    note: str = "",
) -> PsamRecord:
    """Apply ``action`` (409 ``psam_transition_forbidden`` if its state forbids it)."""
    operator, actor = _actor(op)
    async with store.transaction() as tx:
        psam = await _scoped_psam(tx, op, serial)
        state = PsamState(psam.state)
        target = next_state(state, action)
        if target is None:
            raise ConflictError(
                f"a {state} PSAM cannot {action}", code="psam_transition_forbidden",
                state=state.value, action=action.value,
            )  # fmt: skip
        where = psam.terminal if target in IN_TERMINAL else None
        if action is PsamAction.INSTALL:
            where = await _install_target(tx, psam, terminal)
        move = PsamMove(action.value, state.value, target.value, where, operator, actor, note)
        await tx.move_psam(serial, where, move)
        found = await tx.psam(serial)
    assert found is not None
    return found


async def history(
    store: Store, op: Operator | None, serial: str
) -> tuple[PsamRecord, list[PsamMove]]:
    async with store.connected() as s:
        psam = await s.psam(serial)
        if psam is None:
            raise NotFound(f"no PSAM {serial}", resource="psam")
        _may_read(op, psam.bank)
        return psam, await s.psam_events(serial)


async def equip_outlet(
    store: Store, op: Operator | None, outlet: str, *, terminal: str, psam: str,
    model: str = "SIM-T1",
) -> PsamRecord:  # fmt: skip
    """Register ``terminal`` at ``outlet``, receive ``psam`` for its bank and install it there."""
    registered = await register_terminal(store, op, terminal, model, outlet)
    found = await store.outlet(registered.outlet)
    assert found is not None
    await receive_psam(store, op, psam, found.bank)
    return await move_psam(store, op, psam, PsamAction.INSTALL, terminal=terminal)


def _may_read(op: Operator | None, bank: str) -> None:
    if op is None or op.role in ALL_BANKS:
        return
    if op.role not in READERS:
        raise Forbidden(f"a {op.role} may not read the PSAM register", role=op.role.value)
    if op.bank != bank:
        raise Forbidden("not a record of this bank")


async def of_outlet(store: Store, op: Operator | None, outlet: str) -> OutletModules:
    async with store.connected() as s:
        found = await s.outlet(outlet)
        if found is None:
            raise NotFound(f"no outlet {outlet}", resource="outlet")
        _may_read(op, found.bank)
        terminals = await s.terminals_of_outlet(outlet)
        psams = await s.psams_of_outlet(outlet)
    return OutletModules(outlet, tuple(terminals), tuple(psams))


def _refused(reason: str, message: str, psam: str | None) -> Forbidden:
    return Forbidden(message, code="psam_refused", reason=reason, psam=psam)


async def check_station(
    store: Store, op: Operator, site_outlet: str | None, psam: str | None,
    capabilities: Sequence[Capability],
) -> None:  # fmt: skip
    """Refuse a claim for chip work at an outlet whose named PSAM may not work there."""
    if site_outlet is None or not CHIP_WORK.intersection(capabilities):
        return
    if psam is None:
        raise _refused("psam_missing", "this outlet works with a PSAM: name it", None)
    found = await store.psam(psam)
    if found is None or found.bank != op.bank:
        raise _refused("psam_unknown", f"PSAM {psam} is not in this bank's register", psam)
    if found.state != PsamState.INSTALLED:
        raise _refused("psam_not_installed", f"PSAM {psam} is {found.state}", psam)
    if found.outlet != site_outlet:
        raise _refused("psam_wrong_outlet", f"PSAM {psam} is not installed at {site_outlet}", psam)
    if found.terminal_state != TerminalState.IN_SERVICE:
        raise _refused("terminal_not_in_service", f"the terminal of PSAM {psam} is not in service",
                       psam)  # fmt: skip
