"""The security events Shadowmap sends to a SIEM: their kinds (with how each maps to the
Elastic Common Schema and to CEF) and the sources that find them.

An event is a plain dict, stored as is in the outbox and rendered by server/siem/formats.py::

    {"id": uuid, "kind": "register.decision", "at": ISO-8601 UTC, "action": "entry.approved",
     "outcome": "success", "actor": "rita" | None, "object": {"type": ..., "id": ...},
     "host": "laptop-1" | None, "message": "...", "details": {...}}

A source is a function ``(session, now, settings) -> list of events`` that remembers how far
it has read (a cursor in ``sync_counters``), so that each fact becomes one event however many
rounds run; it runs in the transaction that queues its events. Adding a source is one line in
SOURCES. New AI services and malicious extensions come from the inventory change feed (an item
a published report calls malicious is an event each time it is created or seen again, as the
webhook does), new violations of the register from the violations table.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.store import siem, sync
from collector.store.audit import AuditEvent
from collector.store.hosts import Host
from collector.store.inventory import InventoryItem, Violation
from collector.store.sync import SyncCounter
from server.config import ServerSettings
from server.inventory.evidence import user_display
from signatures import Severity

Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class EventKind:
    """What one kind of event is called and how a SIEM should file it."""

    title: str
    #: ECS event.kind: "event" (something happened) or "alert" (needs a look).
    ecs_kind: str
    #: ECS event.category and event.type (allowed values of the ECS categorisation fields).
    categories: tuple[str, ...]
    types: tuple[str, ...]
    #: 0 (lowest) to 10, as CEF counts; also gives the syslog severity.
    severity: int
    #: CEF Device Event Class ID.
    cef_id: str


EVENT_KINDS: dict[str, EventKind] = {
    "ai_service.discovered": EventKind(
        "New AI service discovered", "event", ("web",), ("info",), 3, "sm-100"
    ),
    "violation.new": EventKind(
        "New violation of the AI register",
        "alert",
        ("intrusion_detection",),
        ("info",),
        6,
        "sm-200",
    ),
    "extension.malicious": EventKind(
        "Malicious browser extension found", "alert", ("malware",), ("info",), 8, "sm-300"
    ),
    "register.decision": EventKind(
        "AI register decision", "event", ("configuration",), ("change",), 3, "sm-400"
    ),
    "agent.stale": EventKind("Agent stale", "event", ("host",), ("info",), 4, "sm-500"),
    "audit": EventKind("Audit event", "event", ("configuration",), ("change",), 2, "sm-600"),
}

#: Audit actions that are register decisions (the rest are sent as "audit").
DECISION_ACTIONS = frozenset({"entry.approved", "entry.restricted", "entry.prohibited"})


def new_event(
    *,
    kind: str,
    at: dt.datetime,
    action: str,
    message: str,
    object_type: str,
    object_id: str,
    actor: str | None = None,
    host: str | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
    categories: tuple[str, ...] | None = None,
    types: tuple[str, ...] | None = None,
) -> Event:
    """Build one event with a fresh id; raises KeyError for an unknown kind."""
    known = EVENT_KINDS[kind]
    return {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "at": at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "action": action,
        "outcome": outcome,
        "actor": actor,
        "object": {"type": object_type, "id": object_id},
        "host": host,
        "message": message,
        "details": details or {},
        "categories": list(categories or known.categories),
        "types": list(types or known.types),
    }


# Cursors ---------------------------------------------------------------------------------------


def _cursor(session: Session, name: str, start: int) -> SyncCounter:
    """Return the cursor row ``name`` locked, created at ``start`` (the present) when new."""
    row = session.scalar(select(SyncCounter).where(SyncCounter.name == name).with_for_update())
    if row is None:
        try:
            with session.begin_nested():
                session.add(SyncCounter(name=name, value=start))
                session.flush()
        except IntegrityError:
            pass  # another replica made it first
        row = session.scalar(select(SyncCounter).where(SyncCounter.name == name).with_for_update())
    assert row is not None
    return row


# Sources ---------------------------------------------------------------------------------------


def audit_events(session: Session, now: dt.datetime, settings: ServerSettings) -> list[Event]:
    """Every audit-trail event after the cursor: register decisions as "register.decision",
    the rest as "audit" (account changes filed under ECS iam)."""
    head = session.scalar(select(func.max(AuditEvent.id))) or 0
    cursor = _cursor(session, "siem:audit", head)
    rows = session.scalars(
        select(AuditEvent).where(AuditEvent.id > cursor.value).order_by(AuditEvent.id).limit(1000)
    ).all()
    events = []
    for row in rows:
        decision = row.action in DECISION_ACTIONS
        categories: tuple[str, ...] | None = None
        types: tuple[str, ...] | None = None
        if not decision and row.object_type == "user":
            categories = ("iam",)
            types = ("user", "creation" if row.action.endswith(".create") else "change")
        events.append(
            new_event(
                kind="register.decision" if decision else "audit",
                at=row.at,
                action=row.action,
                actor=row.actor,
                object_type=row.object_type,
                object_id=row.object_id,
                message=(
                    f"{row.object_id} decided: {row.action.removeprefix('entry.')} by {row.actor}"
                    if decision
                    else f"{row.actor}: {row.action} on {row.object_type} {row.object_id}"
                ),
                details={
                    "before": row.before,
                    "after": row.after,
                    "audit_event_id": row.id,
                    "audit_hash": row.hash,
                },
                categories=categories,
                types=types,
            )
        )
    if rows:
        cursor.value = rows[-1].id
    return events


def discovered_services(
    session: Session, now: dt.datetime, settings: ServerSettings
) -> list[Event]:
    """Inventory changes after the cursor: an item that appeared (the first sighting of an AI
    service), and an item a published report calls malicious, created or seen again."""
    cursor = _cursor(session, "siem:inventory", sync.latest_change_seq(session))
    changes = sync.list_inventory_changes(session, after_seq=cursor.value, limit=1000)
    events = []
    for change, item in changes:
        if item is None or change.deleted:
            continue
        details = {
            "service_id": item.service_id,
            "name": item.name,
            "vendor": item.vendor,
            "category": item.category,
            "state": item.state,
            "first_seen_at": item.first_seen_at.isoformat(),
        }
        if change.first_seq > cursor.value:
            events.append(
                new_event(
                    kind="ai_service.discovered",
                    at=item.first_seen_at,
                    action="inventory.item.created",
                    object_type="inventory_item",
                    object_id=str(item.id),
                    message=f"New AI service discovered: {item.name} ({item.vendor})",
                    details=details,
                )
            )
        if item.severity == Severity.MALICIOUS:
            events.append(
                new_event(
                    kind="extension.malicious",
                    at=item.last_seen_at,
                    action="inventory.item.malicious_detected",
                    object_type="inventory_item",
                    object_id=str(item.id),
                    message=f"Malicious AI extension found: {item.name} on {item.host_count} "
                    "host(s)",
                    details={**details, "host_count": item.host_count},
                )
            )
    if changes:
        cursor.value = changes[-1][0].change_seq
    return events


def new_violations(session: Session, now: dt.datetime, settings: ServerSettings) -> list[Event]:
    """Violations of the register recorded after the cursor: a prohibited item (or a
    restricted one outside its allowed departments) seen on a host by a user through a
    channel. Users are shown as the pages show them (pseudonyms when the key is set)."""
    head = session.scalar(select(func.max(Violation.id))) or 0
    cursor = _cursor(session, "siem:violations", head)
    rows = session.execute(
        select(Violation, InventoryItem, Host)
        .join(InventoryItem, InventoryItem.id == Violation.item_id)
        .join(Host, Host.id == Violation.host_id)
        .where(Violation.id > cursor.value)
        .order_by(Violation.id)
        .limit(1000)
    ).all()
    show_user = user_display(settings.user_pseudonym_key)
    events = []
    for violation, item, host in rows:
        events.append(
            new_event(
                kind="violation.new",
                at=violation.first_seen_at,
                action="violation.created",
                object_type="violation",
                object_id=str(violation.id),
                host=host.hostname,
                message=f"{item.name} used on {host.hostname} although "
                f"{'prohibited' if violation.reason == 'prohibited' else 'restricted there'}",
                details={
                    "item_id": item.id,
                    "service_id": item.service_id,
                    "name": item.name,
                    "governed_status": item.governed_status,
                    "user": show_user(violation.user_name),
                    "channel": violation.channel,
                    "reason": violation.reason,
                    "department": violation.department,
                },
            )
        )
    if rows:
        cursor.value = rows[-1][0].id
    return events


def stale_agents(session: Session, now: dt.datetime, settings: ServerSettings) -> list[Event]:
    """Agents that went silent for ``stale_after_minutes``: one event per silence (an agent
    that reports again and goes silent again is a new event)."""
    silent_since = now - dt.timedelta(minutes=settings.stale_after_minutes)
    events = []
    for agent in siem.list_silent_agents(session, silent_since=silent_since):
        mark = siem.get_agent_mark(session, agent_id=agent.id)
        if mark is not None and mark.last_seen_at == agent.last_seen_at:
            continue  # this silence was already reported
        last = agent.last_seen_at or agent.enrolled_at
        events.append(
            new_event(
                kind="agent.stale",
                at=now,
                action="agent.stale",
                object_type="agent",
                object_id=agent.agent_uid,
                host=agent.host.hostname,
                message=f"Agent on {agent.host.hostname} has not reported since {last.isoformat()}",
                details={
                    "agent_id": agent.id,
                    "last_seen_at": agent.last_seen_at.isoformat() if agent.last_seen_at else None,
                    "stale_after_minutes": settings.stale_after_minutes,
                },
            )
        )
        siem.set_agent_mark(session, agent_id=agent.id, last_seen_at=agent.last_seen_at)
    return events


Source = Callable[[Session, dt.datetime, ServerSettings], list[Event]]

#: Where events come from; a new source is one more line here.
SOURCES: tuple[Source, ...] = (audit_events, discovered_services, new_violations, stale_agents)
