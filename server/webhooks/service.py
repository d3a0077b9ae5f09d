"""Webhook dispatch: turn change-feed entries into signed event deliveries, send due ones
through the outbound client, retry with exponential backoff and jitter, and keep every attempt
in the delivery log.

Event types: inventory.item.created, .updated, .deleted (from the change feed, coalesced:
state sync), inventory.item.malicious_detected (beside each of those for an item a published
report calls malicious), inventory.item.violation_detected (once per new violation of the
register: an item prohibited, or restricted elsewhere, seen on a host by a user through a
channel; its subscribers by email get a notice naming the approved alternative) and
register.entry.created, .updated, .decided, .status_changed (from the audit trail: one event
per recorded action). Both use the same envelope. Each request carries
``Shadowmap-Signature`` (see server/signing.py), ``Shadowmap-Event`` and ``Shadowmap-Delivery``.

A delivery round never holds a database transaction while a receiver is called: it claims a
batch (a short transaction that leases the rows), sends it with no transaction open, then
records the outcomes (another short one). Batches take turns across endpoints and lanes (the
inventory and the register events of each endpoint); a lane is sent in order, one request
at a time, and lanes run side by side (``outbound_per_destination`` bounds requests per host
and port). An endpoint that fails (network error, 429, 5xx, refused destination) is not
called again in that round: its other deliveries wait for the same backoff. Several replicas may run
:func:`deliver_due` at once: rows are claimed with SELECT ... FOR UPDATE SKIP LOCKED on
PostgreSQL (one writer on SQLite).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import Session, sessionmaker

from collector.db import transaction
from collector.store import webhooks
from collector.store.base import utcnow
from collector.store.hosts import Host
from collector.store.inventory import InventoryItem, Violation
from collector.store.register import RegisterEntry
from collector.store.webhooks import WebhookDelivery, WebhookEndpoint, event_lane
from server.config import ServerSettings
from server.errors import DestinationRefused
from server.inventory.evidence import user_display
from server.notifications.service import queue_event_emails, send_due_emails
from server.outbound.client import (
    backoff_delay,
    describe_failure,
    describe_status,
    destination_policy,
    outbound_client,
)
from server.register.schemas import entry_out
from server.reviews.service import notify_review_owners
from server.signing import SIGNATURE_HEADER, derive_key, master_key, sign

log = logging.getLogger(__name__)

EVENT_TYPES = (
    "inventory.item.created",
    "inventory.item.updated",
    "inventory.item.deleted",
    "inventory.item.malicious_detected",
    "inventory.item.violation_detected",
    "register.entry.created",
    "register.entry.updated",
    "register.entry.decided",
    "register.entry.status_changed",
)
BASE_BACKOFF = dt.timedelta(seconds=30)
MAX_BACKOFF = dt.timedelta(hours=6)
#: A round stops claiming new batches after this long (the scheduler starts the next one).
ROUND_SECONDS = 60.0


def endpoint_key(settings: ServerSettings, endpoint: WebhookEndpoint) -> bytes:
    """Return the signing key of one endpoint (derived; nothing secret is stored)."""
    return derive_key(master_key(settings.data_dir), f"webhook:{endpoint.key_salt}")


def _entry_state(entry: RegisterEntry) -> dict[str, Any]:
    state: dict[str, Any] = entry_out(entry).model_dump(mode="json")
    return state


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next attempt after ``attempts`` failures: 30 s doubling, capped at
    6 h, of which a random half is waited (jitter)."""
    return backoff_delay(attempts, base=BASE_BACKOFF, cap=MAX_BACKOFF)


# Endpoints ------------------------------------------------------------------------------------


def check_webhook_url(settings: ServerSettings, url: str) -> None:
    """Refuse a URL whose host does not resolve to an address the server may call.

    Raises DestinationRefused (the message names neither the address nor its class). The
    same check runs again before every delivery, on the address then resolved.
    """
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    destination_policy(settings).resolve(parts.hostname or "", parts.port or default_port)


def create_endpoint(
    session: Session,
    settings: ServerSettings,
    *,
    name: str,
    url: str,
    event_types: Sequence[str],
) -> WebhookEndpoint:
    """Create a webhook endpoint; raises DestinationRefused, Conflict (the name is taken)."""
    check_webhook_url(settings, url)
    return webhooks.create_webhook_endpoint(session, name=name, url=url, event_types=event_types)


# Delivery -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Job:
    """One claimed delivery as plain data: what the sending threads need, no ORM rows."""

    delivery_id: int
    endpoint_id: int
    url: str
    key: bytes
    event_type: str
    event_id: str
    body: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class _Outcome:
    job: _Job
    sent: bool  # False: not attempted, because its endpoint failed earlier in the round
    status_code: int | None = None
    error: str | None = None
    trips_endpoint: bool = False  # a failure of the destination, not of this one event


