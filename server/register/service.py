"""Register entries: create, edit, decide, move through their lifecycle and fall due for
review. Each checks the state machine and the guards, changes the entry and appends one audit
event, in the caller's transaction.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from collector.store import audit, register, triage
from collector.store.base import utcnow
from collector.store.register import RegisterEntry
from server.approvals.service import route_blockers, route_progress, start_new_round
from server.audit.service import record_change
from server.errors import GuardFailed, StaleVersion
from server.register import states
from server.register.schemas import PERSONAL_DATA_CLASSES, EntryInput

# Snapshots for the audit trail ---------------------------------------------------------------

_ENTRY_FIELDS = (*EntryInput.model_fields, "status", "decision", "decision_conditions")
_ENTRY_FIELDS_ALL = (
    *_ENTRY_FIELDS,
    "allowed_departments",
    "alternative",
    "decision_rationale",
    "decided_by",
    "last_reviewed_on",
    "next_review_on",
    "version",
)


def entry_snapshot(entry: RegisterEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in _ENTRY_FIELDS_ALL}


# Register entries ----------------------------------------------------------------------------


def _field_values(fields: EntryInput) -> dict[str, Any]:
    values = fields.model_dump()
    # Personal data is implied by the data classes; the box can add it, never remove it.
    values["personal_data"] = fields.personal_data or bool(
        PERSONAL_DATA_CLASSES & set(fields.data_classes)
    )
    return values


def _apply_fields(entry: RegisterEntry, fields: EntryInput) -> None:
    for name, value in _field_values(fields).items():
        setattr(entry, name, value)
    entry.updated_at = utcnow()


def create_entry(
    session: Session, *, actor: str, fields: EntryInput, service_id: str | None = None
) -> RegisterEntry:
    """Create a register entry under review with the next AIR-YYYY-NNNN id."""
    audit.lock_audit_chain(session)  # also serialises id allocation
    register_id = register.next_register_id(session, year=utcnow().year)
    entry = register.create_register_entry(
        session,
        register_id=register_id,
        service_id=service_id,
        status=states.UNDER_REVIEW,
        **_field_values(fields),
    )
    record_change(
        session,
        actor=actor,
        action="entry.create",
        object_type="entry",
        object_id=register_id,
        before=None,
        after=entry_snapshot(entry),
    )
    return entry


def _checked_entry(session: Session, register_id: str, expected_version: int) -> RegisterEntry:
    entry = register.get_register_entry(session, register_id=register_id)
    if entry.version != expected_version:
        raise StaleVersion(register_id, expected_version, entry.version)
    return entry


def flush_entry(session: Session, entry: RegisterEntry, expected_version: int) -> None:
    """Write an entry's changes; raises StaleVersion when another edit got there first."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise StaleVersion(entry.register_id, expected_version, expected_version + 1) from exc


def update_entry(
    session: Session, *, actor: str, register_id: str, expected_version: int, fields: EntryInput
) -> RegisterEntry:
    """Change an entry's fields; an approved or restricted entry must still pass its guards.

    Raises NotFound, StaleVersion, GuardFailed.
    """
    entry = _checked_entry(session, register_id, expected_version)
    if entry.status == states.RETIRED:
        raise GuardFailed("status", "a retired entry cannot be edited")
    before = entry_snapshot(entry)
    governed = entry.status in (states.APPROVED, states.RESTRICTED)
    open_routes = _incomplete_routes(session, entry) if governed else set()
    _apply_fields(entry, fields)
    if governed:
        blockers = decision_blockers(entry, entry.status, decided_by=entry.decided_by or "")
        if blockers:
            raise GuardFailed(*blockers[0])
        # A change that brings the entry under a route it has not been through (new personal
        # data, a higher risk...) needs a new review, not an edit.
        newly = _incomplete_routes(session, entry) - open_routes
        if newly:
            raise GuardFailed(
                "approval_route",
                f"this change brings the entry under the route {sorted(newly)[0]!r}: "
                "move it back to review, then complete the route",
            )
    flush_entry(session, entry, expected_version)
    record_change(
        session,
        actor=actor,
        action="entry.update",
        object_type="entry",
        object_id=register_id,
        before=before,
        after=entry_snapshot(entry),
    )
    return entry


