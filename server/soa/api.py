"""The Statement of Applicability as JSON: GET /api/v1/soa and PUT /api/v1/soa/{control_id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field, StringConstraints

from server import fields
from server.register.schemas import DOCUMENTED_LINK
from server.soa import service
from server.soa.service import SoaRow
from server.web.api_auth import AUTH_RESPONSES, AimsAdmin, AimsReader
from server.web.deps import DbSession

router = APIRouter(prefix="/api/v1/soa", tags=["aims"])
_STATUS = "^(" + "|".join(service.STATUSES) + ")$"


EvidenceLink = Annotated[str, StringConstraints(max_length=1000, pattern=DOCUMENTED_LINK)]


class ControlIn(BaseModel):
    applicable: bool
    justification: str = Field(max_length=4000, pattern=fields.REQUIRED_TEXT)
    status: str = Field(pattern=_STATUS, description="not_applicable when it does not apply")
    evidence_links: list[EvidenceLink] = Field(default_factory=list, max_length=50)


class ControlOut(BaseModel):
    control_id: str
    title: str
    applicable: bool
    justification: str
    status: str
    evidence: list[str] = Field(description="What the data shows (kept current)")
    evidence_links: list[str]
    references: list[str] = Field(
        description="Records behind the evidence: policy:<id>, entry:<register id>, "
        "assessment:<id>, incident:<incident id>, training:<id>"
    )
    decided: bool = Field(description="An admin's decision rather than the derived default")
    nist_ai_rmf: list[str]
    eu_ai_act: str


def _out(row: SoaRow) -> ControlOut:
    return ControlOut(
        control_id=row.control.control_id,
        title=row.control.title,
        applicable=row.applicable,
        justification=row.justification,
        status=row.status,
        evidence=list(row.evidence),
        evidence_links=list(row.links),
        references=list(row.references),
        decided=row.decided,
        nist_ai_rmf=list(row.control.nist_ai_rmf),
        eu_ai_act=row.control.eu_ai_act,
    )


@router.get("", response_model=list[ControlOut], responses=AUTH_RESPONSES)
def get_soa(session: DbSession, _who: AimsReader) -> list[ControlOut]:
    """Every ISO/IEC 42001 Annex A control reference with its applicability and evidence."""
    return [_out(row) for row in service.soa_rows(session)]


@router.put(
    "/{control_id}",
    response_model=ControlOut,
    responses={**AUTH_RESPONSES, 404: {"description": "Not an Annex A control reference"}},
)
def put_control(
    control_id: Annotated[str, Path(max_length=16)],
    session: DbSession,
    who: AimsAdmin,
    body: ControlIn,
) -> ControlOut:
    """Decide a control's applicability, justification, status and evidence links."""
    service.decide_control(session, actor=who.actor, control_id=control_id, **body.model_dump())
    return next(
        _out(row) for row in service.soa_rows(session) if row.control.control_id == control_id
    )
