"""Webhooks: endpoints that receive signed event notifications, and the delivery log the
inventory change feed and the register's audit trail are turned into. Keyword-only; the caller
owns the transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.credentials import new_secret
from collector.errors import Conflict, NotFound
from collector.store.audit import AuditEvent
from collector.store.base import Base, JSONType, UTCDateTime, utcnow
from collector.store.inventory import MALICIOUS, list_item_hostnames
from collector.store.register import RegisterEntry
from collector.store.sync import SyncCounter, latest_change_seq, list_inventory_changes


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


def _enqueue(
    session: Session,
    endpoints: Sequence[WebhookEndpoint],
    *,
    event_type: str,
    data: dict[str, Any],
) -> int:
    """Add one delivery of an event per subscribed endpoint; return how many."""
    created = 0
    for endpoint in endpoints:
        if _subscribed(endpoint, event_type):
            event_id = str(uuid.uuid4())
            session.add(
                WebhookDelivery(
                    endpoint_id=endpoint.id,
                    event_id=event_id,
                    event_type=event_type,
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


def enqueue_inventory_events(session: Session, *, limit: int = 500) -> int:
    """Turn inventory changes after the webhook cursor into deliveries; return how many.

    The cursor row is locked (SKIP LOCKED on PostgreSQL), so one replica enqueues at a time
    and each change becomes events once. The first call starts from the present.
    """
    row = _lock_feed_cursor(session, name=WEBHOOK_CURSOR, start=latest_change_seq(session))
    if row is None:
        return 0
    endpoints = _active_endpoints(session)
    changes = list_inventory_changes(session, after_seq=row.value, limit=limit)
    created = 0
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
                "first_seen_at": item.first_seen_at.isoformat(),
                "last_seen_at": item.last_seen_at.isoformat(),
                "severity": item.severity,
                "host_count": item.host_count,
            }
        created += _enqueue(session, endpoints, event_type=event_type, data=data)
        if item is not None and not change.deleted and item.severity == MALICIOUS:
            # A published-malicious item was created or seen again (a new host, a new
            # sighting, or the catalogue now calls it malicious): an incident to act on.
            created += _enqueue(
                session,
                endpoints,
                event_type=MALICIOUS_DETECTED,
                data={**data, "hosts": list_item_hostnames(session, item_id=item.id)},
            )
    if changes:
        row.value = changes[-1][0].change_seq
    session.flush()
    return created


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
) -> int:
    """Turn register-entry audit events after the webhook cursor into deliveries; return how
    many. ``entry_state`` renders an entry's current state for the payload.

    Register events come from the audit trail, not the coalescing change feed, so that each
    decision is an event of its own. Audit ids follow commit order (every writer holds the
    chain lock until it commits), so a cursor over them misses nothing and repeats nothing.
    The cursor row is locked as the inventory one is; the first call starts from the present.
    """
    head = session.scalar(select(func.max(AuditEvent.id))) or 0
    row = _lock_feed_cursor(session, name=REGISTER_WEBHOOK_CURSOR, start=head)
    if row is None:
        return 0
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
    created = 0
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
        created += _enqueue(session, endpoints, event_type=event_type, data=data)
    if events:
        row.value = events[-1].id
    session.flush()
    return created


def claim_due_deliveries(session: Session, *, limit: int = 20) -> list[WebhookDelivery]:
    """Lock and return due pending deliveries; rows locked by another replica are skipped
    (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has one writer)."""
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= utcnow())
            .order_by(WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
