"""The lifecycle of a register entry: under review, decided (approved, restricted, prohibited),
due for review, suspended, retired. Anything not listed is refused. The statuses themselves
belong to collector.governance, the one vocabulary."""

from __future__ import annotations

from collections.abc import Mapping

from collector.governance import (
    APPROVED,
    DECISIONS,
    PROHIBITED,
    RESTRICTED,
    RETIRED,
    REVIEW_DUE,
    SUSPENDED,
    UNDER_REVIEW,
)
from collector.governance import ENTRY_STATUSES as ENTRY_STATES
from server.errors import InvalidTransition

__all__ = [
    "APPROVED",
    "DECISIONS",
    "ENTRY_STATES",
    "ENTRY_TRANSITIONS",
    "PROHIBITED",
    "RESTRICTED",
    "RETIRED",
    "REVIEW_DUE",
    "SUSPENDED",
    "UNDER_REVIEW",
    "check_entry",
    "entry_targets",
]

ENTRY_TRANSITIONS: Mapping[str, frozenset[str]] = {
    UNDER_REVIEW: frozenset({APPROVED, RESTRICTED, PROHIBITED}),
    APPROVED: frozenset({REVIEW_DUE, SUSPENDED, RETIRED, UNDER_REVIEW}),
    RESTRICTED: frozenset({REVIEW_DUE, SUSPENDED, RETIRED, UNDER_REVIEW}),
    REVIEW_DUE: frozenset({UNDER_REVIEW}),
    SUSPENDED: frozenset({UNDER_REVIEW, RETIRED}),
    # Prohibited stays prohibited until a new decision: only a re-review (or retirement) exits.
    PROHIBITED: frozenset({UNDER_REVIEW, RETIRED}),
    RETIRED: frozenset(),
}


def check_entry(current: str, target: str) -> None:
    """Refuse a register lifecycle move the machine does not allow; raises InvalidTransition."""
    if current not in ENTRY_TRANSITIONS:
        raise InvalidTransition("register entry", current, target, "unknown current state")
    if target not in ENTRY_TRANSITIONS:
        raise InvalidTransition("register entry", current, target, "unknown target state")
    if target not in ENTRY_TRANSITIONS[current]:
        raise InvalidTransition("register entry", current, target, "not an allowed transition")


def entry_targets(current: str) -> list[str]:
    """Return the states an entry may move to, in display order."""
    allowed = ENTRY_TRANSITIONS.get(current, frozenset())
    return [state for state in ENTRY_STATES if state in allowed]
