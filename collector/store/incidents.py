"""The AI incident register (ISO/IEC 42001 A.3.3, A.8.4, 10.2): what happened, to which entry,
how bad, who was affected, what was done and how it closed. Keyword-only; the caller owns the
transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Date, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.errors import NotFound
from collector.store.base import Base, UTCDateTime, utcnow

OPEN = "open"
CLOSED = "closed"


class Incident(Base):
    __tablename__ = "aims_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(16), unique=True)
    register_id: Mapped[str | None] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(16))
    people_affected: Mapped[int] = mapped_column(Integer, default=0)
    actions: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)
    closure: Mapped[str] = mapped_column(Text, default="")
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    reported_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def next_incident_id(session: Session, *, year: int) -> str:
    """Return the next free id like INC-2026-0001 (call with the audit chain lock held)."""
    prefix = f"INC-{year}-"
    count = session.scalar(
        select(func.count(Incident.id)).where(Incident.incident_id.like(f"{prefix}%"))
    )
    return f"{prefix}{(count or 0) + 1:04d}"


def create_incident(session: Session, **fields: object) -> Incident:
    incident = Incident(**fields)
    session.add(incident)
    session.flush()
    return incident


def get_incident(session: Session, *, incident_id: str) -> Incident:
    incident = session.scalar(select(Incident).where(Incident.incident_id == incident_id))
    if incident is None:
        raise NotFound("incident", incident_id)
    return incident


def list_incidents(
    session: Session, *, status: str | None = None, register_id: str | None = None
) -> Sequence[Incident]:
    """Return incidents, newest first."""
    query = select(Incident).order_by(Incident.id.desc())
    if status is not None:
        query = query.where(Incident.status == status)
    if register_id is not None:
        query = query.where(Incident.register_id == register_id)
    return session.scalars(query).all()
