"""Queries of the governed side: the triage queue, comments, suppression rules, register entries
and the hash-chained audit trail. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from collector.errors import Conflict, NotFound
from collector.models import Host, InventoryItem, Sighting, User, utcnow
from collector.register_models import (
    AuditEvent,
    RegisterEntry,
    SuppressionRule,
    TriageComment,
    TriageRecord,
)

GENESIS_HASH = "0" * 64
# Any constant works; it only has to be the same in every server process.
_AUDIT_LOCK_KEY = 0x5348_4D41_5544  # "SHMAUD"

# Audit trail ---------------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    """Serialise a value the same way every time: sorted keys, no spaces, UTF-8, ISO dates."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_payload(event: AuditEvent) -> dict[str, Any]:
    """Return the fields of an event that its hash covers, as they are hashed."""
    return {
        "at": event.at.astimezone(dt.UTC).isoformat(),
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "before": event.before,
        "after": event.after,
    }


def event_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    """Return SHA-256(previous hash + canonical JSON of the event), hex."""
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode("utf-8")).hexdigest()


def lock_audit_chain(session: Session) -> None:
    """Serialise writers of the audit chain until this transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: a write statement that matches no
    row, which takes the database write lock, so two writers cannot both extend the same head.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK_KEY})
    else:
        session.execute(
            update(AuditEvent).where(AuditEvent.id == -1).values(actor=AuditEvent.actor)
        )


def append_audit_event(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEvent:
    """Append one event to the chain (after taking the chain lock) and return it."""
    lock_audit_chain(session)
    head = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        at=utcnow(),
        actor=actor[:64],
        action=action[:64],
        object_type=object_type[:32],
        object_id=object_id[:64],
        # Round-trip through canonical JSON so what is hashed is exactly what is read back.
        before=json.loads(canonical_json(before)) if before is not None else None,
        after=json.loads(canonical_json(after)) if after is not None else None,
        prev_hash=head or GENESIS_HASH,
        hash="",
    )
    event.hash = event_hash(event.prev_hash, event_payload(event))
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """The result of walking the audit chain."""

    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""
    head: str = GENESIS_HASH  # the hash of the last event verified


def verify_audit_chain(session: Session, *, batch: int = 1000) -> ChainVerdict:
    """Recompute every link in id order; report the first event whose link does not hold."""
    prev = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not events:
            return ChainVerdict(ok=True, checked=checked, head=prev)
        for event in events:
            if event.prev_hash != prev:
                return ChainVerdict(
                    False, checked, event.id, "prev_hash does not match the previous event's hash"
                )
            if event_hash(prev, event_payload(event)) != event.hash:
                return ChainVerdict(False, checked, event.id, "hash does not match the event")
            prev = event.hash
            checked += 1
            last_id = event.id
        session.expunge_all()


def list_audit_events(
    session: Session,
    *,
    actor: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 200,
    offset: int = 0,
) -> Sequence[AuditEvent]:
    """Return audit events matching the filters, newest first."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    return session.scalars(query).all()


def iter_audit_events(session: Session, *, batch: int = 1000) -> Iterator[AuditEvent]:
    """Yield every audit event in chain order, in batches."""
    last_id = 0
    while True:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not events:
            return
        yield from events
        last_id = events[-1].id


# Triage --------------------------------------------------------------------------------------


def get_triage_record(session: Session, *, item_id: int) -> TriageRecord:
    """Return the triage record of an item, creating an empty one on first use."""
    record = session.get(TriageRecord, item_id)
    if record is None:
        record = TriageRecord(item_id=item_id, reason="")
        session.add(record)
        session.flush()
    return record


@dataclass(frozen=True, slots=True)
class TriageRow:
    item: InventoryItem
    host_count: int
    user_count: int
    evidence_kinds: tuple[str, ...]
    assignee: str | None