def _claim(settings: ServerSettings, sessions: sessionmaker[Session]) -> list[_Job]:
    """Claim the next fair batch in one short transaction; return it as plain jobs."""
    limit = settings.webhook_concurrency * 4
    # Long enough for the whole batch to be one lane, sent one request after another, each
    # taking its whole timeout; a delivery whose sender died is due again after that.
    lease = dt.timedelta(seconds=settings.webhook_timeout_seconds * (limit + 1) + 30)
    jobs: list[_Job] = []
    with transaction(sessions) as session:
        for delivery in webhooks.claim_due_deliveries(session, limit=limit, lease=lease):
            endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
            if endpoint is None or not endpoint.active:
                delivery.status = "failed"
                delivery.last_error = "endpoint removed or disabled"
                continue
            jobs.append(
                _Job(
                    delivery_id=delivery.id,
                    endpoint_id=endpoint.id,
                    url=endpoint.url,
                    key=endpoint_key(settings, endpoint),
                    event_type=delivery.event_type,
                    event_id=delivery.event_id,
                    body=json.dumps(delivery.payload, separators=(",", ":")).encode(),
                    attempts=delivery.attempts,
                )
            )
    return jobs


def _send(client: httpx.Client, job: _Job) -> _Outcome:
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(job.key, job.body),
        "Shadowmap-Event": job.event_type,
        "Shadowmap-Delivery": job.event_id,
    }
    try:
        response = client.post(job.url, content=job.body, headers=headers)
    except DestinationRefused as exc:
        log.warning(
            "webhook %s: destination %s refused (%s %s)",
            job.endpoint_id,
            exc.host,
            exc.address_class,
            exc.address,
        )
        return _Outcome(job, sent=True, error=describe_failure(exc), trips_endpoint=True)
    except httpx.HTTPError as exc:
        return _Outcome(job, sent=True, error=describe_failure(exc), trips_endpoint=True)
    status = response.status_code
    if 200 <= status < 300:
        return _Outcome(job, sent=True, status_code=status)
    return _Outcome(
        job,
        sent=True,
        status_code=status,
        error=describe_status(status),
        trips_endpoint=status == 429 or status >= 500,
    )


def _send_all(client: httpx.Client, pool: ThreadPoolExecutor, jobs: list[_Job]) -> list[_Outcome]:
    """Send a batch: each (endpoint, lane) in order, one request at a time, the lanes side
    by side; an endpoint's first failure stops all its lanes, and their remaining jobs are
    returned unsent. (The outbound client bounds requests per host and port on top.)"""
    lanes: dict[tuple[int, str], deque[_Job]] = defaultdict(deque)
    for job in jobs:
        lanes[(job.endpoint_id, event_lane(job.event_type))].append(job)
    failed: dict[int, threading.Event] = {job.endpoint_id: threading.Event() for job in jobs}
    outcomes: list[_Outcome] = []
    lock = threading.Lock()

    def work(queue: deque[_Job], endpoint_failed: threading.Event) -> None:
        for job in queue:
            outcome = _Outcome(job, sent=False) if endpoint_failed.is_set() else _send(client, job)
            if outcome.trips_endpoint:
                endpoint_failed.set()
            with lock:
                outcomes.append(outcome)

    futures = [
        pool.submit(work, queue, failed[endpoint_id])
        for (endpoint_id, _lane), queue in lanes.items()
    ]
    for future in futures:
        future.result()
    return outcomes


def _record(
    settings: ServerSettings, sessions: sessionmaker[Session], outcomes: list[_Outcome]
) -> int:
    """Write the outcomes of a batch in one short transaction; return how many were delivered."""
    now = utcnow()
    retry_at: dict[int, dt.datetime] = {}
    delivered = 0
    with transaction(sessions) as session:
        for outcome in sorted(outcomes, key=lambda outcome: not outcome.sent):
            delivery = session.get(WebhookDelivery, outcome.job.delivery_id)
            if delivery is None:  # its endpoint was deleted meanwhile
                continue
            if not outcome.sent:
                # Waits as long as the delivery that failed its endpoint; no attempt counted.
                delivery.next_attempt_at = retry_at.get(outcome.job.endpoint_id, now)
                continue
            delivery.attempts = outcome.job.attempts + 1
            delivery.last_status_code = outcome.status_code
            delivery.last_error = outcome.error
            if outcome.error is None:
                delivery.status = "delivered"
                delivery.delivered_at = now
                delivery.next_attempt_at = now
                delivered += 1
            elif delivery.attempts >= settings.webhook_max_attempts:
                delivery.status = "failed"
            else:
                delivery.next_attempt_at = now + backoff(delivery.attempts)
                if outcome.trips_endpoint:
                    retry_at[outcome.job.endpoint_id] = max(
                        delivery.next_attempt_at, retry_at.get(outcome.job.endpoint_id, now)
                    )
    return delivered


