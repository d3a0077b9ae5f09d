"""Webhooks: endpoints that receive signed event notifications, and the delivery log the
inventory change feed and the register's audit trail are turned into: a queue bounded per
endpoint and event type (what is dropped beyond the bound is counted on the endpoint), claimed
in turns across endpoints and event types. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.credentials import new_secret
from collector.errors import Conflict, NotFound
from collector.store.audit import AuditEvent
from collector.store.base import Base, JSONType, UTCDateTime, utcnow
from collector.store.hosts import Host
from collector.store.inventory import MALICIOUS, InventoryItem, Violation, list_item_hostnames
from collector.store.register import RegisterEntry
from collector.store.sync import SyncCounter, latest_change_seq, list_inventory_changes
from collector.store.triage import TriageRecord


class WebhookEndpoint(Base):
    """A receiver of signed event notifications; its signing key is derived, never stored."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    key_salt: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Events not queued because this endpoint's backlog of their type was full.
    dropped_events: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_dropped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """One event for one endpoint: its payload, attempts and outcome (the delivery log)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(64))
    # The queue an event waits in per endpoint: its family ("inventory", "register"). Events of
    # one lane go out in order; lanes take turns, so one family never starves the other.
    lane: Mapped[str] = mapped_column(String(16), default="inventory", server_default="inventory")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


WEBHOOK_CURSOR = "webhooks"


def create_webhook_endpoint(
    session: Session, *, name: str, url: str, event_types: Sequence[str]
) -> WebhookEndpoint:
    """Create a webhook endpoint; raises Conflict on a duplicate name."""
    if session.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.name == name)):
        raise Conflict(f"a webhook named {name!r} already exists")
    endpoint = WebhookEndpoint(
        name=name, url=url, event_types=sorted(set(event_types)), key_salt=new_secret("")
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def list_webhook_endpoints(session: Session) -> Sequence[WebhookEndpoint]:
    return session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()


def delete_webhook_endpoint(session: Session, *, endpoint_id: int) -> None:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("webhook", endpoint_id)
    session.delete(endpoint)


def list_webhook_deliveries(
    session: Session,
    *,
    endpoint_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
) -> Sequence[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return session.scalars(query).all()


def _subscribed(endpoint: WebhookEndpoint, event_type: str) -> bool:
    for pattern in endpoint.event_types:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def _lock_feed_cursor(session: Session, *, name: str, start: int) -> SyncCounter | None:
    """Lock and return the webhook cursor row ``name``; None when another replica holds it
    or when this call created it at ``start`` (the first round starts from the present)."""
    row = session.scalar(
        select(SyncCounter).where(SyncCounter.name == name).with_for_update(skip_locked=True)
    )
    if row is not None:
        return row
    if session.scalar(select(SyncCounter.name).where(SyncCounter.name == name)) is None:
        try:
            with session.begin_nested():
                session.add(SyncCounter(name=name, value=start))
                session.flush()
        except IntegrityError:
            pass
    return None


class Backlog:
    """The pending deliveries per (endpoint, lane) and the bound on them, for one enqueue
    transaction: an event for a full backlog is not queued but counted on its endpoint
    (``dropped_events``), so one noisy feed cannot grow the queue without end."""

    def __init__(self, session: Session, *, max_pending: int | None) -> None:
        self.max_pending = max_pending
        self.created = 0
        self.dropped: Counter[int] = Counter()
        self._pending: Counter[tuple[int, str]] = Counter()
        if max_pending is not None:
            self._pending.update(pending_counts(session))

    def admit(self, endpoint_id: int, lane: str) -> bool:
        """Take one place in a backlog; False (and the drop counted) when it is full."""
        key = (endpoint_id, lane)
        if self.max_pending is not None and self._pending[key] >= self.max_pending:
            self.dropped[endpoint_id] += 1
            return False
        self._pending[key] += 1
        return True

    def record_drops(self, session: Session) -> None:
        """Add this transaction's drops to each endpoint's count."""
        now = utcnow()
        for endpoint_id, count in sorted(self.dropped.items()):
            session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id)
                .values(dropped_events=WebhookEndpoint.dropped_events + count, last_dropped_at=now)
            )


def event_lane(event_type: str) -> str:
    """Return the lane of an event type: its family, "inventory" or "register"."""
    return event_type.split(".", 1)[0]


def pending_counts(session: Session) -> dict[tuple[int, str], int]:
    """Return how many deliveries are pending per (endpoint id, lane)."""
    rows = session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.lane, func.count())
        .where(WebhookDelivery.status == "pending")
        .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.lane)
    ).all()
    return {(int(endpoint_id), str(lane)): int(count) for endpoint_id, lane, count in rows}


def backlog_by_endpoint(session: Session) -> dict[int, dict[str, int]]:
    """Return, per endpoint id, how many of its deliveries are in each status."""
    rows = session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count()).group_by(
            WebhookDelivery.endpoint_id, WebhookDelivery.status
        )
    ).all()
    found: dict[int, dict[str, int]] = {}
    for endpoint_id, status, count in rows:
        found.setdefault(int(endpoint_id), {})[str(status)] = int(count)
    return found


def _enqueue(
    session: Session,
    endpoints: Sequence[WebhookEndpoint],
    backlog: Backlog,
    *,
    event_type: str,
    data: dict[str, Any],
) -> int:
    """Add one delivery of an event per subscribed endpoint with room for it; return how many."""
    created = 0
    lane = event_lane(event_type)
    for endpoint in endpoints:
        if _subscribed(endpoint, event_type) and backlog.admit(endpoint.id, lane):
            event_id = str(uuid.uuid4())
            session.add(
                WebhookDelivery(
                    endpoint_id=endpoint.id,
                    event_id=event_id,
                    event_type=event_type,
                    lane=lane,
                    payload={
                        "id": event_id,
                        "type": event_type,
                        "created_at": utcnow().isoformat(),
                        "data": data,
                    },
                )
            )
            created += 1
    return created


def _active_endpoints(session: Session) -> list[WebhookEndpoint]:
    return [endpoint for endpoint in list_webhook_endpoints(session) if endpoint.active]


MALICIOUS_DETECTED = "inventory.item.malicious_detected"


def enqueue_inventory_events(
    session: Session, *, limit: int = 500, max_pending: int | None = None
) -> Backlog:
    """Turn inventory changes after the webhook cursor into deliveries; return the backlog
    (its ``created`` count and its drops, already recorded on the endpoints).

    The cursor row is locked (SKIP LOCKED on PostgreSQL), so one replica enqueues at a time
    and each change becomes events once. The first call starts from the present. At most
    ``max_pending`` deliveries wait per endpoint and event type; beyond, events are dropped.
    """
    backlog = Backlog(session, max_pending=max_pending)
    row = _lock_feed_cursor(session, name=WEBHOOK_CURSOR, start=latest_change_seq(session))
    if row is None:
        return backlog
    endpoints = _active_endpoints(session)
    changes = list_inventory_changes(session, after_seq=row.value, limit=limit)
    for change, item in changes:
        if change.deleted or item is None:
            event_type = "inventory.item.deleted"
        elif change.first_seq > row.value:
            event_type = "inventory.item.created"
        else:
            event_type = "inventory.item.updated"
        data: dict[str, Any] = {"id": change.entity_id, "change_seq": change.change_seq}
        if item is not None and not change.deleted:
            data["item"] = {
                "id": item.id,
                "key": item.key,
                "service_id": item.service_id,
                "name": item.name,
                "vendor": item.vendor,
                "category": item.category,
                "state": item.state,
                "governed_status": item.governed_status,
                "first_seen_at": item.first_seen_at.isoformat(),
                "last_seen_at": item.last_seen_at.isoformat(),
                "severity": item.severity,
                "host_count": item.host_count,
            }
        backlog.created += _enqueue(session, endpoints, backlog, event_type=event_type, data=data)
        if item is not None and not change.deleted and item.severity == MALICIOUS:
            # A published-malicious item was created or seen again (a new host, a new
            # sighting, or the catalogue now calls it malicious): an incident to act on.
            backlog.created += _enqueue(
                session,
                endpoints,
                backlog,
                event_type=MALICIOUS_DETECTED,
                data={**data, "hosts": list_item_hostnames(session, item_id=item.id)},
            )
    if changes:
        row.value = changes[-1][0].change_seq
    backlog.record_drops(session)
    session.flush()
    return backlog


VIOLATION_DETECTED = "inventory.item.violation_detected"


def enqueue_violation_events(
    session: Session,
    *,
    describe: Callable[[Violation, InventoryItem, Host, RegisterEntry | None], dict[str, Any]],
    limit: int = 500,
    max_pending: int | None = None,
) -> tuple[Backlog, list[dict[str, Any]]]:
    """Turn new violations of the register into deliveries; return the backlog as
    enqueue_inventory_events does, and the event data of each (for the emails).

    A violation is announced once: the rows not yet notified are locked (SKIP LOCKED on
    PostgreSQL, so replicas share them out) and marked in this transaction. ``describe``
    renders one violation, its item, host and register entry for the payload.
    """
    backlog = Backlog(session, max_pending=max_pending)
    rows = session.execute(
        select(Violation, InventoryItem, Host)
        .join(InventoryItem, InventoryItem.id == Violation.item_id)
        .join(Host, Host.id == Violation.host_id)
        .where(Violation.notified_at.is_(None))
        .order_by(Violation.id)
        .limit(limit)
        .with_for_update(of=Violation, skip_locked=True)
    ).all()
    if not rows:
        return backlog, []
    entry_ids = dict(
        session.execute(
            select(TriageRecord.item_id, TriageRecord.register_entry_id).where(
                TriageRecord.item_id.in_({item.id for _v, item, _h in rows})
            )
        ).all()
    )
    entries = {
        entry.id: entry
        for entry in session.scalars(
            select(RegisterEntry).where(RegisterEntry.id.in_(set(entry_ids.values()) - {None}))
        )
    }
    endpoints = _active_endpoints(session)
    announced = []
    now = utcnow()
    for violation, item, host in rows:
        entry_id = entry_ids.get(item.id)
        data = describe(violation, item, host, entries.get(entry_id) if entry_id else None)
        backlog.created += _enqueue(
            session, endpoints, backlog, event_type=VIOLATION_DETECTED, data=data
        )
        violation.notified_at = now
        announced.append(data)
    backlog.record_drops(session)
    session.flush()
    return backlog, announced


REGISTER_WEBHOOK_CURSOR = "webhooks:register"


#: Audit actions on register entries and the webhook event each becomes.
REGISTER_EVENTS = {
    "entry.create": "register.entry.created",
    "entry.update": "register.entry.updated",
    "entry.approved": "register.entry.decided",
    "entry.restricted": "register.entry.decided",
    "entry.prohibited": "register.entry.decided",
    "entry.under_review": "register.entry.status_changed",
    "entry.review_due": "register.entry.status_changed",
    "entry.suspended": "register.entry.status_changed",
    "entry.retired": "register.entry.status_changed",
}


def enqueue_register_events(
    session: Session,
    *,
    entry_state: Callable[[RegisterEntry], dict[str, Any]],
    limit: int = 500,
    max_pending: int | None = None,
) -> Backlog:
    """Turn register-entry audit events after the webhook cursor into deliveries; return the
    backlog as enqueue_inventory_events does. ``entry_state`` renders an entry's current state
    for the payload.

    Register events come from the audit trail, not the coalescing change feed, so that each
    decision is an event of its own. Audit ids follow commit order (every writer holds the
    chain lock until it commits), so a cursor over them misses nothing and repeats nothing.
    The cursor row is locked as the inventory one is; the first call starts from the present.
    """
    backlog = Backlog(session, max_pending=max_pending)
    head = session.scalar(select(func.max(AuditEvent.id))) or 0
    row = _lock_feed_cursor(session, name=REGISTER_WEBHOOK_CURSOR, start=head)
    if row is None:
        return backlog
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.id > row.value).order_by(AuditEvent.id).limit(limit)
    ).all()
    register_ids = {event.object_id for event in events if event.object_type == "entry"}
    entries = {
        entry.register_id: entry
        for entry in session.scalars(
            select(RegisterEntry).where(RegisterEntry.register_id.in_(register_ids))
        )
    }
    endpoints = _active_endpoints(session)
    for event in events:
        if event.object_type != "entry":
            continue
        entry = entries.get(event.object_id)
        data: dict[str, Any] = {
            "register_id": event.object_id,
            "action": event.action,
            "actor": event.actor,
            "at": event.at.isoformat(),
            "before": event.before,
            "after": event.after,
            "audit_event_id": event.id,
            "audit_hash": event.hash,
            "entry": entry_state(entry) if entry is not None else None,
        }
        event_type = REGISTER_EVENTS.get(event.action, "register.entry.updated")
        backlog.created += _enqueue(session, endpoints, backlog, event_type=event_type, data=data)
    if events:
        row.value = events[-1].id
    backlog.record_drops(session)
    session.flush()
    return backlog


def claim_due_deliveries(
    session: Session, *, limit: int, lease: dt.timedelta
) -> list[WebhookDelivery]:
    """Claim up to ``limit`` due pending deliveries, taking turns across endpoints and lanes
    (the oldest of every (endpoint, lane) first, then the second oldest...), so that a burst
    of one family of events to one endpoint delays nothing else by more than a turn.

    Claimed rows get ``next_attempt_at = now + lease``: the caller sends them after this
    transaction commits and records each outcome; a delivery whose sender died is due again
    when its lease ends. Rows locked by another replica are skipped (FOR UPDATE SKIP LOCKED
    on PostgreSQL; SQLite has one writer).
    """
    now = utcnow()
    ranked = (
        select(
            WebhookDelivery.id,
            func.row_number()
            .over(
                partition_by=(WebhookDelivery.endpoint_id, WebhookDelivery.lane),
                order_by=WebhookDelivery.id,
            )
            .label("turn"),
        )
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .subquery()
    )
    order = list(
        session.scalars(select(ranked.c.id).order_by(ranked.c.turn, ranked.c.id).limit(limit))
    )
    if not order:
        return []
    claimed = {
        delivery.id: delivery
        for delivery in session.scalars(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.id.in_(order),
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
            )
            .with_for_update(skip_locked=True)
        )
    }
    for delivery in claimed.values():
        delivery.next_attempt_at = now + lease
    session.flush()
    return [claimed[delivery_id] for delivery_id in order if delivery_id in claimed]
