"""The AIMS scope as JSON: GET /api/v1/scope (in force, with how much discovered AI falls
outside it, and every version) and POST /api/v1/scope (publish a new version)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from collector.store import scope as scope_store
from collector.store.scope import ScopeStatement
from server import fields
from server.scope import service
from server.web.api_auth import AUTH_RESPONSES, AimsAdmin, AimsReader
from server.web.deps import DbSession

router = APIRouter(prefix="/api/v1", tags=["aims"])


class ScopeIn(BaseModel):
    owner: str = Field(max_length=120, pattern=fields.REQUIRED_LINE)
    business_units: list[fields.ItemName] = Field(min_length=1, max_length=100)
    locations: list[fields.ItemName] = Field(default_factory=list, max_length=100)
    ai_use_kinds: list[Literal["used", "provided", "developed"]] = Field(min_length=1, max_length=3)
    exclusions: str = Field("", max_length=4000, pattern=fields.TEXT)
    rationale: str = Field(max_length=4000, pattern=fields.REQUIRED_TEXT)


class ScopeOut(BaseModel):
    version: int
    owner: str
    business_units: list[str]
    locations: list[str]
    ai_use_kinds: list[str]
    exclusions: str
    rationale: str
    created_by: str
    created_at: dt.datetime


class CoverageOut(BaseModel):
    scope: ScopeOut | None
    statement: str = Field(description="The sentence every report and summary carries.")
    discovered_ai_services: int
    outside_scope: int
    in_scope_entries: int
    out_of_scope_entries: int
    versions: list[ScopeOut]


def scope_out(statement: ScopeStatement) -> ScopeOut:
    return ScopeOut.model_validate(service.scope_snapshot(statement))


@router.get("/scope", response_model=CoverageOut, responses=AUTH_RESPONSES)
def get_scope(session: DbSession, _who: AimsReader) -> CoverageOut:
    """The AIMS scope in force, how much discovered AI falls outside it, and every version."""
    coverage = service.scope_coverage(session)
    return CoverageOut(
        scope=scope_out(coverage.statement) if coverage.statement else None,
        statement=coverage.sentence(),
        discovered_ai_services=coverage.discovered,
        outside_scope=coverage.outside_scope,
        in_scope_entries=coverage.in_scope_entries,
        out_of_scope_entries=coverage.out_of_scope_entries,
        versions=[scope_out(s) for s in scope_store.list_scope_versions(session)],
    )


@router.post("/scope", response_model=ScopeOut, status_code=201, responses=AUTH_RESPONSES)
def post_scope(session: DbSession, who: AimsAdmin, body: ScopeIn) -> ScopeOut:
    """Publish a new version of the AIMS scope (the newest is in force)."""
    return scope_out(service.publish_scope(session, actor=who.actor, **body.model_dump()))
