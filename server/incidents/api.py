"""The AI incident register as JSON: GET/POST /api/v1/incidents and closing one."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from collector.store import incidents as incidents_store
from server import fields
from server.incidents import service
from server.web.api_auth import AUTH_RESPONSES, AimsReader, AimsWriter
from server.web.deps import DbSession

router = APIRouter(prefix="/api/v1/incidents", tags=["aims"])
_SEVERITY = "^(" + "|".join(service.SEVERITIES) + ")$"


class IncidentIn(BaseModel):
    title: str = Field(max_length=200, pattern=fields.REQUIRED_LINE)
    severity: str = Field(pattern=_SEVERITY)
    occurred_on: dt.date
    register_id: str | None = Field(None, max_length=16)
    description: str = Field("", max_length=8000, pattern=fields.TEXT)
    people_affected: int = Field(0, ge=0, le=10_000_000_000)
    actions: str = Field("", max_length=8000, pattern=fields.TEXT)


class CloseIn(BaseModel):
    closure: str = Field(max_length=8000, pattern=fields.REQUIRED_TEXT)
    actions: str = Field("", max_length=8000, pattern=fields.TEXT)


class IncidentOut(BaseModel):
    incident_id: str
    register_id: str | None
    title: str
    description: str
    severity: str
    people_affected: int
    actions: str
    status: str
    closure: str
    occurred_on: dt.date
    reported_by: str
    created_at: dt.datetime
    closed_by: str | None
    closed_at: dt.datetime | None


def _out(incident: incidents_store.Incident) -> IncidentOut:
    return IncidentOut.model_validate(incident, from_attributes=True)


@router.get("", response_model=list[IncidentOut], responses=AUTH_RESPONSES)
def list_incidents(
    session: DbSession,
    _who: AimsReader,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
) -> list[IncidentOut]:
    """AI incidents, newest first."""
    return [_out(i) for i in incidents_store.list_incidents(session, status=status)]


@router.post(
    "",
    response_model=IncidentOut,
    status_code=201,
    responses={**AUTH_RESPONSES, 404: {"description": "No such entry"}},
)
def report_incident(session: DbSession, who: AimsWriter, body: IncidentIn) -> IncidentOut:
    """Record an incident; a governed entry it names goes back to review."""
    return _out(service.report_incident(session, actor=who.actor, **body.model_dump()))


@router.post(
    "/{incident_id}/close",
    response_model=IncidentOut,
    responses={
        **AUTH_RESPONSES,
        404: {"description": "No such incident"},
        409: {"description": "Already closed"},
    },
)
def close_incident(
    incident_id: Annotated[str, Path(max_length=16)],
    session: DbSession,
    who: AimsWriter,
    body: CloseIn,
) -> IncidentOut:
    """Close an open incident with how it was resolved."""
    return _out(
        service.close_incident(
            session, actor=who.actor, incident_id=incident_id, **body.model_dump()
        )
    )
