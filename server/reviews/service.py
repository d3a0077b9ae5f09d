"""Reviews: which register entries are due or overdue, what discovery says should trigger a
reassessment, and the suppliers behind the register with their review status."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from collector.store import inventory, register, triage
from collector.store.register import RegisterEntry
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


@dataclass(slots=True)
class SupplierRow:
    name: str
    review: str
    entries: list[str] = field(default_factory=list)


def reassessment_triggers(session: Session, *, entry: RegisterEntry) -> tuple[str, ...]:
    """Return why discovery suggests reassessing an entry since its last review."""
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
            rows.append(ReviewRow(entry=entry, overdue=days < 0, days=days, triggers=triggers))
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
