"""Assessments linked to register entries (ISO/IEC 42001 6.1.4, 8.4, A.5.2-A.5.5): AI system
impact assessments, DPIA screenings and the reviews an approval route asks for; and the
question templates an admin edits. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.errors import NotFound
from collector.store.base import Base, JSONType, UTCDateTime, utcnow

IN_PROGRESS = "in_progress"
COMPLETED = "completed"


class AssessmentTemplate(Base):
    """The questions of one kind of assessment, as an admin last saved them."""

    __tablename__ = "aims_assessment_templates"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    questions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Assessment(Base):
    """One assessment of one register entry: the answers to its template and the outcome."""

    __tablename__ = "aims_assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    register_id: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=IN_PROGRESS)
    answers: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    outcome: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_by: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def get_template(session: Session, *, kind: str) -> AssessmentTemplate | None:
    return session.get(AssessmentTemplate, kind)


def save_template(
    session: Session, *, kind: str, questions: list[str], updated_by: str
) -> AssessmentTemplate:
    template = session.get(AssessmentTemplate, kind)
    if template is None:
        template = AssessmentTemplate(kind=kind, questions=questions, updated_by=updated_by)
        session.add(template)
    else:
        template.questions = questions
        template.updated_by = updated_by
        template.updated_at = utcnow()
    session.flush()
    return template


def create_assessment(session: Session, **fields: object) -> Assessment:
    assessment = Assessment(**fields)
    session.add(assessment)
    session.flush()
    return assessment


def get_assessment(session: Session, *, assessment_id: int) -> Assessment:
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFound("assessment", assessment_id)
    return assessment


def list_assessments(
    session: Session, *, register_id: str | None = None, limit: int = 1000
) -> Sequence[Assessment]:
    query = select(Assessment).order_by(Assessment.id).limit(limit)
    if register_id is not None:
        query = query.where(Assessment.register_id == register_id)
    return session.scalars(query).all()
