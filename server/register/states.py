"""The state machines: a draft item's triage states and a register entry's lifecycle.

Transitions follow shared/reference/register.md section (b); anything not listed is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from server.register.errors import InvalidTransition

# Draft inventory item (collector InventoryItem.state) ----------------------------------------

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

# Register entry ------------------------------------------------------------------------------

UNDER_REVIEW = "under_review"
APPROVED = "approved"
RESTRICTED = "restricted"
PROHIBITED = "prohibited"
REVIEW_DUE = "review_due"
SUSPENDED = "suspended"
RETIRED = "retired"

ENTRY_STATES = (UNDER_REVIEW, APPROVED, RESTRICTED, PROHIBITED, REVIEW_DUE, SUSPENDED, RETIRED)
DECISIONS = (APPROVED, RESTRICTED, PROHIBITED)

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


def check_triage(current: str, target: str) -> None:
    """Refuse a triage move the state machine does not allow; raises InvalidTransition."""
    _check("inventory item", TRIAGE_TRANSITIONS, current, target)


def check_entry(current: str, target: str) -> None:
    """Refuse a register lifecycle move the machine does not allow; raises InvalidTransition."""
    _check("register entry", ENTRY_TRANSITIONS, current, target)


def triage_targets(current: str) -> list[str]:
    """Return the states a draft item may move to, in display order."""
    allowed = TRIAGE_TRANSITIONS.get(current, frozenset())
    return [state for state in TRIAGE_STATES if state in allowed]


def entry_targets(current: str) -> list[str]:
    allowed = ENTRY_TRANSITIONS.get(current, frozenset())
    return [state for state in ENTRY_STATES if state in allowed]


def _check(kind: str, table: Mapping[str, frozenset[str]], current: str, target: str) -> None:
    if current not in table:
        raise InvalidTransition(kind, current, target, "unknown current state")
    if target not in table:
        raise InvalidTransition(kind, current, target, "unknown target state")
    if target not in table[current]:
        raise InvalidTransition(kind, current, target, "not an allowed transition")
