"""Email notifications: queue one message per subscriber of an event (in the transaction that
found it), and send the outbox over SMTP outside any transaction, retrying with backoff."""

from __future__ import annotations

import datetime as dt
import logging
import re
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage as MimeMessage

from sqlalchemy.orm import Session, sessionmaker

from collector.db import transaction
from collector.store import notifications
from collector.store.base import utcnow
from collector.store.notifications import EmailMessage, EmailSubscription
from server.config import ServerSettings
from server.errors import GuardFailed
from server.outbound.client import backoff_delay

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
#: An email address as subscriptions accept it (also the API's documented pattern).
ADDRESS_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}$"
)
_ADDRESS = re.compile(ADDRESS_PATTERN)


def subscribe(
    session: Session,
    *,
    actor: str,
    address: str,
    event_types: Sequence[str],
    known_types: Sequence[str],
) -> EmailSubscription:
    """Subscribe an address to event types ("*" and "family.*" allowed); raises GuardFailed,
    Conflict."""
    if not _ADDRESS.fullmatch(address):
        raise GuardFailed("address", "not an email address (name@domain.tld)")
    if not event_types:
        raise GuardFailed("event_types", "name at least one event type")
    for pattern in event_types:
        if pattern != "*" and not any(
            pattern == known or (pattern.endswith(".*") and known.startswith(pattern[:-1]))
            for known in known_types
        ):
            raise GuardFailed("event_types", f"{pattern!r} matches no event type")
    return notifications.create_subscription(
        session, address=address, event_types=event_types, created_by=actor
    )


def queue_event_emails(session: Session, *, event_type: str, subject: str, body: str) -> int:
    """Queue one email per subscriber of ``event_type``; return how many."""
    addresses = notifications.subscribers(session, event_type=event_type)
    for address in addresses:
        notifications.queue_email(
            session, event_type=event_type, to_address=address, subject=subject, body=body
        )
    return len(addresses)


def _send(settings: ServerSettings, message: EmailMessage) -> None:
    mime = MimeMessage()
    mime["Subject"] = message.subject
    mime["From"] = settings.smtp_from
    mime["To"] = message.to_address
    mime["Shadowmap-Event"] = message.event_type
    mime.set_content(message.body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(mime)


def send_due_emails(
    settings: ServerSettings, sessions: sessionmaker[Session], *, limit: int = 50
) -> int:
    """Send due emails from the outbox; return how many were sent. Claims them in one short
    transaction, sends with none open, records the outcomes in another."""
    with transaction(sessions) as session:
        claimed = [
            (message.id, message)
            for message in notifications.claim_due_emails(
                session, limit=limit, lease=dt.timedelta(minutes=10)
            )
        ]
        for _id, message in claimed:
            session.expunge(message)
    outcomes: list[tuple[int, str | None]] = []
    for message_id, message in claimed:
        try:
            _send(settings, message)
            outcomes.append((message_id, None))
        except (OSError, smtplib.SMTPException) as exc:
            outcomes.append((message_id, f"{type(exc).__name__}: {exc}"[:500]))
    sent = 0
    with transaction(sessions) as session:
        now = utcnow()
        for message_id, error in outcomes:
            stored = session.get(EmailMessage, message_id)
            if stored is None:
                continue
            stored.attempts += 1
            stored.last_error = error
            if error is None:
                stored.status, stored.sent_at = "sent", now
                sent += 1
            elif stored.attempts >= MAX_ATTEMPTS:
                stored.status = "failed"
                log.warning("email %s to %s given up: %s", message_id, stored.to_address, error)
            else:
                stored.next_attempt_at = now + backoff_delay(
                    stored.attempts, base=dt.timedelta(seconds=30), cap=dt.timedelta(hours=6)
                )
    return sent
