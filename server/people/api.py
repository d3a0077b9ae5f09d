"""The people directory as JSON: GET /api/v1/people and POST /api/v1/people/import (a CSV
body; all rows or none, the error names the row)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from collector.store import people
from server.people import service
from server.web.api_auth import AUTH_RESPONSES, AimsAdmin, AimsReader
from server.web.deps import DbSession

router = APIRouter(prefix="/api/v1/people", tags=["aims"])


class PersonOut(BaseModel):
    id: int
    username: str
    pseudonym: str
    name: str
    email: str
    department: str


class ImportOut(BaseModel):
    rows: int
    departments: int
    sha256: str


@router.get("", response_model=list[PersonOut], responses=AUTH_RESPONSES)
def list_people(
    session: DbSession,
    _who: AimsReader,
    department: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[PersonOut]:
    """The people directory, by username."""
    return [
        PersonOut.model_validate(person, from_attributes=True)
        for person in people.list_people(session, department=department, limit=limit, offset=offset)
    ]


@router.post(
    "/import",
    response_model=ImportOut,
    responses={**AUTH_RESPONSES, 422: {"description": "A row is wrong (named); nothing stored"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "username,department[,name,email,pseudonym] with a header row",
        }
    },
)
async def import_people(request: Request, session: DbSession, who: AimsAdmin) -> ImportOut:
    """Add or update the directory from a CSV body: every row or none."""
    result = service.import_directory(session, actor=who.actor, data=await request.body())
    return ImportOut(rows=result.rows, departments=result.departments, sha256=result.sha256)
