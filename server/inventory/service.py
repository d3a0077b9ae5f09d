"""Triage of draft inventory items: assign, comment, change state, merge, promote to the
register, in one action or in bulk. Each checks the state machine and the guards, changes the
records and appends one audit event per changed record, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from collector.errors import Conflict, NotFound
from collector.store import audit, inventory, register, triage, users
from collector.store.base import utcnow
from collector.store.inventory import InventoryItem
from collector.store.register import RegisterEntry
from collector.store.triage import SuppressionRule, TriageRecord
from collector.store.users import User
from server.audit.service import record_change
from server.errors import GuardFailed
from server.inventory import states
from server.register import service as register_service
from server.register.schemas import EntryInput


def _item_snapshot(item: InventoryItem, record: TriageRecord) -> dict[str, Any]:
    return {
        "key": item.key,
        "name": item.name,
        "state": item.state,
        "governed_status": item.governed_status,
        "assignee_id": record.assignee_id,
        "reason": record.reason,
        "register_entry_id": record.register_entry_id,
        "merged_into_id": record.merged_into_id,
    }


@dataclass(frozen=True, slots=True)
class _TriageReads:
    """What the triage steps read, loaded up front in a few queries (one item for a single
    action, up to BULK_LIMIT for a bulk one): the items with their triage records, the user
    they are being assigned to, the suppression rules of the items that leave or enter false
    positive. The steps keep ``rules`` current as they add and lift rules."""

    items: dict[int, tuple[InventoryItem, TriageRecord]]
    users: dict[str, User | None]
    rules: dict[str, SuppressionRule]

    def item(self, item_id: int) -> tuple[InventoryItem, TriageRecord]:
        """Return an item and its triage record; raises NotFound."""
        found = self.items.get(item_id)
        if found is None:
            raise NotFound("inventory item", item_id)
        return found


def _read_for_triage(
    session: Session,
    item_ids: Sequence[int],
    *,
    assignee: str | None = None,
    target: str | None = None,
) -> _TriageReads:
    """Read what assigning the items to ``assignee`` or moving them to ``target`` needs: four
    queries at most, whatever the number of items."""
    found = inventory.get_inventory_items(session, item_ids=item_ids)
    records = triage.get_triage_records(session, item_ids=list(found))
    user = users.get_user_by_username(session, username=assignee) if assignee else None
    # Only a move out of or into false positive touches a rule (an assignment never does).
    keys = (
        [item.key for item in found.values() if states.FALSE_POSITIVE in (item.state, target)]
        if target
        else []
    )
    return _TriageReads(
        items={item_id: (item, records[item_id]) for item_id, item in found.items()},
        users={assignee: user} if assignee else {},
        rules=triage.get_suppression_rules(session, item_keys=keys),
    )


def _load_item(session: Session, item_id: int) -> tuple[InventoryItem, TriageRecord]:
    return _read_for_triage(session, [item_id]).item(item_id)


def _set_item_state(item: InventoryItem, record: TriageRecord, target: str) -> None:
    item.state = target
    item.updated_at = utcnow()
    record.updated_at = utcnow()


def transition_item(
    session: Session, *, actor: str, item_id: int, target: str, reason: str = ""
) -> InventoryItem:
    """Move a draft item to a triage state other than promoted or merged.

    False positive creates a suppression rule; reopening a false positive removes it.
    Raises NotFound, InvalidTransition, GuardFailed, Conflict.
    """
    reads = _read_for_triage(session, [item_id], target=target)
    return _transition(session, reads, actor=actor, item_id=item_id, target=target, reason=reason)


def _transition(
    session: Session, reads: _TriageReads, *, actor: str, item_id: int, target: str, reason: str
) -> InventoryItem:
    """The step of transition_item and of a bulk transition, on what ``reads`` holds."""
    item, record = reads.item(item_id)
    if target in (states.PROMOTED, states.MERGED):
        raise GuardFailed(
            "state", f"use the {target.replace('_', ' ')} action, which needs a target"
        )
    states.check_triage(item.state, target)
    reason = reason.strip()
    if target in states.TRIAGE_REASON_REQUIRED and not reason:
        raise GuardFailed(
            "reason", f"a reason is required to mark an item {target.replace('_', ' ')}"
        )
    before = _item_snapshot(item, record)
    if item.state == states.FALSE_POSITIVE:
        lifted = reads.rules.pop(item.key, None)
        if lifted is not None:
            triage.delete_suppression_rule(session, rule=lifted)
            record_change(
                session,
                actor=actor,
                action="suppression.delete",
                object_type="suppression",
                object_id=item.key,
                before={"reason": record.reason},
                after=None,
            )
    _set_item_state(item, record, target)
    record.reason = reason[:4000] if target != states.TRIAGING else record.reason
    if target == states.FALSE_POSITIVE:
        if item.key in reads.rules:
            raise Conflict(f"{item.key!r} is already suppressed")
        reads.rules[item.key] = triage.add_suppression_rule(
            session, item_key=item.key, reason=reason[:4000], created_by=actor
        )
        record_change(
            session,
            actor=actor,
            action="suppression.create",
            object_type="suppression",
            object_id=item.key,
            before=None,
            after={"reason": reason},
        )
    record_change(
        session,
        actor=actor,
        action=f"item.{target}",
        object_type="item",
        object_id=item.id,
        before=before,
        after=_item_snapshot(item, record),
    )
    return item


def assign_item(
    session: Session, *, actor: str, item_id: int, assignee: str | None
) -> InventoryItem:
    """Assign a draft item to a reviewer (None clears); a new item moves to triaging.

    Raises NotFound, GuardFailed.
    """
    reads = _read_for_triage(session, [item_id], assignee=assignee)
    return _assign(session, reads, actor=actor, item_id=item_id, assignee=assignee)


def _assign(
    session: Session, reads: _TriageReads, *, actor: str, item_id: int, assignee: str | None
) -> InventoryItem:
    """The step of assign_item and of a bulk assignment, on what ``reads`` holds."""
    item, record = reads.item(item_id)
    before = _item_snapshot(item, record)
    if assignee:
        user = reads.users[assignee]
        if user is None or user.disabled or user.role == "viewer":
            raise GuardFailed("assignee", f"{assignee!r} is not an active reviewer or admin")
        record.assignee_id = user.id
    else:
        record.assignee_id = None
    if item.state == states.NEW and assignee:
        _set_item_state(item, record, states.TRIAGING)
    record.updated_at = utcnow()
    record_change(
        session,
        actor=actor,
        action="item.assign",
        object_type="item",
        object_id=item.id,
        before=before,
        after=_item_snapshot(item, record),
    )
    return item


def comment_item(session: Session, *, actor: str, item_id: int, body: str) -> None:
    """Add a comment to a draft item; raises NotFound, GuardFailed."""
    body = body.strip()
    if not body:
        raise GuardFailed("body", "a comment cannot be empty")
    item = inventory.get_inventory_item(session, item_id=item_id)
    comment = triage.create_comment(session, item_id=item.id, author=actor, body=body)
    record_change(
        session,
        actor=actor,
        action="item.comment",
        object_type="item",
        object_id=item.id,
        before=None,
        after={"comment_id": comment.id, "body": body},
    )


def merge_item(session: Session, *, actor: str, item_id: int, into_item_id: int) -> InventoryItem:
    """Mark a draft item a duplicate of another; it inherits that item's register entry.

    Raises NotFound, InvalidTransition, GuardFailed.
    """
    item, record = _load_item(session, item_id)
    if into_item_id == item_id:
        raise GuardFailed("into", "an item cannot be merged into itself")
    target, target_record = _load_item(session, into_item_id)
    if target.state in (states.MERGED, states.FALSE_POSITIVE):
        raise GuardFailed("into", f"item {into_item_id} is {target.state.replace('_', ' ')}")
    states.check_triage(item.state, states.MERGED)
    before = _item_snapshot(item, record)
    _set_item_state(item, record, states.MERGED)
    record.merged_into_id = target.id
    record.register_entry_id = target_record.register_entry_id
    item.governed_status = target.governed_status  # the entry's, inherited with it
    item.allowed_departments = target.allowed_departments
    record_change(
        session,
        actor=actor,
        action="item.merged",
        object_type="item",
        object_id=item.id,
        before=before,
        after=_item_snapshot(item, record),
    )
    return item


def promote_item(
    session: Session,
    *,
    actor: str,
    item_id: int,
    existing_register_id: str | None = None,
    title: str = "",
    business_unit: str = "",
    purpose: str = "",
) -> RegisterEntry:
    """Promote a draft item to the register: link an existing entry or create one under review.

    Raises NotFound, InvalidTransition, GuardFailed.
    """
    item, record = _load_item(session, item_id)
    states.check_triage(item.state, states.PROMOTED)
    if existing_register_id:
        entry = register.get_register_entry(session, register_id=existing_register_id.strip())
    else:
        fields = EntryInput(
            title=(title.strip() or f"{item.name} — general use")[:120],
            ai_system=item.name[:255],
            business_unit=business_unit.strip()[:120],
            purpose=purpose.strip()[:4000],
            supplier=item.vendor[:255],
        )
        entry = register_service.create_entry(
            session, actor=actor, fields=fields, service_id=item.service_id
        )
    before = _item_snapshot(item, record)
    _set_item_state(item, record, states.PROMOTED)
    record.register_entry_id = entry.id
    item.governed_status = entry.status  # from now on the register's decisions flow to it
    item.allowed_departments = triage.departments_text(entry.status, entry.allowed_departments)
    record_change(
        session,
        actor=actor,
        action="item.promoted",
        object_type="item",
        object_id=item.id,
        before=before,
        after=_item_snapshot(item, record),
    )
    return entry


BULK_ACTIONS = ("assign_to_me", "triaging", "needs_info", "false_positive", "out_of_scope")
#: The most items one bulk action changes (one transaction).
BULK_LIMIT = 1000


def bulk_triage(
    session: Session, *, actor: str, item_ids: Sequence[int], action: str, reason: str = ""
) -> int:
    """Apply one action to many items, all or nothing; return how many changed.

    Each item goes through the same step, guards and audit events as the single action; the
    reads are batched (the items, their triage records, the assignee, the suppression rules)
    and so are the writes (one flush, the audit events chained in one go).
    Raises GuardFailed, NotFound, InvalidTransition, Conflict (and nothing is kept: the caller
    rolls back).
    """
    if action not in BULK_ACTIONS:
        raise GuardFailed("action", f"unknown bulk action {action!r}")
    if not item_ids:
        raise GuardFailed("item", "select at least one item")
    if len(item_ids) > BULK_LIMIT:
        raise GuardFailed("item", f"at most {BULK_LIMIT} items at a time")
    unique_ids = list(dict.fromkeys(item_ids))
    # The reads of every item at once, then the single actions' own steps item by item; the
    # changes and the audit events are written in one flush when the batch ends.
    if action == "assign_to_me":
        reads = _read_for_triage(session, unique_ids, assignee=actor)
    else:
        reads = _read_for_triage(session, unique_ids, target=action)
    with audit.audit_batch(session):
        for item_id in unique_ids:
            if action == "assign_to_me":
                _assign(session, reads, actor=actor, item_id=item_id, assignee=actor)
            else:
                _transition(
                    session, reads, actor=actor, item_id=item_id, target=action, reason=reason
                )
    return len(unique_ids)
