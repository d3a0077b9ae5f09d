"""Training records (course, person, date, expiry) and coverage per department, set against
the departments whose hosts use AI services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from collector.errors import NotFound
from collector.store import people, training
from collector.store.training import TrainingRecord
from server import fields
from server.audit.service import record_change
from server.errors import GuardFailed


def record_training(
    session: Session,
    *,
    actor: str,
    username: str,
    course: str,
    completed_on: dt.date,
    expires_on: dt.date | None = None,
) -> TrainingRecord:
    """Record that a person of the directory completed a course; raises NotFound,
    GuardFailed."""
    person = people.find_person(session, username=username)
    if person is None:
        raise NotFound("person in the people directory", username[:128])
    course = fields.text(course, "course", limit=200, required=True)
    if expires_on is not None and expires_on < completed_on:
        raise GuardFailed("expires_on", "a course cannot expire before it was completed")
    record = training.create_training_record(
        session,
        person_id=person.id,
        course=course,
        completed_on=completed_on,
        expires_on=expires_on,
        recorded_by=actor,
    )
    record_change(
        session,
        actor=actor,
        action="training.record",
        object_type="training",
        object_id=record.id,
        before=None,
        after={
            "person": person.username,
            "department": person.department,
            "course": course,
            "completed_on": completed_on,
            "expires_on": expires_on,
        },
    )
    return record


@dataclass(frozen=True, slots=True)
class TrainingCoverage:
    department: str
    people: int
    trained: int
    uses_ai: bool  # discovery saw AI services on this department's hosts

    @property
    def share(self) -> float:
        return self.trained / self.people if self.people else 0.0


def training_coverage(session: Session, *, today: dt.date) -> list[TrainingCoverage]:
    """Return per department how many people hold valid training; departments that use AI
    but have nobody in the directory are listed with no people."""
    trained = training.count_trained_by_department(session, on=today)
    using_ai = training.departments_using_ai(session)
    totals = dict.fromkeys(using_ai, 0) | people.count_people_by_department(session)
    return [
        TrainingCoverage(name or "(none)", total, trained.get(name, 0), name in using_ai)
        for name, total in sorted(totals.items())
    ]


def ai_departments_coverage(rows: list[TrainingCoverage]) -> float | None:
    """Return the share of people trained over the departments that use AI (None if none)."""
    relevant = [row for row in rows if row.uses_ai] or rows
    total = sum(row.people for row in relevant)
    return sum(row.trained for row in relevant) / total if total else None
