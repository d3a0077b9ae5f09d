"""Assessments as JSON: list and record them for register entries; read and edit the question
templates, under /api/v1/assessments and /api/v1/assessment-templates."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field, StringConstraints

from collector.store import assessments as assessments_store
from server import fields
from server.approvals.service import ASSESSMENT_KINDS
from server.assessments import service
from server.web.api_auth import AUTH_RESPONSES, AimsAdmin, AimsReader, AimsWriter
from server.web.deps import DbSession

router = APIRouter(prefix="/api/v1", tags=["aims"])
_KIND_PATTERN = "^(" + "|".join(ASSESSMENT_KINDS) + ")$"
Kind = Annotated[str, Path(pattern=_KIND_PATTERN)]


Answer = Annotated[str, StringConstraints(max_length=4000, pattern=fields.TEXT)]


class AssessmentIn(BaseModel):
    register_id: str = Field(max_length=16)
    kind: str = Field(pattern=_KIND_PATTERN)
    answers: list[Answer] = Field(
        max_length=service.MAX_QUESTIONS,
        description="One answer per template question, in order (yes/no for DPIA screening)",
    )
    outcome: str = Field("", max_length=4000, pattern=fields.TEXT)
    complete: bool = True


class AnswerOut(BaseModel):
    question: str
    answer: str


class AssessmentOut(BaseModel):
    id: int
    register_id: str
    kind: str
    status: str
    answers: list[AnswerOut]
    outcome: str
    created_by: str
    completed_by: str | None
    completed_at: dt.datetime | None


class TemplateIn(BaseModel):
    questions: list[fields.Question] = Field(min_length=1, max_length=service.MAX_QUESTIONS)


class TemplateOut(BaseModel):
    kind: str
    label: str
    questions: list[str]


@router.get("/assessments", response_model=list[AssessmentOut], responses=AUTH_RESPONSES)
def list_assessments(
    session: DbSession,
    _who: AimsReader,
    register_id: Annotated[str | None, Query(max_length=16)] = None,
) -> list[AssessmentOut]:
    """Assessments, oldest first (of one entry with ``register_id``)."""
    return [
        AssessmentOut.model_validate(item, from_attributes=True)
        for item in assessments_store.list_assessments(session, register_id=register_id)
    ]


@router.post(
    "/assessments",
    response_model=AssessmentOut,
    status_code=201,
    responses={**AUTH_RESPONSES, 404: {"description": "No such entry"}},
)
def record_assessment(session: DbSession, who: AimsWriter, body: AssessmentIn) -> AssessmentOut:
    """Record an assessment of an entry (a completed DPIA screening or DPIA updates its
    DPIA field)."""
    item = service.record_assessment(session, actor=who.actor, **body.model_dump())
    return AssessmentOut.model_validate(item, from_attributes=True)


@router.get("/assessment-templates/{kind}", response_model=TemplateOut, responses=AUTH_RESPONSES)
def get_template(kind: Kind, session: DbSession, _who: AimsReader) -> TemplateOut:
    """The questions of one kind of assessment."""
    return TemplateOut(
        kind=kind, label=ASSESSMENT_KINDS[kind], questions=service.questions_for(session, kind=kind)
    )


@router.put("/assessment-templates/{kind}", response_model=TemplateOut, responses=AUTH_RESPONSES)
def put_template(kind: Kind, session: DbSession, who: AimsAdmin, body: TemplateIn) -> TemplateOut:
    """Replace the questions of one kind of assessment."""
    questions = service.save_template(session, actor=who.actor, kind=kind, questions=body.questions)
    return TemplateOut(kind=kind, label=ASSESSMENT_KINDS[kind], questions=questions)