def list_triage_queue(
    session: Session,
    *,
    states: Sequence[str] | None = None,
    category: str | None = None,
    evidence_kind: str | None = None,
    min_hosts: int | None = None,
    first_seen_after: dt.datetime | None = None,
    search: str | None = None,
    assignee_id: int | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[TriageRow]:
    """Return draft items with roll-ups, filtered; oldest untriaged first within a state."""
    host_count = func.count(func.distinct(Sighting.host_id))
    query = (
        select(
            InventoryItem,
            host_count,
            func.count(func.distinct(Sighting.user_name)),
            User.username,
        )
        .join(Sighting, Sighting.item_id == InventoryItem.id, isouter=True)
        .join(TriageRecord, TriageRecord.item_id == InventoryItem.id, isouter=True)
        .join(User, User.id == TriageRecord.assignee_id, isouter=True)
        .group_by(InventoryItem.id, User.username)
        .order_by(InventoryItem.first_seen_at, InventoryItem.id)
        .limit(limit)
        .offset(offset)
    )
    if states:
        query = query.where(InventoryItem.state.in_(list(states)))
    if category:
        query = query.where(InventoryItem.category == category)
    if evidence_kind:
        having_kind = select(Sighting.item_id).where(Sighting.kind == evidence_kind)
        query = query.where(InventoryItem.id.in_(having_kind))
    if min_hosts:
        query = query.having(host_count >= min_hosts)
    if first_seen_after:
        query = query.where(InventoryItem.first_seen_at >= first_seen_after)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(
            or_(
                func.lower(InventoryItem.name).like(pattern),
                func.lower(InventoryItem.vendor).like(pattern),
                func.lower(InventoryItem.key).like(pattern),
            )
        )
    if assignee_id is not None:
        query = query.where(TriageRecord.assignee_id == assignee_id)
    rows = session.execute(query).all()
    kinds = evidence_kinds(session, item_ids=[row[0].id for row in rows])
    return [
        TriageRow(
            item=item,
            host_count=hosts,
            user_count=users,
            evidence_kinds=kinds.get(item.id, ()),
            assignee=assignee,
        )
        for item, hosts, users, assignee in rows
    ]


def evidence_kinds(session: Session, *, item_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    if not item_ids:
        return {}
    found: dict[int, set[str]] = {}
    for item_id, kind in session.execute(
        select(Sighting.item_id, Sighting.kind).where(Sighting.item_id.in_(item_ids)).distinct()
    ):
        found.setdefault(item_id, set()).add(kind)
    return {item_id: tuple(sorted(kinds)) for item_id, kinds in found.items()}


def list_categories(session: Session) -> list[str]:
    query = select(InventoryItem.category).where(InventoryItem.category != "").distinct()
    return sorted(session.scalars(query).all())


def count_items_by_state(session: Session) -> dict[str, int]:
    query = select(InventoryItem.state, func.count(InventoryItem.id)).group_by(InventoryItem.state)
    return dict(session.execute(query).all())


def items_first_seen_since(session: Session, *, since: dt.datetime) -> list[dt.datetime]:
    query = select(InventoryItem.first_seen_at).where(InventoryItem.first_seen_at >= since)
    return list(session.scalars(query).all())


def host_first_seen_for_item(session: Session, *, item_id: int) -> dict[int, dt.datetime]:
    """Return, per host, when the item was first seen there."""
    query = (
        select(Sighting.host_id, func.min(Sighting.first_seen_at))
        .where(Sighting.item_id == item_id)
        .group_by(Sighting.host_id)
    )
    return dict(session.execute(query).all())


def kind_first_seen_for_item(session: Session, *, item_id: int) -> dict[str, dt.datetime]:
    """Return, per evidence kind, when it was first seen for the item."""
    query = (
        select(Sighting.kind, func.min(Sighting.first_seen_at))
        .where(Sighting.item_id == item_id)
        .group_by(Sighting.kind)
    )
    return dict(session.execute(query).all())


def department_first_seen_for_item(session: Session, *, item_id: int) -> dict[str, dt.datetime]:
    """Return, per department of the hosts showing the item, when it was first seen there."""
    query = (
        select(Host.department, func.min(Sighting.first_seen_at))
        .join(Host, Host.id == Sighting.host_id)
        .where(Sighting.item_id == item_id, Host.department != "")
        .group_by(Host.department)
    )
    return dict(session.execute(query).all())


def list_hosts_seen_since(session: Session, *, since: dt.datetime) -> int:
    query = select(func.count(Host.id)).where(Host.last_report_at >= since)
    return session.scalar(query) or 0


def create_comment(session: Session, *, item_id: int, author: str, body: str) -> TriageComment:
    comment = TriageComment(item_id=item_id, author=author, body=body)
    session.add(comment)
    session.flush()
    return comment


def list_comments(session: Session, *, item_id: int) -> Sequence[TriageComment]:
    query = select(TriageComment).where(TriageComment.item_id == item_id)
    return session.scalars(query.order_by(TriageComment.id)).all()


def list_items_of_entry(session: Session, *, entry_id: int) -> Sequence[InventoryItem]:
    query = (
        select(InventoryItem)
        .join(TriageRecord, TriageRecord.item_id == InventoryItem.id)
        .where(TriageRecord.register_entry_id == entry_id)
        .order_by(InventoryItem.name)
    )
    return session.scalars(query).all()


# Suppression rules ---------------------------------------------------------------------------


def create_suppression_rule(
    session: Session, *, item_key: str, reason: str, created_by: str
) -> SuppressionRule:
    """Suppress a dedup key; raises Conflict if it is already suppressed."""
    if session.scalar(select(SuppressionRule).where(SuppressionRule.item_key == item_key)):
        raise Conflict(f"{item_key!r} is already suppressed")
    rule = SuppressionRule(item_key=item_key, reason=reason, created_by=created_by)
    session.add(rule)
    session.flush()
    return rule


def delete_suppression_rule(session: Session, *, item_key: str) -> bool:
    rule = session.scalar(select(SuppressionRule).where(SuppressionRule.item_key == item_key))
    if rule is None:
        return False
    session.delete(rule)
    session.flush()
    return True


def list_suppression_rules(session: Session) -> Sequence[SuppressionRule]:
    return session.scalars(select(SuppressionRule).order_by(SuppressionRule.id.desc())).all()


def suppressed_item_keys(session: Session, *, keys: Sequence[str]) -> set[str]:
    """Return which of these dedup keys are suppressed; the ingest path drops their findings."""
    if not keys:
        return set()
    query = select(SuppressionRule.item_key).where(SuppressionRule.item_key.in_(list(keys)))
    return set(session.scalars(query).all())


# Register entries ----------------------------------------------------------------------------


def next_register_id(session: Session, *, year: int) -> str:
    """Return the next free id like AIR-2026-0001 (call with the audit chain lock held)."""
    prefix = f"AIR-{year}-"
    # Longest first, so AIR-2026-10000 comes after AIR-2026-9999.
    last = session.scalar(
        select(RegisterEntry.register_id)
        .where(RegisterEntry.register_id.like(f"{prefix}%"))
        .order_by(func.length(RegisterEntry.register_id).desc(), RegisterEntry.register_id.desc())
        .limit(1)
    )
    number = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{number:04d}"


def create_register_entry(session: Session, *, register_id: str, **fields: Any) -> RegisterEntry:
    entry = RegisterEntry(register_id=register_id, **fields)
    session.add(entry)
    session.flush()
    return entry


def get_register_entry(session: Session, *, register_id: str) -> RegisterEntry:
    """Return an entry by its register id; raises NotFound."""
    entry = session.scalar(select(RegisterEntry).where(RegisterEntry.register_id == register_id))
    if entry is None:
        raise NotFound("register entry", register_id)
    return entry


def list_register_entries(
    session: Session,
    *,
    statuses: Sequence[str] | None = None,
    risk_level: str | None = None,
    search: str | None = None,
    due_before: dt.date | None = None,
    limit: int = 500,
    offset: int = 0,
) -> Sequence[RegisterEntry]:
    """Return register entries, filtered, by register id."""
    query = select(RegisterEntry).order_by(RegisterEntry.register_id).limit(limit).offset(offset)
    if statuses:
        query = query.where(RegisterEntry.status.in_(list(statuses)))
    if risk_level:
        query = query.where(RegisterEntry.risk_level == risk_level)
    if due_before is not None:
        query = query.where(RegisterEntry.next_review_on <= due_before)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(
            or_(
                func.lower(RegisterEntry.title).like(pattern),
                func.lower(RegisterEntry.ai_system).like(pattern),
                func.lower(RegisterEntry.register_id).like(pattern),
                func.lower(RegisterEntry.business_unit).like(pattern),
            )
        )
    return session.scalars(query).all()


def count_entries_by_status(session: Session) -> dict[str, int]:
    query = select(RegisterEntry.status, func.count(RegisterEntry.id)).group_by(
        RegisterEntry.status
    )
    return dict(session.execute(query).all())


# Users ---------------------------------------------------------------------------------------


def get_user(session: Session, *, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


def count_active_admins(session: Session) -> int:
    query = select(func.count(User.id)).where(User.role == "admin", User.disabled.is_(False))
    return session.scalar(query) or 0


def touch(entry: RegisterEntry | TriageRecord) -> None:
    entry.updated_at = utcnow()
