"""Security terminals and PSAM cards: their states and the moves between them, as data.

A PSAM card (社保 PSAM 卡) is received by a bank, installed in a security
terminal of one of its outlets, may be suspended (and resumed) or revoked,
and ends destroyed. Only an installed PSAM, in a terminal in service at the
outlet an agent serves, lets that agent claim jobs that write chips.
"""

from __future__ import annotations

from enum import StrEnum


class PsamState(StrEnum):
    RECEIVED = "received"
    INSTALLED = "installed"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    DESTROYED = "destroyed"


class PsamAction(StrEnum):
    INSTALL = "install"
    SUSPEND = "suspend"
    RESUME = "resume"
    REVOKE = "revoke"
    DESTROY = "destroy"


class TerminalState(StrEnum):
    IN_SERVICE = "in_service"
    OUT_OF_SERVICE = "out_of_service"
    RETIRED = "retired"


S = PsamState
# action → (states it may start from, state it leads to)
PSAM_MOVES: dict[PsamAction, tuple[frozenset[PsamState], PsamState]] = {
    PsamAction.INSTALL: (frozenset({S.RECEIVED}), S.INSTALLED),
    PsamAction.SUSPEND: (frozenset({S.INSTALLED}), S.SUSPENDED),
    PsamAction.RESUME: (frozenset({S.SUSPENDED}), S.INSTALLED),
    PsamAction.REVOKE: (frozenset({S.RECEIVED, S.INSTALLED, S.SUSPENDED}), S.REVOKED),
    PsamAction.DESTROY: (frozenset({S.RECEIVED, S.SUSPENDED, S.REVOKED}), S.DESTROYED),
}
# states in which the PSAM sits in its terminal (one such PSAM per terminal)
IN_TERMINAL = frozenset({S.INSTALLED, S.SUSPENDED})


def next_state(state: PsamState, action: PsamAction) -> PsamState | None:
    """Where ``action`` leads from ``state``; None when the state forbids it."""
    sources, target = PSAM_MOVES[action]
    return target if state in sources else None
