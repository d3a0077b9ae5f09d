"""Triage, register and user-management actions. Each checks the state machine and the guards,
changes the records and appends one audit event per changed record, in the caller's transaction.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from collector.errors import Conflict
from collector.store import audit, inventory, register, triage, users
from collector.store.base import utcnow
from collector.store.inventory import InventoryItem
from collector.store.register import RegisterEntry
from collector.store.triage import TriageRecord
from collector.store.users import User
from server.passwords import generate_password, hash_password
from server.register import states
from server.register.errors import GuardFailed, StaleVersion
from server.register.schemas import PERSONAL_DATA_CLASSES, EntryInput

ROLES = ("admin", "reviewer", "viewer")

# Snapshots for the audit trail ---------------------------------------------------------------

_ENTRY_FIELDS = (*EntryInput.model_fields, "status", "decision", "decision_conditions")
_ENTRY_FIELDS_ALL = (
    *_ENTRY_FIELDS,
    "decision_rationale",
    "decided_by",
    "last_reviewed_on",
    "next_review_on",
    "version",
)


def entry_snapshot(entry: RegisterEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in _ENTRY_FIELDS_ALL}


def _item_snapshot(item: InventoryItem, record: TriageRecord) -> dict[str, Any]:
    return {
        "key": item.key,
        "name": item.name,
        "state": item.state,
        "assignee_id": record.assignee_id,
        "reason": record.reason,
        "register_entry_id": record.register_entry_id,
        "merged_into_id": record.merged_into_id,
    }


def _user_snapshot(user: User) -> dict[str, Any]:
    return {"username": user.username, "role": user.role, "disabled": user.disabled}


def _audit(
    session: Session,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    if before is not None and after is not None:
        changed = {key for key in after if before.get(key) != after.get(key)}
        changed |= {key for key in before if key not in after}
        before = {key: before.get(key) for key in sorted(changed)}
        after = {key: after.get(key) for key in sorted(changed)}
    audit.append_audit_event(
        session,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
    )


# Triage --------------------------------------------------------------------------------------


def _load_item(session: Session, item_id: int) -> tuple[InventoryItem, TriageRecord]:
    item = inventory.get_inventory_item(session, item_id=item_id)
    return item, triage.get_triage_record(session, item_id=item_id)


def _set_item_state(item: InventoryItem, record: TriageRecord, target: str) -> None:
    item.state = target
    item.updated_at = utcnow()
    record.updated_at = utcnow()


def transition_item(
    session: Session, *, actor: str, item_id: int, target: str, reason: str = ""
) -> InventoryItem:
    """Move a draft item to a triage state other than promoted or merged.

    False positive creates a suppression rule; reopening a false positive removes it.
    Raises NotFound, InvalidTransition, GuardFailed.
    """
    item, record = _load_item(session, item_id)
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
        if triage.delete_suppression_rule(session, item_key=item.key):
            _audit(
                session,
                actor,
                "suppression.delete",
                "suppression",
                item.key,
                {"reason": record.reason},
                None,
            )
    _set_item_state(item, record, target)
    record.reason = reason[:4000] if target != states.TRIAGING else record.reason
    if target == states.FALSE_POSITIVE:
        triage.create_suppression_rule(
            session, item_key=item.key, reason=reason[:4000], created_by=actor
        )
        _audit(
            session, actor, "suppression.create", "suppression", item.key, None, {"reason": reason}
        )
    _audit(session, actor, f"item.{target}", "item", item.id, before, _item_snapshot(item, record))
    return item


def assign_item(
    session: Session, *, actor: str, item_id: int, assignee: str | None
) -> InventoryItem:
    """Assign a draft item to a reviewer (None clears); a new item moves to triaging.

    Raises NotFound, GuardFailed.
    """
    item, record = _load_item(session, item_id)
    before = _item_snapshot(item, record)
    if assignee:
        user = users.get_user_by_username(session, username=assignee)
        if user is None or user.disabled or user.role == "viewer":
            raise GuardFailed("assignee", f"{assignee!r} is not an active reviewer or admin")
        record.assignee_id = user.id
    else:
        record.assignee_id = None
    if item.state == states.NEW and assignee:
        _set_item_state(item, record, states.TRIAGING)
    record.updated_at = utcnow()
    _audit(session, actor, "item.assign", "item", item.id, before, _item_snapshot(item, record))
    return item


def comment_item(session: Session, *, actor: str, item_id: int, body: str) -> None:
    """Add a comment to a draft item; raises NotFound, GuardFailed."""
    body = body.strip()
    if not body:
        raise GuardFailed("body", "a comment cannot be empty")
    item = inventory.get_inventory_item(session, item_id=item_id)
    comment = triage.create_comment(session, item_id=item.id, author=actor, body=body)
    _audit(
        session,
        actor,
        "item.comment",
        "item",
        item.id,
        None,
        {"comment_id": comment.id, "body": body},
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
    _audit(session, actor, "item.merged", "item", item.id, before, _item_snapshot(item, record))
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
        entry = create_entry(session, actor=actor, fields=fields, service_id=item.service_id)
    before = _item_snapshot(item, record)
    _set_item_state(item, record, states.PROMOTED)
    record.register_entry_id = entry.id
    _audit(session, actor, "item.promoted", "item", item.id, before, _item_snapshot(item, record))
    return entry


BULK_ACTIONS = ("assign_to_me", "triaging", "needs_info", "false_positive", "out_of_scope")


def bulk_triage(
    session: Session, *, actor: str, item_ids: Sequence[int], action: str, reason: str = ""
) -> int:
    """Apply one action to many items, all or nothing; return how many changed.

    Raises GuardFailed, NotFound, InvalidTransition (and nothing is kept: the caller rolls back).
    """
    if action not in BULK_ACTIONS:
        raise GuardFailed("action", f"unknown bulk action {action!r}")
    if not item_ids:
        raise GuardFailed("item", "select at least one item")
    if len(item_ids) > 500:
        raise GuardFailed("item", "at most 500 items at a time")
    for item_id in dict.fromkeys(item_ids):
        if action == "assign_to_me":
            assign_item(session, actor=actor, item_id=item_id, assignee=actor)
        else:
            transition_item(session, actor=actor, item_id=item_id, target=action, reason=reason)
    return len(dict.fromkeys(item_ids))


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
    _audit(session, actor, "entry.create", "entry", register_id, None, entry_snapshot(entry))
    return entry


def _checked_entry(session: Session, register_id: str, expected_version: int) -> RegisterEntry:
    entry = register.get_register_entry(session, register_id=register_id)
    if entry.version != expected_version:
        raise StaleVersion(register_id, expected_version, entry.version)
    return entry


def _flush(session: Session, entry: RegisterEntry, expected_version: int) -> None:
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
    _apply_fields(entry, fields)
    if entry.status in (states.APPROVED, states.RESTRICTED):
        blockers = decision_blockers(entry, entry.status, decided_by=entry.decided_by or "")
        if blockers:
            raise GuardFailed(*blockers[0])
    _flush(session, entry, expected_version)
    _audit(session, actor, "entry.update", "entry", register_id, before, entry_snapshot(entry))
    return entry


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


def _add_months(day: dt.date, months: int) -> dt.date:
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
    today: dt.date | None = None,
) -> RegisterEntry:
    """Record a review decision: approved, restricted (with conditions) or prohibited.

    Sets the next review date from the cadence. Raises NotFound, StaleVersion,
    InvalidTransition, GuardFailed.
    """
    if decision not in states.DECISIONS:
        raise GuardFailed("decision", f"must be one of {', '.join(states.DECISIONS)}")
    entry = _checked_entry(session, register_id, expected_version)
    states.check_entry(entry.status, decision)
    if not rationale.strip():
        raise GuardFailed("rationale", "a decision needs its rationale")
    before = entry_snapshot(entry)
    entry.decision_conditions = conditions.strip()[:4000]
    blockers = decision_blockers(entry, decision, decided_by=actor)
    if blockers:
        raise GuardFailed(*blockers[0])
    today = today or utcnow().date()
    entry.status = decision
    entry.decision = decision
    entry.decision_rationale = rationale.strip()[:4000]
    entry.decided_by = actor
    entry.decided_at = utcnow()
    entry.last_reviewed_on = today
    entry.next_review_on = _add_months(today, entry.review_cadence_months)
    entry.updated_at = utcnow()
    _flush(session, entry, expected_version)
    _audit(session, actor, f"entry.{decision}", "entry", register_id, before, entry_snapshot(entry))
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
    _flush(session, entry, expected_version)
    after = {**entry_snapshot(entry), "reason": reason.strip()[:4000]}
    _audit(session, actor, f"entry.{target}", "entry", register_id, before, after)
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
        _audit(
            session,
            actor,
            "entry.review_due",
            "entry",
            entry.register_id,
            before,
            entry_snapshot(entry),
        )
        moved.append(entry.register_id)
    return moved


# Users ---------------------------------------------------------------------------------------


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise GuardFailed("role", f"must be one of {', '.join(ROLES)}")


def create_user(
    session: Session, *, actor: str, username: str, role: str, password: str | None
) -> tuple[User, str]:
    """Create a local account; return it and its password (generated when not given).

    Raises GuardFailed, Conflict.
    """
    _check_role(role)
    username = username.strip()
    if (
        not username
        or len(username) > 64
        or not username.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise GuardFailed("username", "1-64 letters, digits, '.', '-' or '_'")
    password = password or generate_password()
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise GuardFailed("password", str(exc)) from exc
    user = users.create_user(session, username=username, password_hash=password_hash, role=role)
    _audit(session, actor, "user.create", "user", user.id, None, _user_snapshot(user))
    return user, password


def _keep_an_admin(session: Session, user: User, *, role: str, disabled: bool) -> None:
    losing_admin = user.role == "admin" and not user.disabled and (role != "admin" or disabled)
    if losing_admin and users.count_active_admins(session) <= 1:
        raise Conflict("the last active admin cannot be demoted or disabled")


def update_user(
    session: Session,
    *,
    actor: str,
    user_id: int,
    role: str | None = None,
    disabled: bool | None = None,
) -> User:
    """Change a user's role or disable/enable them; raises NotFound, GuardFailed, Conflict."""
    user = users.get_user(session, user_id=user_id)
    new_role = role if role is not None else user.role
    new_disabled = disabled if disabled is not None else user.disabled
    _check_role(new_role)
    if user.username == actor and new_disabled:
        raise GuardFailed("disabled", "you cannot disable your own account")
    _keep_an_admin(session, user, role=new_role, disabled=new_disabled)
    before = _user_snapshot(user)
    user.role = new_role
    user.disabled = new_disabled
    session.flush()
    _audit(session, actor, "user.update", "user", user.id, before, _user_snapshot(user))
    return user


def reset_password(session: Session, *, actor: str, user_id: int) -> str:
    """Give a user a new generated password (shown once); raises NotFound."""
    user = users.get_user(session, user_id=user_id)
    password = generate_password()
    user.password_hash = hash_password(password)
    _audit(session, actor, "user.reset_password", "user", user.id, None, {"password_reset": True})
    return password
