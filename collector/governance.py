"""The one vocabulary of governed statuses: what the AI register decided about a use, carried
by the register entry and by every inventory item linked to it. Only the register sets them
(server/register/service.py); ingest, pages, reports and exports read them from here."""

from __future__ import annotations

from collections.abc import Mapping

#: An inventory item not (yet) linked to a register entry.
UNGOVERNED = ""
UNDER_REVIEW = "under_review"
APPROVED = "approved"
RESTRICTED = "restricted"
PROHIBITED = "prohibited"
REVIEW_DUE = "review_due"
SUSPENDED = "suspended"
RETIRED = "retired"

#: Every status a register entry can take, in display order.
ENTRY_STATUSES = (UNDER_REVIEW, APPROVED, RESTRICTED, PROHIBITED, REVIEW_DUE, SUSPENDED, RETIRED)
#: Every status an inventory item can carry: an entry's, or none.
GOVERNED_STATUSES = (*ENTRY_STATUSES, UNGOVERNED)
#: The outcomes of a review decision.
DECISIONS = (APPROVED, RESTRICTED, PROHIBITED)

LABELS: Mapping[str, str] = {
    UNDER_REVIEW: "Under review",
    APPROVED: "Approved",
    RESTRICTED: "Restricted",
    PROHIBITED: "Prohibited",
    REVIEW_DUE: "Review due",
    SUSPENDED: "Suspended",
    RETIRED: "Retired",
    UNGOVERNED: "Not in register",
}

#: Why a sighting is a violation: the item is prohibited, or restricted and seen outside its
#: conditions (a department the entry does not allow).
VIOLATION_PROHIBITED = "prohibited"
VIOLATION_OUTSIDE_CONDITIONS = "outside_conditions"
VIOLATION_REASONS = (VIOLATION_PROHIBITED, VIOLATION_OUTSIDE_CONDITIONS)


def label(status: str) -> str:
    """Return the words people see for a governed status (the value itself if unknown)."""
    return LABELS.get(status, status)


def violation_reason(status: str, *, department: str, allowed_departments: list[str]) -> str:
    """Return why a sighting under ``status`` from ``department`` breaks the register, or ""."""
    if status == PROHIBITED:
        return VIOLATION_PROHIBITED
    if status == RESTRICTED and allowed_departments:
        allowed = {name.strip().lower() for name in allowed_departments}
        if department.strip().lower() not in allowed:
            return VIOLATION_OUTSIDE_CONDITIONS
    return ""
