"""Reviews: which register entries are due or overdue, what discovery says should trigger a
reassessment (less the triggers a reviewer dismissed), the review workflow (record a review,
move the next review date, dismiss a trigger), the owners' reminders by email, and the
suppliers behind the register with their review status."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from collector.store import inventory, notifications, register, triage, users
from collector.store.base import utcnow
from collector.store.register import RegisterEntry
from server.audit.service import record_change
from server.errors import GuardFailed, StaleVersion
from server.register import service as register_service
from server.register import states

DUE_SOON_DAYS = 30
# A usage spike: at least this many hosts started using the tool since the last review, and at
# least as many as used it before.
SPIKE_MIN_HOSTS = 3


@dataclass(frozen=True, slots=True)
class ReviewRow:
    entry: RegisterEntry
    overdue: bool
    days: int  # days until the review (negative: overdue)
    triggers: tuple[str, ...]
    #: Not overdue, and its review date falls within the window asked for.
    due_soon: bool = False


@dataclass(slots=True)
class SupplierRow:
    name: str
    review: str
    entries: list[str] = field(default_factory=list)


def reassessment_triggers(session: Session, *, entry: RegisterEntry) -> tuple[str, ...]:
    """Return why discovery suggests reassessing an entry since its last review (less those
    dismissed)."""
    dismissed = register.dismissed_triggers(session, entry_id=entry.id)
    return tuple(
        trigger for trigger in discovered_triggers(session, entry=entry) if trigger not in dismissed
    )


def discovered_triggers(session: Session, *, entry: RegisterEntry) -> tuple[str, ...]:
    """Return everything discovery saw since the last review that suggests reassessing."""
    if entry.last_reviewed_on is None:
        return ()
    since = dt.datetime.combine(entry.last_reviewed_on, dt.time(), tzinfo=dt.UTC)
    triggers: list[str] = []
    for item in triage.list_items_of_entry(session, entry_id=entry.id):
        for kind, first in sorted(
            inventory.kind_first_seen_for_item(session, item_id=item.id).items()
        ):
            if first >= since:
                triggers.append(f"new kind of evidence: {kind.replace('_', ' ')} ({item.name})")
        for department, first in sorted(
            inventory.department_first_seen_for_item(session, item_id=item.id).items()
        ):
            if first >= since:
                triggers.append(f"new department: {department} ({item.name})")
        hosts = inventory.host_first_seen_for_item(session, item_id=item.id)
        new_hosts = sum(1 for first in hosts.values() if first >= since)
        old_hosts = len(hosts) - new_hosts
        if new_hosts >= SPIKE_MIN_HOSTS and new_hosts >= old_hosts:
            triggers.append(
                f"usage spike: {new_hosts} new hosts since the last review ({item.name})"
            )
    return tuple(triggers)


def review_rows(
    session: Session, *, today: dt.date, due_within_days: int = DUE_SOON_DAYS
) -> list[ReviewRow]:
    """Return governed entries whose review is due within ``due_within_days`` days (30 by
    default), overdue, or triggered."""
    rows = []
    for entry in register.list_register_entries(
        session, statuses=(states.APPROVED, states.RESTRICTED, states.REVIEW_DUE), limit=None
    ):
        days = (entry.next_review_on - today).days if entry.next_review_on else 0
        triggers = reassessment_triggers(session, entry=entry)
        if days <= due_within_days or triggers or entry.status == states.REVIEW_DUE:
            rows.append(
                ReviewRow(
                    entry=entry,
                    overdue=days < 0,
                    days=days,
                    triggers=triggers,
                    due_soon=0 <= days <= due_within_days,
                )
            )
    rows.sort(key=lambda row: (row.days, row.entry.register_id))
    return rows


_REVIEW_RANK = {
    "rejected": 0,
    "not_started": 1,
    "in_progress": 2,
    "approved_with_conditions": 3,
    "approved": 4,
}


def supplier_rows(session: Session) -> list[SupplierRow]:
    """Return suppliers named in the register with their weakest review status."""
    found: dict[str, SupplierRow] = {}
    for entry in register.list_register_entries(session, limit=None):
        if not entry.supplier or entry.status == states.RETIRED:
            continue
        row = found.setdefault(
            entry.supplier.lower(), SupplierRow(entry.supplier, entry.supplier_review)
        )
        row.entries.append(entry.register_id)
        if _REVIEW_RANK.get(entry.supplier_review, 0) < _REVIEW_RANK.get(row.review, 0):
            row.review = entry.supplier_review
    return sorted(found.values(), key=lambda row: row.name.lower())


@dataclass(slots=True)
class SupplierSummary:
    """A supplier named in the register, a vendor seen in the inventory, or both."""

    name: str
    supplier_review: str | None  # the weakest review over its register entries
    register_ids: list[str] = field(default_factory=list)
    inventory_items: int = 0


def supplier_summaries(session: Session) -> list[SupplierSummary]:
    """Return suppliers from live register entries and vendors from the inventory, matched
    by name case-insensitively, with how many entries and items each has; by name."""
    found = {
        row.name.lower(): SupplierSummary(row.name, row.review, list(row.entries))
        for row in supplier_rows(session)
    }
    for vendor, items in inventory.count_items_by_vendor(session).items():
        summary = found.setdefault(vendor.lower(), SupplierSummary(vendor, None))
        summary.inventory_items += items
    return sorted(found.values(), key=lambda summary: (summary.name.lower(), summary.name))


# The review workflow --------------------------------------------------------------------------

#: What a review concludes: keep the decision, change a restricted use's conditions, or take
#: the entry back under review for a new decision.
REVIEW_OUTCOMES = ("keep", "change_conditions", "re_decide")
_REVIEWABLE = (states.APPROVED, states.RESTRICTED, states.PROHIBITED, states.REVIEW_DUE)
MAX_REVIEW_YEARS = 3


def _checked_review_date(next_review_on: dt.date, today: dt.date) -> dt.date:
    if next_review_on < today:
        raise GuardFailed("next_review_on", "a review date cannot be in the past")
    if next_review_on > today + dt.timedelta(days=366 * MAX_REVIEW_YEARS):
        raise GuardFailed("next_review_on", f"at most {MAX_REVIEW_YEARS} years ahead")
    return next_review_on


def record_review(
    session: Session,
    *,
    actor: str,
    register_id: str,
    expected_version: int,
    outcome: str,
    notes: str,
    conditions: str = "",
    next_review_on: dt.date | None = None,
    today: dt.date | None = None,
) -> RegisterEntry:
    """Record a review of a decided entry: keep the decision, change the conditions of a
    restricted use, or re-decide (the entry goes back under review). Sets the last review to
    today and the next one (``next_review_on``, never in the past; else from the cadence).

    Raises NotFound, StaleVersion, GuardFailed.
    """
    today = today or utcnow().date()
    if outcome not in REVIEW_OUTCOMES:
        raise GuardFailed("outcome", f"must be one of {', '.join(REVIEW_OUTCOMES)}")
    if not notes.strip():
        raise GuardFailed("notes", "say what the review found")
    entry = register.get_register_entry(session, register_id=register_id)
    if entry.version != expected_version:
        raise StaleVersion(register_id, expected_version, entry.version)
    if entry.status not in _REVIEWABLE or entry.decision is None:
        raise GuardFailed(
            "status", f"a {entry.status.replace('_', ' ')} entry has no decision to review"
        )
    if outcome == "change_conditions":
        if entry.decision != states.RESTRICTED:
            raise GuardFailed("outcome", "only a restricted use has conditions to change")
        if not conditions.strip():
            raise GuardFailed("conditions", "a restricted approval needs its conditions")
    next_date = (
        _checked_review_date(next_review_on, today)
        if next_review_on is not None
        else register_service.add_months(today, entry.review_cadence_months)
    )
    before = register_service.entry_snapshot(entry)  # every check passed: now change it
    if outcome == "change_conditions":
        entry.decision_conditions = conditions.strip()[:4000]
    entry.last_reviewed_on = today
    if outcome == "re_decide":
        entry.status = states.UNDER_REVIEW
    else:
        entry.status = entry.decision  # a review that was due is done
        entry.next_review_on = next_date
    entry.updated_at = utcnow()
    register_service.flush_entry(session, entry, expected_version)
    triage.govern_items_of_entry(
        session,
        entry_id=entry.id,
        status=entry.status,
        allowed_departments=entry.allowed_departments,
    )
    record_change(
        session,
        actor=actor,
        action="entry.reviewed",
        object_type="entry",
        object_id=register_id,
        before=before,
        after={
            **register_service.entry_snapshot(entry),
            "outcome": outcome,
            "notes": notes.strip()[:4000],
        },
    )
    return entry


def set_next_review(
    session: Session,
    *,
    actor: str,
    register_id: str,
    expected_version: int,
    next_review_on: dt.date,
    today: dt.date | None = None,
) -> RegisterEntry:
    """Move an entry's next review date (never into the past); raises NotFound,
    StaleVersion, GuardFailed."""
    today = today or utcnow().date()
    entry = register.get_register_entry(session, register_id=register_id)
    if entry.version != expected_version:
        raise StaleVersion(register_id, expected_version, entry.version)
    if entry.status == states.RETIRED:
        raise GuardFailed("status", "a retired entry is not reviewed")
    next_date = _checked_review_date(next_review_on, today)
    before = register_service.entry_snapshot(entry)
    entry.next_review_on = next_date
    entry.updated_at = utcnow()
    register_service.flush_entry(session, entry, expected_version)
    record_change(
        session,
        actor=actor,
        action="entry.update",
        object_type="entry",
        object_id=register_id,
        before=before,
        after=register_service.entry_snapshot(entry),
    )
    return entry


def dismiss_trigger(
    session: Session, *, actor: str, register_id: str, trigger: str, reason: str
) -> None:
    """Dismiss one current reassessment trigger of an entry, with the reason; raises
    NotFound, GuardFailed, Conflict."""
    if not reason.strip():
        raise GuardFailed("reason", "say why the trigger needs no reassessment")
    entry = register.get_register_entry(session, register_id=register_id)
    if trigger not in discovered_triggers(session, entry=entry):
        raise GuardFailed("trigger", "not a current reassessment trigger of this entry")
    register.create_trigger_dismissal(
        session,
        entry_id=entry.id,
        trigger=trigger,
        reason=reason.strip()[:4000],
        dismissed_by=actor,
    )
    record_change(
        session,
        actor=actor,
        action="entry.trigger_dismissed",
        object_type="entry",
        object_id=register_id,
        before=None,
        after={"trigger": trigger, "reason": reason.strip()[:4000]},
    )


REVIEW_EVENT = "register.entry.review_due"


def owner_addresses(session: Session, entry: RegisterEntry) -> list[str]:
    """Return where an entry's owners are emailed: the address of the user each owner names,
    or the owner itself when it is an email address (an external owner)."""
    found: list[str] = []
    for owner in (entry.business_owner, entry.technical_owner):
        name = owner.strip()
        if not name:
            continue
        user = users.get_user_by_username(session, username=name)
        address = user.email if user is not None and not user.disabled else ""
        if not address and "@" in name and " " not in name:
            address = name
        if address and address not in found:
            found.append(address)
    return found


def notify_review_owners(session: Session, *, today: dt.date, due_within_days: int) -> int:
    """Queue an email to the owners of each entry whose review falls due within the window
    or is overdue, once per review date and kind; return how many emails were queued."""
    queued = 0
    for row in review_rows(session, today=today, due_within_days=due_within_days):
        entry = row.entry
        if entry.next_review_on is None or not (row.overdue or row.due_soon):
            continue
        kind = "overdue" if row.overdue else "due_soon"
        if register.review_notice_sent(
            session, entry_id=entry.id, kind=kind, review_on=entry.next_review_on
        ):
            continue
        when = (
            f"was due on {entry.next_review_on.isoformat()} ({-row.days} days overdue)"
            if row.overdue
            else f"is due on {entry.next_review_on.isoformat()} (in {row.days} days)"
        )
        body = (
            f"The review of {entry.register_id} {entry.title} {when}.\n"
            f"Record the review in Shadowmap: /register/{entry.register_id}\n"
        )
        subject = (
            f"[Shadowmap] Review {'overdue' if row.overdue else 'due soon'}: {entry.register_id}"
        )
        for address in owner_addresses(session, entry):
            notifications.queue_email(
                session, event_type=REVIEW_EVENT, to_address=address, subject=subject, body=body
            )
            queued += 1
        register.record_review_notice(
            session, entry_id=entry.id, kind=kind, review_on=entry.next_review_on
        )
    return queued