def _incomplete_routes(session: Session, entry: RegisterEntry) -> set[str]:
    return {p.route.name for p in route_progress(session, entry=entry) if not p.complete}


def decision_blockers(
    entry: RegisterEntry, decision: str, *, decided_by: str
) -> list[tuple[str, str]]:
    """Return (field, reason) for every guard a decision would break; empty means allowed."""
    problems: list[tuple[str, str]] = []
    if decision in (states.APPROVED, states.RESTRICTED):
        if not entry.business_owner.strip():
            problems.append(("business_owner", "a business owner is required before approval"))
        if not entry.purpose.strip():
            problems.append(("purpose", "the purpose is required before approval"))
        if entry.risk_level == "unrated":
            problems.append(("risk_level", "rate the risk before approval"))
        if entry.personal_data and entry.dpia_screening not in (
            "dpia_not_required",
            "dpia_completed",
        ):
            problems.append(
                (
                    "dpia_screening",
                    "personal data is involved: screen for a DPIA (not required, or completed)",
                )
            )
        if entry.eu_ai_act_class == "prohibited_art5":
            problems.append(
                ("eu_ai_act_class", "a prohibited practice (AI Act Art. 5) can only be prohibited")
            )
        if entry.scope_status == "out_of_scope":
            problems.append(
                ("scope_status", "an out-of-scope use is not approved through the register")
            )
        if decided_by and decided_by.strip().lower() == entry.business_owner.strip().lower():
            problems.append(("business_owner", "the business owner cannot approve their own use"))
    if decision == states.RESTRICTED and not entry.decision_conditions.strip():
        problems.append(("conditions", "a restricted approval needs its conditions"))
    return problems


# A department name as people type it: one line, no control characters.
_DEPARTMENT = re.compile(r"^[^\x00-\x1f\x7f]{1,120}$")
MAX_DEPARTMENTS = 100


def checked_departments(names: Sequence[str]) -> list[str]:
    """Return the departments a restricted use is allowed in, trimmed, deduplicated
    case-insensitively, in the order given; raises GuardFailed naming a bad one."""
    found: dict[str, str] = {}
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if not _DEPARTMENT.match(name):
            raise GuardFailed(
                "allowed_departments", f"{name[:40]!r} is not a department name (1-120 characters)"
            )
        found.setdefault(name.lower(), name)
    if len(found) > MAX_DEPARTMENTS:
        raise GuardFailed("allowed_departments", f"at most {MAX_DEPARTMENTS} departments")
    return list(found.values())


