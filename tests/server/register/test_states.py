"""Every (from, to) pair of a register entry's lifecycle, against the table written out by hand
here."""

from __future__ import annotations

import itertools

import pytest

from server.errors import InvalidTransition
from server.register import states

# Written independently of server/register/states.py so that a change there must be made here.
ENTRY_ALLOWED = {
    ("under_review", "approved"),
    ("under_review", "restricted"),
    ("under_review", "prohibited"),
    ("approved", "review_due"),
    ("approved", "suspended"),
    ("approved", "retired"),
    ("approved", "under_review"),
    ("restricted", "review_due"),
    ("restricted", "suspended"),
    ("restricted", "retired"),
    ("restricted", "under_review"),
    ("review_due", "under_review"),
    ("suspended", "under_review"),
    ("suspended", "retired"),
    ("prohibited", "under_review"),
    ("prohibited", "retired"),
}
ENTRY = [
    "under_review",
    "approved",
    "restricted",
    "prohibited",
    "review_due",
    "suspended",
    "retired",
]


def test_the_state_list_matches() -> None:
    assert list(states.ENTRY_STATES) == ENTRY


@pytest.mark.parametrize(("current", "target"), list(itertools.product(ENTRY, ENTRY)))
def test_entry_transition(current: str, target: str) -> None:
    if (current, target) in ENTRY_ALLOWED:
        states.check_entry(current, target)
        assert target in states.entry_targets(current)
    else:
        with pytest.raises(InvalidTransition) as raised:
            states.check_entry(current, target)
        assert (raised.value.current, raised.value.target) == (current, target)
        assert target not in states.entry_targets(current)


@pytest.mark.parametrize("bad", ["", "approved ", "NEW", "deleted"])
def test_unknown_states_are_refused(bad: str) -> None:
    with pytest.raises(InvalidTransition):
        states.check_entry(bad, "approved")
    with pytest.raises(InvalidTransition):
        states.check_entry("under_review", bad)


def test_terminal_and_prohibited_states() -> None:
    assert states.entry_targets("retired") == []
    # Prohibited stays prohibited until a new decision: no direct way to approval.
    assert set(states.entry_targets("prohibited")) == {"under_review", "retired"}
