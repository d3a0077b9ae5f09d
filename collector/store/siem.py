"""The SIEM outbox: events waiting for each destination (syslog, ECS file), oldest first, with
each destination's delivery state and counters, and the marks that make an agent's staleness
one event. Keyword-only; the caller owns the transaction.

Rows leave the outbox only once their destination has them (at-least-once). The backlog of a
destination is bounded: adding past the bound drops that destination's oldest rows and counts
them in ``siem_destinations.dropped``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.store.agents import Agent
from collector.store.base import Base, JSONType, UTCDateTime, utcnow


class SiemOutboxRow(Base):
    """One event for one destination, until that destination has it."""

    __tablename__ = "siem_outbox"
    __table_args__ = (Index("ix_siem_outbox_destination_id", "destination", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    destination: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(48))
    event: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SiemDestination(Base):
    """Delivery state of one destination: its backoff after failures and its counters."""

    __tablename__ = "siem_destinations"

    destination: Mapped[str] = mapped_column(String(16), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    dropped: Mapped[int] = mapped_column(BigInteger, default=0)
    last_delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SiemAgentMark(Base):
    """An agent already reported stale, with the last-seen time it was stale from."""

    __tablename__ = "siem_agent_marks"

    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def destination_state(session: Session, *, destination: str) -> SiemDestination:
    """Return (creating it if needed) the state row of a destination, locked for update."""
    state = session.scalar(
        select(SiemDestination).where(SiemDestination.destination == destination).with_for_update()
    )
    if state is None:
        state = SiemDestination(destination=destination, failures=0, delivered=0, dropped=0)
        session.add(state)
        session.flush()
    return state


def enqueue(
    session: Session,
    *,
    destination: str,
    events: Sequence[dict[str, Any]],
    max_backlog: int,
) -> int:
    """Add events (each with ``id`` and ``kind``) for a destination; drop its oldest rows past
    ``max_backlog`` and count them; return how many were dropped."""
    state = destination_state(session, destination=destination)
    for event in events:
        session.add(
            SiemOutboxRow(
                destination=destination, event_id=event["id"], kind=event["kind"], event=event
            )
        )
    session.flush()
    backlog = backlog_size(session, destination=destination)
    excess = backlog - max_backlog
    if excess <= 0:
        return 0
    oldest = session.scalars(
        select(SiemOutboxRow.id)
        .where(SiemOutboxRow.destination == destination)
        .order_by(SiemOutboxRow.id)
        .limit(excess)
    ).all()
    session.execute(delete(SiemOutboxRow).where(SiemOutboxRow.id.in_(oldest)))
    state.dropped += len(oldest)
    return len(oldest)


def backlog_size(session: Session, *, destination: str) -> int:
    query = select(func.count(SiemOutboxRow.id)).where(SiemOutboxRow.destination == destination)
    return session.scalar(query) or 0


def oldest_rows(session: Session, *, destination: str, limit: int) -> Sequence[SiemOutboxRow]:
    """The destination's oldest waiting rows, in order."""
    return session.scalars(
        select(SiemOutboxRow)
        .where(SiemOutboxRow.destination == destination)
        .order_by(SiemOutboxRow.id)
        .limit(limit)
    ).all()


def remove_delivered(session: Session, *, destination: str, row_ids: Sequence[int]) -> None:
    """Remove rows the destination has; count them and clear its backoff."""
    session.execute(delete(SiemOutboxRow).where(SiemOutboxRow.id.in_(row_ids)))
    state = destination_state(session, destination=destination)
    state.delivered += len(row_ids)
    state.failures = 0
    state.next_attempt_at = None
    state.last_error = None
    state.last_delivered_at = utcnow()


def list_destination_states(session: Session) -> Sequence[SiemDestination]:
    return session.scalars(select(SiemDestination).order_by(SiemDestination.destination)).all()


def get_agent_mark(session: Session, *, agent_id: int) -> SiemAgentMark | None:
    return session.get(SiemAgentMark, agent_id)


def set_agent_mark(session: Session, *, agent_id: int, last_seen_at: dt.datetime | None) -> None:
    mark = session.get(SiemAgentMark, agent_id)
    if mark is None:
        session.add(SiemAgentMark(agent_id=agent_id, last_seen_at=last_seen_at))
    else:
        mark.last_seen_at = last_seen_at
    session.flush()


def list_silent_agents(session: Session, *, silent_since: dt.datetime) -> Sequence[Agent]:
    """Agents (not revoked) whose last report, or enrollment when they never reported, is
    older than ``silent_since``, by id."""
    last_heard = func.coalesce(Agent.last_seen_at, Agent.enrolled_at)
    return session.scalars(
        select(Agent)
        .where(Agent.revoked_at.is_(None), last_heard < silent_since)
        .order_by(Agent.id)
    ).all()