def checked_alternative(alternative: str) -> str:
    """Return the approved alternative's name, trimmed; raises GuardFailed when invalid."""
    name = alternative.strip()
    if len(name) > 255 or re.search(r"[\x00-\x1f\x7f]", name):
        raise GuardFailed("alternative", "one line of at most 255 characters")
    return name


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def decide_entry(
    session: Session,
    *,
    actor: str,
    register_id: str,
    expected_version: int,
    decision: str,
    rationale: str,
    conditions: str = "",
    allowed_departments: Sequence[str] = (),
    alternative: str = "",
    today: dt.date | None = None,
) -> RegisterEntry:
    """Record a review decision: approved, restricted (with conditions, and the departments
    it is allowed in) or prohibited; a prohibited or restricted use may name its approved
    alternative. Every inventory item linked to the entry takes the decision.

    Sets the next review date from the cadence. Raises NotFound, StaleVersion,
    InvalidTransition, GuardFailed.
    """
    if decision not in states.DECISIONS:
        raise GuardFailed("decision", f"must be one of {', '.join(states.DECISIONS)}")
    departments = checked_departments(allowed_departments)
    if departments and decision != states.RESTRICTED:
        raise GuardFailed("allowed_departments", "only a restricted use names its departments")
    alternative = checked_alternative(alternative)
    if alternative and decision == states.APPROVED:
        raise GuardFailed("alternative", "an approved use needs no alternative")
    entry = _checked_entry(session, register_id, expected_version)
    states.check_entry(entry.status, decision)
    if not rationale.strip():
        raise GuardFailed("rationale", "a decision needs its rationale")
    before = entry_snapshot(entry)
    entry.decision_conditions = conditions.strip()[:4000]
    entry.allowed_departments = departments
    entry.alternative = alternative
    blockers = decision_blockers(entry, decision, decided_by=actor)
    if decision in (states.APPROVED, states.RESTRICTED):
        blockers += route_blockers(session, entry=entry)
    if blockers:
        raise GuardFailed(*blockers[0])
    today = today or utcnow().date()
    entry.status = decision
    entry.decision = decision
    entry.decision_rationale = rationale.strip()[:4000]
    entry.decided_by = actor
    entry.decided_at = utcnow()
    entry.last_reviewed_on = today
    entry.next_review_on = add_months(today, entry.review_cadence_months)
    entry.updated_at = utcnow()
    flush_entry(session, entry, expected_version)
    triage.govern_items_of_entry(
        session,
        entry_id=entry.id,
        status=entry.status,
        allowed_departments=entry.allowed_departments,
    )
    record_change(
        session,
        actor=actor,
        action=f"entry.{decision}",
        object_type="entry",
        object_id=register_id,
        before=before,
        after=entry_snapshot(entry),
    )
    return entry


def move_entry(
    session: Session,
    *,
    actor: str,
    register_id: str,
    expected_version: int,
    target: str,
    reason: str,
) -> RegisterEntry:
    """Start a review, suspend or retire an entry (decisions go through decide_entry).

    Raises NotFound, StaleVersion, InvalidTransition, GuardFailed.
    """
    if target in states.DECISIONS:
        raise GuardFailed("status", "record a decision instead")
    entry = _checked_entry(session, register_id, expected_version)
    states.check_entry(entry.status, target)
    if not reason.strip():
        raise GuardFailed("reason", "say why the entry changes state")
    before = entry_snapshot(entry)
    entry.status = target
    entry.updated_at = utcnow()
    flush_entry(session, entry, expected_version)
    triage.govern_items_of_entry(
        session,
        entry_id=entry.id,
        status=entry.status,
        allowed_departments=entry.allowed_departments,
    )
    after = {**entry_snapshot(entry), "reason": reason.strip()[:4000]}
    record_change(
        session,
        actor=actor,
        action=f"entry.{target}",
        object_type="entry",
        object_id=register_id,
        before=before,
        after=after,
    )
    if target == states.UNDER_REVIEW:
        # A new review round: the approval route's sign-offs must be given again.
        start_new_round(session, actor=actor, register_id=register_id, reason=reason)
    return entry


def mark_reviews_due(session: Session, *, today: dt.date, actor: str = "system") -> list[str]:
    """Move approved and restricted entries whose review date has come to review due."""
    moved = []
    for entry in register.list_register_entries(
        session, statuses=(states.APPROVED, states.RESTRICTED), due_before=today
    ):
        before = entry_snapshot(entry)
        entry.status = states.REVIEW_DUE
        entry.updated_at = utcnow()
        session.flush()
        triage.govern_items_of_entry(
            session,
            entry_id=entry.id,
            status=entry.status,
            allowed_departments=entry.allowed_departments,
        )
        record_change(
            session,
            actor=actor,
            action="entry.review_due",
            object_type="entry",
            object_id=entry.register_id,
            before=before,
            after=entry_snapshot(entry),
        )
        moved.append(entry.register_id)
    return moved
