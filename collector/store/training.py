"""Training records (ISO/IEC 42001 7.2, 7.3, A.4.6; EU AI Act Art. 4 AI literacy): who
completed which course when, and until when it counts. Keyword-only; the caller owns the
transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.store.base import Base, UTCDateTime, utcnow
from collector.store.hosts import Host
from collector.store.inventory import Sighting
from collector.store.people import Person


class TrainingRecord(Base):
    __tablename__ = "aims_training_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    course: Mapped[str] = mapped_column(String(200))
    completed_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date | None] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def create_training_record(session: Session, **fields: object) -> TrainingRecord:
    record = TrainingRecord(**fields)
    session.add(record)
    session.flush()
    return record


def list_training_records(session: Session) -> list[tuple[TrainingRecord, Person]]:
    """Return every training record with its person, newest completion first."""
    query = (
        select(TrainingRecord, Person)
        .join(Person, Person.id == TrainingRecord.person_id)
        .order_by(TrainingRecord.completed_on.desc(), TrainingRecord.id.desc())
    )
    return [(record, person) for record, person in session.execute(query).all()]


def count_trained_by_department(session: Session, *, on: dt.date) -> dict[str, int]:
    """Return, per department, how many people hold a training record valid on ``on``."""
    valid = select(TrainingRecord.person_id).where(
        TrainingRecord.completed_on <= on,
        (TrainingRecord.expires_on.is_(None)) | (TrainingRecord.expires_on >= on),
    )
    query = (
        select(Person.department, func.count(Person.id))
        .where(Person.id.in_(valid))
        .group_by(Person.department)
    )
    return dict(session.execute(query).all())


def departments_using_ai(session: Session) -> set[str]:
    """Return the departments of hosts on which discovery saw any AI service."""
    query = (
        select(Host.department)
        .join(Sighting, Sighting.host_id == Host.id)
        .where(Host.department != "")
        .distinct()
    )
    return set(session.scalars(query).all())
