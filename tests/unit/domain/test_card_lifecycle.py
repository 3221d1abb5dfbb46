"""The card state machine: every (state, action) pair, rules on loss, one card per person."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from issuance.domain.cards import (
    Action,
    Card,
    CardBlocked,
    CardEvent,
    CardStatus,
    ReplaceReason,
    ensure_usable,
)
from issuance.domain.lifecycle import (
    INITIAL,
    INITIAL_NAME,
    TEMPORARY_LOSS_DAYS,
    TRANSITIONS,
    State,
    allowed_actions,
    apply,
    cards_to_supersede,
    order,
    record,
    temporary_loss_lapsed,
)
from sscard_core.errors import ConflictError, FieldError, TransitionForbidden

S = CardStatus
A = Action
STATES: list[State] = [INITIAL, *CardStatus]
ALL_PAIRS = list(itertools.product(STATES, Action))
NOW = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(("state", "action"), ALL_PAIRS, ids=str)
def test_every_pair(state: State, action: Action) -> None:
    if (state, action) in TRANSITIONS:
        assert apply(state, action) is TRANSITIONS[state, action]
    else:
        name = INITIAL_NAME if state is None else state.value
        with pytest.raises(TransitionForbidden) as info:
            apply(state, action)
        assert info.value.action == action.value
        assert info.value.state == name
        assert info.value.to_dict()["current_state"] == name


def test_the_normal_life_of_a_card() -> None:
    state: State = INITIAL
    path = [A.ORDER, A.START_PRODUCTION, A.PRODUCE_DONE, A.HAND_OVER, A.ACTIVATE]
    for action in path:
        state = apply(state, action)
    assert state is S.ACTIVE


def test_only_order_leaves_the_initial_state_and_nothing_leads_back() -> None:
    assert allowed_actions(INITIAL) == {A.ORDER}
    assert {(s, a) for (s, a) in TRANSITIONS if a is A.ORDER} == {(INITIAL, A.ORDER)}
    assert apply(INITIAL, A.ORDER) is S.REQUESTED
    assert INITIAL not in set(TRANSITIONS.values())


def test_order_makes_a_requested_card_and_its_first_event() -> None:
    new, event = order("c9", "11010519491231002X", "B01", operator_id="op", outlet_id="o", at=NOW)
    assert new == Card("c9", "11010519491231002X", "B01", S.REQUESTED)
    assert (event.action, event.from_status, event.to_status) == (A.ORDER, None, S.REQUESTED)


def test_an_existing_card_cannot_be_ordered_again() -> None:
    with pytest.raises(TransitionForbidden):
        record(card("c1", S.REQUESTED), A.ORDER, operator_id=None, outlet_id=None, at=NOW)


@pytest.mark.parametrize(
    ("action", "from_status"), [(A.ORDER, S.REQUESTED), (A.START_PRODUCTION, None)]
)
def test_only_the_order_event_has_no_state_before_it(
    action: Action, from_status: CardStatus | None
) -> None:
    with pytest.raises(FieldError) as info:
        CardEvent("c1", action, from_status, S.IN_PRODUCTION, None, None, NOW)
    assert info.value.code == "initial_state"


def test_final_states_have_no_way_out() -> None:
    for state in CardStatus:
        assert (not allowed_actions(state)) == state.info.final


def test_every_state_is_reachable_from_the_initial_state() -> None:
    seen: set[State] = {INITIAL}
    frontier: list[State] = [INITIAL]
    while frontier:
        state = frontier.pop()
        for action in allowed_actions(state):
            target = apply(state, action)
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(STATES)


def test_reissue_only_from_formal_loss() -> None:
    assert {s for (s, a) in TRANSITIONS if a is A.REISSUE} == {S.LOST_FORMAL}
    assert apply(S.LOST_FORMAL, A.REISSUE) is S.SUPERSEDED


def test_replace_needs_the_card_in_hand() -> None:
    assert {s for (s, a) in TRANSITIONS if a is A.REPLACE} == {S.ISSUED, S.ACTIVE}


def test_temporary_loss_returns_to_active_when_lifted_or_lapsed() -> None:
    lost = apply(S.ACTIVE, A.REPORT_LOSS_TEMPORARY)
    assert apply(lost, A.CANCEL_LOSS) is S.ACTIVE
    assert apply(lost, A.LAPSE_TEMPORARY_LOSS) is S.ACTIVE
    assert apply(lost, A.REPORT_LOSS_FORMAL) is S.LOST_FORMAL
    with pytest.raises(TransitionForbidden):
        apply(S.LOST_FORMAL, A.CANCEL_LOSS)


def test_a_card_is_never_cancelled_in_the_printer() -> None:
    with pytest.raises(TransitionForbidden):
        apply(S.IN_PRODUCTION, A.CANCEL)


def test_status_order_follows_the_lifecycle() -> None:
    assert S.REQUESTED.rank < S.IN_PRODUCTION.rank < S.READY.rank < S.ISSUED.rank < S.ACTIVE.rank
    for (state, action), target in TRANSITIONS.items():
        if state is None:
            assert target.rank == 0  # ORDER creates the card in the first state
        elif action in {A.START_PRODUCTION, A.PRODUCE_DONE, A.HAND_OVER, A.ACTIVATE}:
            assert target.rank == state.rank + 1


@pytest.mark.parametrize("state", list(CardStatus))
def test_only_an_active_card_may_be_used(state: CardStatus) -> None:
    if state is S.ACTIVE:
        ensure_usable("c1", state)
    else:
        with pytest.raises(CardBlocked) as info:
            ensure_usable("c1", state)
        assert info.value.code == "card_blocked"


@pytest.mark.parametrize(
    ("elapsed", "lapsed"),
    [
        (timedelta(0), False),
        (timedelta(days=TEMPORARY_LOSS_DAYS) - timedelta(seconds=1), False),
        (timedelta(days=TEMPORARY_LOSS_DAYS), True),
        (timedelta(days=30), True),
    ],
)
def test_temporary_loss_lapses_after_the_set_days(elapsed: timedelta, lapsed: bool) -> None:
    assert temporary_loss_lapsed(NOW, NOW + elapsed) is lapsed


def test_lapse_needs_aware_times() -> None:
    with pytest.raises(FieldError):
        temporary_loss_lapsed(NOW.replace(tzinfo=None), NOW)


def card(card_id: str, status: CardStatus, citizen: str = "11010519491231002X") -> Card:
    return Card(card_id, citizen, "B01", status)


def test_record_returns_the_new_card_and_its_event() -> None:
    new, event = record(
        card("c1", S.ACTIVE),
        A.REPLACE,
        operator_id="op7",
        outlet_id="o3",
        at=NOW,
        reason=ReplaceReason.DAMAGED,
    )
    assert new.status is S.SUPERSEDED
    assert (event.from_status, event.to_status) == (S.ACTIVE, S.SUPERSEDED)
    assert event.reason is ReplaceReason.DAMAGED


def test_record_refuses_a_forbidden_action() -> None:
    with pytest.raises(TransitionForbidden):
        record(card("c1", S.CANCELLED), A.ACTIVATE, operator_id="op", outlet_id="o", at=NOW)


@pytest.mark.parametrize(
    ("action", "reason", "code"),
    [
        (A.REPLACE, None, "reason_missing"),
        (A.ACTIVATE, ReplaceReason.EXPIRED, "reason_unexpected"),
    ],
)
def test_event_reason_rules(action: Action, reason: ReplaceReason | None, code: str) -> None:
    with pytest.raises(FieldError) as info:
        CardEvent("c1", action, S.ACTIVE, S.ACTIVE, None, None, NOW, reason)
    assert info.value.code == code


def test_event_time_must_be_aware() -> None:
    with pytest.raises(FieldError):
        CardEvent("c1", A.ACTIVATE, S.ISSUED, S.ACTIVE, "op", "o", NOW.replace(tzinfo=None))


def test_new_card_supersedes_every_live_card() -> None:
    cards = [
        card("old1", S.SUPERSEDED),
        card("lost", S.LOST_FORMAL),
        card("other-bank", S.ACTIVE),
        card("spoiled", S.SPOILED),
        card("gone", S.CANCELLED),
    ]
    assert [c.card_id for c in cards_to_supersede(cards)] == ["lost", "other-bank"]
    assert cards_to_supersede([]) == ()


@pytest.mark.parametrize("pending", [S.REQUESTED, S.IN_PRODUCTION])
def test_a_pending_card_blocks_a_new_order(pending: CardStatus) -> None:
    with pytest.raises(ConflictError) as info:
        cards_to_supersede([card("a", S.ACTIVE), card("b", pending)])
    assert info.value.code == "card_pending"


def test_supersede_rule_is_per_person() -> None:
    with pytest.raises(FieldError):
        cards_to_supersede([card("a", S.ACTIVE), card("b", S.ACTIVE, "110105194912310029")])


def test_every_live_state_can_be_superseded() -> None:
    for state in CardStatus:
        if state.info.live:
            assert apply(state, A.SUPERSEDE) is S.SUPERSEDED
