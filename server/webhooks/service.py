"""Webhook dispatch: turn change-feed entries into signed event deliveries, send due ones
with retries and exponential backoff, and keep every attempt in the delivery log.

Event types: inventory.item.created, .updated, .deleted (from the change feed, coalesced:
state sync), inventory.item.malicious_detected (beside each of those for an item a published
report calls malicious) and register.entry.created, .updated, .decided, .status_changed (from
the audit trail: one event per recorded action). Both use the same envelope. Each request carries
``Shadowmap-Signature`` (see server/signing.py), ``Shadowmap-Event`` and ``Shadowmap-Delivery``.
Several replicas may run :func:`deliver_due` at once: deliveries are claimed with
SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL (one process on SQLite).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from collector.db import transaction
from collector.store import webhooks
from collector.store.base import utcnow
from collector.store.register import RegisterEntry
from collector.store.webhooks import WebhookDelivery, WebhookEndpoint
from server.config import ServerSettings
from server.register.schemas import entry_out
from server.signing import SIGNATURE_HEADER, derive_key, master_key, sign

log = logging.getLogger(__name__)

EVENT_TYPES = (
    "inventory.item.created",
    "inventory.item.updated",
    "inventory.item.deleted",
    "inventory.item.malicious_detected",
    "register.entry.created",
    "register.entry.updated",
    "register.entry.decided",
    "register.entry.status_changed",
)
BASE_BACKOFF = dt.timedelta(seconds=30)
MAX_BACKOFF = dt.timedelta(hours=6)


def endpoint_key(settings: ServerSettings, endpoint: WebhookEndpoint) -> bytes:
    """Return the signing key of one endpoint (derived; nothing secret is stored)."""
    return derive_key(master_key(settings.data_dir), f"webhook:{endpoint.key_salt}")


def _entry_state(entry: RegisterEntry) -> dict[str, Any]:
    state: dict[str, Any] = entry_out(entry).model_dump(mode="json")
    return state


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next attempt after ``attempts`` failures: 30 s doubling, capped."""
    delay: dt.timedelta = BASE_BACKOFF * (2 ** max(0, attempts - 1))
    return min(delay, MAX_BACKOFF)


def _send(
    client: httpx.Client,
    settings: ServerSettings,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
) -> tuple[int | None, str | None]:
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Shadowmap-Webhooks",
        SIGNATURE_HEADER: sign(endpoint_key(settings, endpoint), body),
        "Shadowmap-Event": delivery.event_type,
        "Shadowmap-Delivery": delivery.event_id,
    }
    try:
        response = client.post(endpoint.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"receiver answered {response.status_code}"


def deliver_due(
    settings: ServerSettings, sessions: sessionmaker[Session], *, batch: int = 20
) -> int:
    """Enqueue new events, then send one batch of due deliveries; return how many were sent
    successfully. The top of a scheduled job: errors are logged, never raised."""
    try:
        with transaction(sessions) as session:
            webhooks.enqueue_inventory_events(session)
        with transaction(sessions) as session:
            webhooks.enqueue_register_events(session, entry_state=_entry_state)
        delivered = 0
        with transaction(sessions) as session, httpx.Client(timeout=10) as client:
            for delivery in webhooks.claim_due_deliveries(session, limit=batch):
                endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
                if endpoint is None or not endpoint.active:
                    delivery.status = "failed"
                    delivery.last_error = "endpoint removed or disabled"
                    continue
                status, error = _send(client, settings, delivery, endpoint)
                delivery.attempts += 1
                delivery.last_status_code = status
                delivery.last_error = error
                if error is None:
                    delivery.status = "delivered"
                    delivery.delivered_at = utcnow()
                    delivered += 1
                elif delivery.attempts >= settings.webhook_max_attempts:
                    delivery.status = "failed"
                else:
                    delivery.next_attempt_at = utcnow() + backoff(delivery.attempts)
        return delivered
    except Exception:  # the top of a job
        log.exception("webhook delivery round failed")
        return 0
