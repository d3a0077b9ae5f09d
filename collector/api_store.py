"""Queries for the integration tables: API tokens, the incremental-sync change feed, report
runs and webhook deliveries. Keyword-only functions; the caller owns the transaction.

The change feed's guarantee
---------------------------
Every insert, update or delete of a tracked row (inventory items; register entries since
migration 0006) sets that row's ``sync_changes.change_seq`` to the next value of the counter row
``sync_counters('changes')``. The number is drawn by a database trigger *at commit time*
(PostgreSQL: a deferred constraint trigger that holds the counter's row lock until commit;
SQLite: one writer at a time). So change numbers follow commit order: once a reader sees a
change numbered N, every change numbered below N is already visible to it. A poller that
keeps the last number it saw (the cursor) and asks for ``change_seq > cursor`` therefore
receives every row whose state changed since, exactly once per change number, and never
misses a row committed "late" with an older ``updated_at``. Several changes to one row
between two polls coalesce into its newest state (this is state sync, not an event log).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.api_models import (
    ApiToken,
    ReportRun,
    SyncChange,
    SyncCounter,
    WebhookDelivery,
    WebhookEndpoint,
)
from collector.credentials import hash_secret, new_secret
from collector.errors import AuthenticationFailed, Conflict, NotFound
from collector.models import InventoryItem, Sighting, utcnow
from collector.register_models import AuditEvent, RegisterEntry

API_TOKEN_PREFIX = "smapi_"  # noqa: S105 - a prefix, not a secret
_TOUCH_EVERY = dt.timedelta(minutes=1)


# API tokens ----------------------------------------------------------------------------------


def create_api_token(
    session: Session,
    *,
    name: str,
    scopes: Sequence[str],
    expires_at: dt.datetime | None,
    created_by: str = "",
) -> tuple[ApiToken, str]:
    """Create an API token; return it and its secret (shown once). Raises Conflict on a
    duplicate name."""
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise Conflict(f"an API token named {name!r} already exists")
    secret = new_secret(API_TOKEN_PREFIX)
    token = ApiToken(
        name=name,
        token_hash=hash_secret(secret),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        created_by=created_by,
    )
    session.add(token)
    session.flush()
    return token, secret


def list_api_tokens(session: Session) -> Sequence[ApiToken]:
    return session.scalars(select(ApiToken).order_by(ApiToken.id)).all()


def revoke_api_token(session: Session, *, token_id: int) -> ApiToken:
    """Revoke a token (idempotent); raises NotFound."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("API token", token_id)
    token.revoked_at = token.revoked_at or utcnow()
    return token


def authenticate_api_token(session: Session, *, secret: str) -> ApiToken:
    """Return the live token for a secret; raises AuthenticationFailed."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret)))
    now = utcnow()
    if token is None or token.revoked_at is not None:
        raise AuthenticationFailed("unknown or revoked API token")
    if token.expires_at is not None and token.expires_at <= now:
        raise AuthenticationFailed("API token expired")
    # Record use at most once a minute, so that reads do not turn into writes.
    if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
        token.last_used_at = now
    return token


# Incremental sync ----------------------------------------------------------------------------


#: Each change feed's entity name and the table its rows live in.
FEED_MODELS: dict[str, type[InventoryItem] | type[RegisterEntry]] = {
    "inventory.item": InventoryItem,
    "register.entry": RegisterEntry,
}


def list_feed_changes(
    session: Session,
    *,
    entity: str,
    after_seq: int,
    changed_since: dt.datetime | None = None,
    limit: int = 100,
) -> list[tuple[SyncChange, Any]]:
    """Return one feed's changes after ``after_seq`` with each row's current state (None once
    deleted), read in one statement so a change and its row come from one snapshot.

    The row is an InventoryItem for "inventory.item" and a RegisterEntry for "register.entry".
    """
    model = FEED_MODELS[entity]
    query = (
        select(SyncChange, model)
        .join(model, model.id == SyncChange.entity_id, isouter=True)
        .where(SyncChange.entity == entity, SyncChange.change_seq > after_seq)
        .order_by(SyncChange.change_seq)
        .limit(limit)
    )
    if changed_since is not None:
        query = query.where(SyncChange.changed_at >= changed_since)
    return [(change, row) for change, row in session.execute(query).all()]


def list_inventory_changes(
    session: Session,
    *,
    after_seq: int,
    changed_since: dt.datetime | None = None,
    limit: int = 100,
) -> list[tuple[SyncChange, InventoryItem | None]]:
    """Return inventory changes after ``after_seq`` with each item's current state."""
    return list_feed_changes(
        session,
        entity="inventory.item",
        after_seq=after_seq,
        changed_since=changed_since,
        limit=limit,
    )


def latest_change_seq(session: Session) -> int:
    return session.scalar(select(SyncCounter.value).where(SyncCounter.name == "changes")) or 0


# Report runs ---------------------------------------------------------------------------------


