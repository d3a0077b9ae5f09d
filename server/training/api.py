"""Training as JSON: GET /api/v1/training (records and coverage per department) and POST
/api/v1/training (record a completion)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field

from collector.store import people
from collector.store import training as training_store
from collector.store.base import utcnow
from server import fields
from server.training import service
from server.web.api_auth import AUTH_RESPONSES, AimsReader, AimsWriter
from server.web.deps import DbSession

router = APIRouter(prefix="/api/v1/training", tags=["aims"])


class TrainingIn(BaseModel):
    username: str = Field(
        max_length=128, pattern=fields.REQUIRED_LINE, description="As in the people directory"
    )
    course: str = Field(max_length=200, pattern=fields.REQUIRED_LINE)
    completed_on: dt.date
    expires_on: dt.date | None = None


class TrainingRecordOut(BaseModel):
    id: int
    username: str
    department: str
    course: str
    completed_on: dt.date
    expires_on: dt.date | None


class CoverageOut(BaseModel):
    department: str
    people: int
    trained: int
    uses_ai: bool = Field(description="Discovery saw AI services on this department's hosts")


class TrainingOut(BaseModel):
    records: list[TrainingRecordOut]
    coverage: list[CoverageOut]


@router.get("", response_model=TrainingOut, responses=AUTH_RESPONSES)
def get_training(session: DbSession, _who: AimsReader) -> TrainingOut:
    """Training records, newest first, and valid-training coverage per department."""
    return TrainingOut(
        records=[
            TrainingRecordOut(
                id=record.id,
                username=person.username,
                department=person.department,
                course=record.course,
                completed_on=record.completed_on,
                expires_on=record.expires_on,
            )
            for record, person in training_store.list_training_records(session)
        ],
        coverage=[
            CoverageOut(
                department=row.department,
                people=row.people,
                trained=row.trained,
                uses_ai=row.uses_ai,
            )
            for row in service.training_coverage(session, today=utcnow().date())
        ],
    )


@router.post(
    "",
    status_code=201,
    response_model=TrainingRecordOut,
    responses={**AUTH_RESPONSES, 404: {"description": "Not in the people directory"}},
)
def record_training(session: DbSession, who: AimsWriter, body: TrainingIn) -> TrainingRecordOut:
    """Record that a person of the directory completed a course."""
    record = service.record_training(session, actor=who.actor, **body.model_dump())
    person = people.get_person(session, person_id=record.person_id)
    return TrainingRecordOut(
        id=record.id,
        username=person.username,
        department=person.department,
        course=record.course,
        completed_on=record.completed_on,
        expires_on=record.expires_on,
    )
