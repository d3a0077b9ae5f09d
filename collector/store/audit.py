"""The audit trail: append-only events, each hash-chained to the one before, and the walk that
verifies the chain. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, insert, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.paging import AnyColumn, PageRequest, PageRows, read_page
from collector.store.base import Base, JSONType, UTCDateTime, utcnow


class AuditEvent(Base):
    """One change, append-only; ``hash`` = SHA-256(previous hash + canonical JSON of the event)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32), index=True)
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


GENESIS_HASH = "0" * 64


# Any constant works; it only has to be the same in every server process.
_AUDIT_LOCK_KEY = 0x5348_4D41_5544  # "SHMAUD"
# The session.info key naming the (root) transaction that holds the chain lock.
_LOCKED_IN = "shadowmap.audit_chain_locked_in"
# The session.info key of a running audit_batch (a _Batch).
_BATCH = "shadowmap.audit_batch"


def canonical_json(value: Any) -> str:
    """Serialise a value the same way every time: sorted keys, no spaces, UTF-8, ISO dates."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_payload(event: AuditEvent) -> dict[str, Any]:
    """Return the fields of an event that its hash covers, as they are hashed."""
    return _payload({name: getattr(event, name) for name in _HASHED})


_HASHED = ("at", "actor", "action", "object_type", "object_id", "before", "after")


def _payload(columns: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": columns["at"].astimezone(dt.UTC).isoformat(),
        **{name: columns[name] for name in _HASHED[1:]},
    }


def event_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    """Return SHA-256(previous hash + canonical JSON of the event), hex."""
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode("utf-8")).hexdigest()


def lock_audit_chain(session: Session) -> None:
    """Serialise writers of the audit chain until this transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: a write statement that matches no
    row, which takes the database write lock, so two writers cannot both extend the same head.
    Both last until the transaction ends, so it is taken once per transaction (a bulk action
    appends a thousand events under one lock).
    """
    root = session.get_transaction()
    while root is not None and root.parent is not None:
        root = root.parent
    if root is not None and session.info.get(_LOCKED_IN) is root:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK_KEY})
    else:
        session.execute(
            update(AuditEvent).where(AuditEvent.id == -1).values(actor=AuditEvent.actor)
        )
    session.info[_LOCKED_IN] = root


def append_audit_event(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEvent | None:
    """Append one event to the chain (after taking the chain lock) and return it; inside an
    audit_batch, queue it (written when the batch ends) and return None."""
    batch: _Batch | None = session.info.get(_BATCH)
    if batch is not None:
        row = _event_row(batch.head, actor, action, object_type, object_id, before, after)
        batch.rows.append(row)
        batch.head = row["hash"]
        return None
    lock_audit_chain(session)
    head = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        **_event_row(head or GENESIS_HASH, actor, action, object_type, object_id, before, after)
    )
    session.add(event)
    session.flush()
    return event


def _event_row(
    head: str,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    """The columns of a new event that follows ``head``, its hash included."""
    row: dict[str, Any] = {
        "at": utcnow(),
        "actor": actor[:64],
        "action": action[:64],
        "object_type": object_type[:32],
        "object_id": object_id[:64],
        # Round-trip through canonical JSON so what is hashed is exactly what is read back.
        "before": json.loads(canonical_json(before)) if before is not None else None,
        "after": json.loads(canonical_json(after)) if after is not None else None,
        "prev_hash": head,
    }
    row["hash"] = event_hash(head, _payload(row))
    return row


@dataclass(slots=True)
class _Batch:
    """A running audit_batch: the chain's head as the batch has extended it, and the events
    it has queued, in chain order."""

    head: str
    rows: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def audit_batch(session: Session) -> Iterator[None]:
    """Append many events in one all-or-nothing change (a bulk action), reading the chain's
    head once: the chain lock is taken and the head read when the batch starts (the lock is
    held to the end of the transaction, so no one else can extend the chain), each append
    inside it chains to the one before, and the events are inserted in one statement, in chain
    order, when the batch ends without error. The caller must roll the whole transaction back
    on error (no savepoint inside)."""
    lock_audit_chain(session)
    head = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    batch = _Batch(head=head or GENESIS_HASH)
    session.info[_BATCH] = batch
    try:
        yield
    finally:
        session.info.pop(_BATCH, None)
    if batch.rows:
        # Without RETURNING, as one executemany (SQLite) or multi-row VALUES (PostgreSQL):
        # the ids are given in the rows' order, which is the chain's.
        session.execute(insert(AuditEvent), batch.rows)


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


AUDIT_SORTS = ("when", "actor", "action", "object")


def page_audit_events(
    session: Session,
    *,
    page: PageRequest,
    actor: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> PageRows:
    """Return one page of audit events matching the filters, and how many match."""
    query = select(AuditEvent)
    for column, value in (
        (AuditEvent.actor, actor),
        (AuditEvent.object_type, object_type),
        (AuditEvent.object_id, object_id),
        (AuditEvent.action, action),
    ):
        if value:
            query = query.where(column == value)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    sorts: dict[str, AnyColumn] = {
        "when": AuditEvent.id,
        "actor": AuditEvent.actor,
        "action": AuditEvent.action,
        "object": AuditEvent.object_type,
    }
    found = read_page(session, query, page=page, sorts=sorts, tiebreak=AuditEvent.id)
    return PageRows(rows=[row[0] for row in found.rows], total=found.total)


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
