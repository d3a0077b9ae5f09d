"""The triage state machine of a draft inventory item (collector InventoryItem.state).

Anything not listed is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from server.errors import InvalidTransition

NEW = "new"
TRIAGING = "triaging"
NEEDS_INFO = "needs_info"
PROMOTED = "promoted"
MERGED = "merged"
FALSE_POSITIVE = "false_positive"
OUT_OF_SCOPE = "out_of_scope"

TRIAGE_STATES = (NEW, TRIAGING, NEEDS_INFO, PROMOTED, MERGED, FALSE_POSITIVE, OUT_OF_SCOPE)

TRIAGE_TRANSITIONS: Mapping[str, frozenset[str]] = {
    NEW: frozenset({TRIAGING, MERGED, FALSE_POSITIVE, OUT_OF_SCOPE}),
    TRIAGING: frozenset({NEEDS_INFO, PROMOTED, MERGED, FALSE_POSITIVE, OUT_OF_SCOPE}),
    NEEDS_INFO: frozenset({TRIAGING, PROMOTED, FALSE_POSITIVE, OUT_OF_SCOPE}),
    PROMOTED: frozenset(),
    MERGED: frozenset(),
    # Reopening lifts the suppression rule or the scope exclusion.
    FALSE_POSITIVE: frozenset({TRIAGING}),
    OUT_OF_SCOPE: frozenset({TRIAGING}),
}

# Target states that need a written reason (clause 4.3 scope rationale; suppression reason).
TRIAGE_REASON_REQUIRED = frozenset({FALSE_POSITIVE, OUT_OF_SCOPE, NEEDS_INFO})
# Items that no longer wait for anyone: hidden from the default triage queue.
TRIAGE_CLOSED = frozenset({PROMOTED, MERGED, FALSE_POSITIVE, OUT_OF_SCOPE})
# The states of the default triage queue: items waiting for someone.
TRIAGE_OPEN = (NEW, TRIAGING, NEEDS_INFO)


def check_triage(current: str, target: str) -> None:
    """Refuse a triage move the state machine does not allow; raises InvalidTransition."""
    if current not in TRIAGE_TRANSITIONS:
        raise InvalidTransition("inventory item", current, target, "unknown current state")
    if target not in TRIAGE_TRANSITIONS:
        raise InvalidTransition("inventory item", current, target, "unknown target state")
    if target not in TRIAGE_TRANSITIONS[current]:
        raise InvalidTransition("inventory item", current, target, "not an allowed transition")


def triage_targets(current: str) -> list[str]:
    """Return the states a draft item may move to, in display order."""
    allowed = TRIAGE_TRANSITIONS.get(current, frozenset())
    return [state for state in TRIAGE_STATES if state in allowed]