def claim_report_run(
    session: Session,
    *,
    report: str,
    period: str,
    trigger: str,
    claimed_by: str,
    stale_after: dt.timedelta = dt.timedelta(hours=1),
) -> ReportRun | None:
    """Claim one report period; return the run, or None when it is already claimed.

    The unique (report, period) pair makes the claim atomic across server replicas. The
    insert runs in a savepoint so that a lost race leaves the caller's transaction usable.
    A failed run, or one left "running" for longer than ``stale_after`` by a replica that
    died, is taken over by a conditional update (again atomic: one taker wins).
    """
    run = ReportRun(
        report=report, period=period, trigger=trigger, claimed_by=claimed_by, status="running"
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        now = utcnow()
        taken = session.execute(
            update(ReportRun)
            .where(
                ReportRun.report == report,
                ReportRun.period == period,
                or_(
                    ReportRun.status == "failed",
                    and_(ReportRun.status == "running", ReportRun.started_at < now - stale_after),
                ),
            )
            .values(status="running", claimed_by=claimed_by, started_at=now, error=None)
            .execution_options(synchronize_session=False)
        )
        if getattr(taken, "rowcount", 0) != 1:
            return None
        return session.scalar(
            select(ReportRun)
            .where(ReportRun.report == report, ReportRun.period == period)
            .execution_options(populate_existing=True)
        )
    return run


def finish_report_run(
    session: Session,
    *,
    run_id: int,
    status: str,
    summary: dict[str, Any],
    outputs: list[Any],
    deliveries: list[Any],
    error: str | None = None,
) -> ReportRun:
    run = session.get(ReportRun, run_id)
    if run is None:
        raise NotFound("report run", run_id)
    run.status = status
    run.summary = summary
    run.outputs = outputs
    run.deliveries = deliveries
    run.error = error
    run.finished_at = utcnow()
    return run


def list_report_runs(
    session: Session, *, report: str | None = None, limit: int = 100, offset: int = 0
) -> Sequence[ReportRun]:
    query = select(ReportRun).order_by(ReportRun.started_at.desc(), ReportRun.id.desc())
    if report is not None:
        query = query.where(ReportRun.report == report)
    return session.scalars(query.limit(limit).offset(offset)).all()


def get_report_run(session: Session, *, run_id: int) -> ReportRun:
    run = session.get(ReportRun, run_id)
    if run is None:
        raise NotFound("report run", run_id)
    return run


# Discovery-report figures --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemUse:
    """An inventory item with how widely it is used."""

    item: InventoryItem
    host_count: int
    user_count: int
    last_seen_at: dt.datetime | None


def _item_use(session: Session, items: Sequence[InventoryItem]) -> list[ItemUse]:
    if not items:
        return []
    rows = session.execute(
        select(
            Sighting.item_id,
            func.count(func.distinct(Sighting.host_id)),
            func.count(func.distinct(Sighting.user_name)),
            func.max(Sighting.last_seen_at),
        )
        .where(Sighting.item_id.in_([item.id for item in items]))
        .group_by(Sighting.item_id)
    ).all()
    found = {row[0]: row for row in rows}
    return [
        ItemUse(
            item=item,
            host_count=found[item.id][1] if item.id in found else 0,
            user_count=found[item.id][2] if item.id in found else 0,
            last_seen_at=found[item.id][3] if item.id in found else None,
        )
        for item in items
    ]


def list_items_first_seen_between(
    session: Session, *, start: dt.datetime, end: dt.datetime
) -> list[ItemUse]:
    """Return items first seen in [start, end), most widely used first."""
    items = session.scalars(
        select(InventoryItem).where(
            InventoryItem.first_seen_at >= start, InventoryItem.first_seen_at < end
        )
    ).all()
    return sorted(_item_use(session, items), key=lambda use: (-use.host_count, use.item.name))


def list_items_in_state(session: Session, *, state: str) -> list[ItemUse]:
    """Return items in one triage state, oldest first."""
    items = session.scalars(
        select(InventoryItem)
        .where(InventoryItem.state == state)
        .order_by(InventoryItem.first_seen_at, InventoryItem.id)
    ).all()
    return _item_use(session, items)


def list_items_seen_since(session: Session, *, state: str, since: dt.datetime) -> list[ItemUse]:
    """Return items in ``state`` with a sighting last seen at or after ``since``."""
    recent = select(Sighting.item_id).where(Sighting.last_seen_at >= since)
    items = session.scalars(
        select(InventoryItem)
        .where(InventoryItem.state == state, InventoryItem.id.in_(recent))
        .order_by(InventoryItem.name)
    ).all()
    return _item_use(session, items)


def count_items_by_state(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(InventoryItem.state, func.count(InventoryItem.id)).group_by(InventoryItem.state)
    ).all()
    return {str(state): int(count) for state, count in rows}


def adoption_counts(session: Session, *, at: dt.datetime) -> tuple[int, int, int]:
    """Return (services, hosts, users) with at least one sighting first seen before ``at``."""
    row = session.execute(
        select(
            func.count(func.distinct(Sighting.item_id)),
            func.count(func.distinct(Sighting.host_id)),
            func.count(func.distinct(Sighting.user_name)),
        ).where(Sighting.first_seen_at < at)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


# Webhooks ------------------------------------------------------------------------------------

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
            }
        created += _enqueue(session, endpoints, event_type=event_type, data=data)
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
