"""Email notifications: who subscribed to which events, and the outbox of messages waiting to
be sent (queued in the transaction that found the event, sent afterwards by the server).
Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.errors import Conflict, NotFound
from collector.store.base import Base, JSONType, UTCDateTime, utcnow


class EmailSubscription(Base):
    """An address that receives an email for each event of the types it names."""

    __tablename__ = "email_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(254), unique=True)
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmailMessage(Base):
    """One email waiting to be sent (or sent, or given up on): the outbox."""

    __tablename__ = "email_outbox"
    __table_args__ = (Index("ix_email_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def create_subscription(
    session: Session, *, address: str, event_types: Sequence[str], created_by: str
) -> EmailSubscription:
    """Subscribe an address; raises Conflict when it already is."""
    if session.scalar(select(EmailSubscription.id).where(EmailSubscription.address == address)):
        raise Conflict(f"{address!r} is already subscribed")
    subscription = EmailSubscription(
        address=address, event_types=sorted(set(event_types)), created_by=created_by
    )
    session.add(subscription)
    session.flush()
    return subscription


def list_subscriptions(session: Session) -> Sequence[EmailSubscription]:
    return session.scalars(select(EmailSubscription).order_by(EmailSubscription.address)).all()


def delete_subscription(session: Session, *, subscription_id: int) -> None:
    """Remove a subscription; raises NotFound."""
    subscription = session.get(EmailSubscription, subscription_id)
    if subscription is None:
        raise NotFound("email subscription", subscription_id)
    session.delete(subscription)


def subscribers(session: Session, *, event_type: str) -> list[str]:
    """Return the addresses subscribed to ``event_type`` ("*" and "family.*" match too)."""
    found = []
    for subscription in list_subscriptions(session):
        for pattern in subscription.event_types:
            if pattern in ("*", event_type) or (
                pattern.endswith(".*") and event_type.startswith(pattern[:-1])
            ):
                found.append(subscription.address)
                break
    return found


def queue_email(
    session: Session, *, event_type: str, to_address: str, subject: str, body: str
) -> EmailMessage:
    message = EmailMessage(
        event_type=event_type,
        to_address=to_address,
        subject=subject[:255],
        body=body,
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    session.flush()
    return message


def claim_due_emails(
    session: Session, *, limit: int, lease: dt.timedelta
) -> Sequence[EmailMessage]:
    """Claim up to ``limit`` due pending emails (leased: due again if the sender dies)."""
    now = utcnow()
    claimed = session.scalars(
        select(EmailMessage)
        .where(EmailMessage.status == "pending", EmailMessage.next_attempt_at <= now)
        .order_by(EmailMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for message in claimed:
        message.next_attempt_at = now + lease
    session.flush()
    return claimed


def list_emails(
    session: Session, *, status: str | None = None, limit: int = 100
) -> Sequence[EmailMessage]:
    query = select(EmailMessage).order_by(EmailMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(EmailMessage.status == status)
    return session.scalars(query).all()
