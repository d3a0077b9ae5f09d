"""Collect security events into the outbox and deliver them to each destination.

One round (run by the scheduler every ``siem_poll_seconds``, or by ``shadowmap siem send``):

1. collect: every source in server/siem/events.py adds what happened since its cursor; the
   events are queued for each configured destination in the same transaction that moves the
   cursors, so each fact is queued once, even across restarts;
2. deliver: for each destination that is due, its oldest batch is read, sent outside any
   database transaction, and removed only once the destination has it; a failure leaves the
   batch queued and backs the destination off (5 s doubling to 5 min).

The outbox lives in the database, so queued events survive a restart. Each destination's
backlog is bounded by ``siem_max_backlog``: the oldest events past it are dropped and counted.
Several replicas may run rounds at once: a destination is leased (its next attempt moved past
the send) before a batch goes out, so two replicas do not send the same batch.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.orm import Session, sessionmaker

from collector.db import transaction
from collector.store import siem
from collector.store.base import utcnow
from server.config import ServerSettings
from server.siem import events as event_sources
from server.siem.errors import DestinationFailed
from server.siem.events import Event
from server.siem.transport import Destination, EcsFile, SyslogTls, tls_context

log = logging.getLogger(__name__)

BASE_BACKOFF = dt.timedelta(seconds=5)
MAX_BACKOFF = dt.timedelta(minutes=5)

Clock = Callable[[], dt.datetime]


def backoff(failures: int) -> dt.timedelta:
    """Wait after ``failures`` failures in a row: 5 s doubling, at most 5 min."""
    delay: dt.timedelta = BASE_BACKOFF * (2 ** max(0, failures - 1))
    return min(delay, MAX_BACKOFF)


def destinations_from(settings: ServerSettings) -> list[Destination]:
    """The destinations the settings configure (none: the SIEM output is off)."""
    found: list[Destination] = []
    if settings.siem_syslog_address:
        host, _, port = settings.siem_syslog_address.rpartition(":")
        host = host.strip("[]")
        found.append(
            SyslogTls(
                host=host,
                port=int(port),
                fmt=settings.siem_syslog_format,
                context=tls_context(
                    ca_file=settings.siem_syslog_ca_file,
                    client_cert=settings.siem_syslog_client_cert_file,
                    client_key=settings.siem_syslog_client_key_file,
                ),
                server_name=settings.siem_syslog_server_name or host,
                timeout=settings.siem_timeout_seconds,
                hostname=_our_hostname(settings),
            )
        )
    if settings.siem_ecs_file is not None:
        found.append(EcsFile(settings.siem_ecs_file))
    return found


def _our_hostname(settings: ServerSettings) -> str:
    if settings.public_url:
        host = urlsplit(settings.public_url).hostname
        if host:
            return host
    return socket.gethostname()


def collect(
    sessions: sessionmaker[Session],
    settings: ServerSettings,
    destinations: Sequence[Destination],
    *,
    now: dt.datetime,
) -> list[Event]:
    """Run every source and queue what it found for each destination; return the events."""
    with transaction(sessions) as session:
        events: list[Event] = []
        for source in event_sources.SOURCES:
            events.extend(source(session, now, settings))
        for destination in destinations:
            dropped = siem.enqueue(
                session,
                destination=destination.name,
                events=events,
                max_backlog=settings.siem_max_backlog,
            )
            if dropped:
                log.warning(
                    "SIEM destination %s: backlog full, dropped its %d oldest event(s)",
                    destination.name,
                    dropped,
                )
    return events


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one round did for one destination."""

    destination: str
    sent: int
    error: str | None = None
    waiting: bool = False  # not due yet (backing off, or leased by another replica)


def deliver(
    sessions: sessionmaker[Session],
    settings: ServerSettings,
    destinations: Sequence[Destination],
    *,
    now: dt.datetime,
) -> list[Delivery]:
    """Send each due destination's oldest batch; return what happened per destination."""
    results = []
    lease = dt.timedelta(seconds=settings.siem_timeout_seconds * 3 + 30)
    for destination in destinations:
        with transaction(sessions) as session:
            state = siem.destination_state(session, destination=destination.name)
            if state.next_attempt_at is not None and now < state.next_attempt_at:
                results.append(Delivery(destination.name, 0, waiting=True))
                continue
            rows = siem.oldest_rows(
                session, destination=destination.name, limit=settings.siem_batch_size
            )
            batch = [(row.id, row.event) for row in rows]
            if batch:
                state.next_attempt_at = now + lease
        if not batch:
            continue
        try:
            destination.deliver([event for _, event in batch])
        except DestinationFailed as exc:
            with transaction(sessions) as session:
                state = siem.destination_state(session, destination=destination.name)
                state.failures += 1
                state.next_attempt_at = now + backoff(state.failures)
                state.last_error = exc.reason[:1000]
            log.warning("%s; %d event(s) stay queued", exc, len(batch))
            results.append(Delivery(destination.name, 0, error=exc.reason))
            continue
        with transaction(sessions) as session:
            siem.remove_delivered(
                session, destination=destination.name, row_ids=[row_id for row_id, _ in batch]
            )
        results.append(Delivery(destination.name, len(batch)))
    return results


@dataclass(frozen=True, slots=True)
class Round:
    """What one round collected and what it delivered."""

    collected: list[Event]
    deliveries: list[Delivery]

    def sent(self, destination: str) -> int:
        return sum(item.sent for item in self.deliveries if item.destination == destination)


def run_round(
    settings: ServerSettings,
    sessions: sessionmaker[Session],
    *,
    clock: Clock = utcnow,
    destinations: Sequence[Destination] | None = None,
) -> Round:
    """Collect, then deliver until every due destination is empty or fails. The top of a
    scheduled job: errors are logged, never raised."""
    targets = list(destinations) if destinations is not None else destinations_from(settings)
    if not targets:
        return Round([], [])
    try:
        collected = collect(sessions, settings, targets, now=clock())
        deliveries: list[Delivery] = []
        while True:
            round_results = deliver(sessions, settings, targets, now=clock())
            deliveries.extend(round_results)
            if not any(result.sent for result in round_results):
                return Round(collected, deliveries)
    except Exception:  # the top of a job
        log.exception("SIEM round failed")
        return Round([], [])
