"""AIMS objectives (ISO/IEC 42001 6.2, 9.1): a target per measure, and each measurement taken,
for trends. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Float, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.store.base import Base, UTCDateTime, utcnow


class ObjectiveTarget(Base):
    __tablename__ = "aims_objective_targets"

    measure: Mapped[str] = mapped_column(String(32), primary_key=True)
    target: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ObjectiveMeasurement(Base):
    __tablename__ = "aims_objective_measurements"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure: Mapped[str] = mapped_column(String(32), index=True)
    value: Mapped[float] = mapped_column(Float)
    measured_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def list_targets(session: Session) -> dict[str, float]:
    return {row.measure: row.target for row in session.scalars(select(ObjectiveTarget)).all()}


def save_target(session: Session, *, measure: str, target: float, updated_by: str) -> None:
    row = session.get(ObjectiveTarget, measure)
    if row is None:
        session.add(ObjectiveTarget(measure=measure, target=target, updated_by=updated_by))
    else:
        row.target, row.updated_by, row.updated_at = target, updated_by, utcnow()
    session.flush()


def add_measurements(session: Session, *, values: dict[str, float], at: dt.datetime) -> None:
    for measure, value in values.items():
        session.add(ObjectiveMeasurement(measure=measure, value=value, measured_at=at))
    session.flush()


def list_measurements(session: Session, *, limit: int = 1000) -> Sequence[ObjectiveMeasurement]:
    """Return the newest measurements, oldest first."""
    rows = session.scalars(
        select(ObjectiveMeasurement).order_by(ObjectiveMeasurement.id.desc()).limit(limit)
    ).all()
    return list(reversed(rows))
