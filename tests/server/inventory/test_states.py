"""Every (from, to) pair of the triage state machine, against the table written out by hand here."""

from __future__ import annotations

import itertools

import pytest

from server.errors import InvalidTransition
from server.inventory import states

# Written independently of server/inventory/states.py so that a change there must be made here.
TRIAGE_ALLOWED = {
    ("new", "triaging"),
    ("new", "merged"),
    ("new", "false_positive"),
    ("new", "out_of_scope"),
    ("triaging", "needs_info"),
    ("triaging", "promoted"),
    ("triaging", "merged"),
    ("triaging", "false_positive"),
    ("triaging", "out_of_scope"),
    ("needs_info", "triaging"),
    ("needs_info", "promoted"),
    ("needs_info", "false_positive"),
    ("needs_info", "out_of_scope"),
    ("false_positive", "triaging"),
    ("out_of_scope", "triaging"),
}
TRIAGE = ["new", "triaging", "needs_info", "promoted", "merged", "false_positive", "out_of_scope"]


def test_the_state_list_matches() -> None:
    assert list(states.TRIAGE_STATES) == TRIAGE


@pytest.mark.parametrize(("current", "target"), list(itertools.product(TRIAGE, TRIAGE)))
def test_triage_transition(current: str, target: str) -> None:
    if (current, target) in TRIAGE_ALLOWED:
        states.check_triage(current, target)
        assert target in states.triage_targets(current)
    else:
        with pytest.raises(InvalidTransition) as raised:
            states.check_triage(current, target)
        assert (raised.value.current, raised.value.target) == (current, target)
        assert target not in states.triage_targets(current)


@pytest.mark.parametrize("bad", ["", "approved ", "NEW", "deleted"])
def test_unknown_states_are_refused(bad: str) -> None:
    with pytest.raises(InvalidTransition):
        states.check_triage(bad, "triaging")
    with pytest.raises(InvalidTransition):
        states.check_triage("new", bad)


def test_terminal_states() -> None:
    assert states.triage_targets("promoted") == [] and states.triage_targets("merged") == []