def violation_data(
    violation: Violation,
    item: InventoryItem,
    host: Host,
    entry: RegisterEntry | None,
    *,
    show_user: Callable[[str | None], str] | None = None,
) -> dict[str, Any]:
    """Return what a violation event says: the item, where and by whom it was seen (the user
    as the pages show it: a pseudonym when ``user_pseudonym_key`` is set), why it is
    forbidden and, when the register names one, the approved alternative."""
    user = violation.user_name
    return {
        "violation_id": violation.id,
        "reason": violation.reason,
        "channel": violation.channel,
        "user": show_user(user) if show_user is not None and user else user,
        "department": violation.department,
        "first_seen_at": violation.first_seen_at.isoformat(),
        "last_seen_at": violation.last_seen_at.isoformat(),
        "host": {"id": host.id, "hostname": host.hostname},
        "item": {
            "id": item.id,
            "key": item.key,
            "service_id": item.service_id,
            "name": item.name,
            "governed_status": item.governed_status,
        },
        "register_entry": {
            "register_id": entry.register_id,
            "title": entry.title,
            "status": entry.status,
            "conditions": entry.decision_conditions,
            "allowed_departments": list(entry.allowed_departments),
            "alternative": entry.alternative,
        }
        if entry is not None
        else None,
    }


def violation_email(data: dict[str, Any]) -> tuple[str, str]:
    """Return the subject and plain-text body of a violation notice."""
    item, host = data["item"], data["host"]
    entry = data["register_entry"] or {}
    why = (
        f"restricted to {', '.join(entry.get('allowed_departments') or [])}; seen in "
        f"department {data['department'] or '(none)'}"
        if data["reason"] == "outside_conditions"
        else "prohibited by the AI register"
    )
    lines = [
        f"{item['name']} was seen on {host['hostname']}"
        f"{' by ' + data['user'] if data['user'] else ''} "
        f"through {data['channel'].replace('_', ' ') or 'an unknown channel'}.",
        f"Why this is a violation: {why}.",
    ]
    if entry:
        lines.append(f"Register entry: {entry['register_id']} {entry['title']}.")
    if entry.get("alternative"):
        lines.append(f"Use instead: {entry['alternative']}.")
    lines.append(f"First seen {data['first_seen_at']}, last seen {data['last_seen_at']}.")
    subject = f"[Shadowmap] Violation: {item['name']} on {host['hostname']}"
    return subject, "\n".join(lines) + "\n"


def _enqueue(settings: ServerSettings, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        notify_review_owners(
            session, today=utcnow().date(), due_within_days=settings.review_due_soon_days
        )
    for feed in ("inventory", "register", "violations"):
        with transaction(sessions) as session:
            if feed == "inventory":
                backlog = webhooks.enqueue_inventory_events(
                    session, max_pending=settings.webhook_max_pending
                )
            elif feed == "violations":
                backlog, announced = webhooks.enqueue_violation_events(
                    session,
                    describe=functools.partial(
                        violation_data, show_user=user_display(settings.user_pseudonym_key)
                    ),
                    max_pending=settings.webhook_max_pending,
                )
                for data in announced:
                    subject, body = violation_email(data)
                    queue_event_emails(
                        session, event_type=webhooks.VIOLATION_DETECTED, subject=subject, body=body
                    )
            else:
                backlog = webhooks.enqueue_register_events(
                    session, entry_state=_entry_state, max_pending=settings.webhook_max_pending
                )
        for endpoint_id, dropped in sorted(backlog.dropped.items()):
            log.warning(
                "webhook %s: %d %s events dropped: its backlog is full (webhook_max_pending=%d)",
                endpoint_id,
                dropped,
                feed,
                settings.webhook_max_pending,
            )


def deliver_due(
    settings: ServerSettings,
    sessions: sessionmaker[Session],
    *,
    round_seconds: float = ROUND_SECONDS,
) -> int:
    """Enqueue new events, then send due deliveries batch after batch until none is due or
    ``round_seconds`` have passed; return how many were delivered. The top of a scheduled
    job: errors are logged, never raised."""
    try:
        _enqueue(settings, sessions)
        deadline = time.monotonic() + round_seconds
        delivered = 0
        with (
            outbound_client(settings, timeout=settings.webhook_timeout_seconds) as client,
            ThreadPoolExecutor(
                settings.webhook_concurrency, thread_name_prefix="webhook-delivery"
            ) as pool,
        ):
            while time.monotonic() < deadline:
                jobs = _claim(settings, sessions)
                if not jobs:
                    break
                outcomes = _send_all(client, pool, jobs)
                delivered += _record(settings, sessions, outcomes)
        send_due_emails(settings, sessions)
        return delivered
    except Exception:  # the top of a job
        log.exception("webhook delivery round failed")
        return 0
