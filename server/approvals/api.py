"""Approval routes as JSON: GET/POST /api/v1/approval-routes, an entry's progress on its
routes, and sign-offs by the signed-in approver."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field, StringConstraints

from collector.store import approvals as approvals_store
from collector.store import register
from collector.store.approvals import ApprovalRoute
from collector.store.register import FIELDS
from server import fields
from server.approvals import service
from server.web.api_auth import AUTH_RESPONSES, AimsAdmin, AimsReader
from server.web.callers import session_user
from server.web.deps import DbSession, RowId

router = APIRouter(prefix="/api/v1", tags=["aims"])
RegisterId = Annotated[str, Path(max_length=16)]
RiskLevel = Annotated[str, StringConstraints(pattern=fields.one_of(FIELDS["risk_level"].values))]
DataClass = Annotated[str, StringConstraints(pattern=fields.one_of(FIELDS["data_classes"].values))]
EuAiActClass = Annotated[
    str, StringConstraints(pattern=fields.one_of(FIELDS["eu_ai_act_class"].values))
]
AssessmentKind = Annotated[str, StringConstraints(pattern=fields.one_of(service.ASSESSMENT_KINDS))]
Approver = Annotated[
    str, StringConstraints(pattern=r"^(role:(reviewer|admin)|user:[A-Za-z0-9._-]{1,64})$")
]


class RouteIn(BaseModel):
    name: str = Field(max_length=120, pattern=fields.REQUIRED_LINE)
    risk_levels: list[RiskLevel] = Field(default_factory=list, max_length=5)
    data_classes: list[DataClass] = Field(default_factory=list, max_length=13)
    personal_data: bool = False
    customer_facing: bool = False
    decision_support: bool = False
    suppliers: list[fields.SupplierName] = Field(default_factory=list, max_length=100)
    eu_ai_act_classes: list[EuAiActClass] = Field(default_factory=list, max_length=7)
    assessments: list[AssessmentKind] = Field(default_factory=list, max_length=7)
    approvers: list[Approver] = Field(
        min_length=1, max_length=10, description="Steps: role:reviewer, role:admin or user:<name>"
    )
    mode: Literal["sequential", "parallel"] = "sequential"
    active: bool = True


class RouteOut(RouteIn):
    id: int


class SignoffIn(BaseModel):
    route_id: int = Field(ge=1, le=2**31 - 1)
    step: int = Field(ge=1, le=10, description="1 for the first approver")
    outcome: str = Field(pattern="^(approved|rejected)$")
    comment: str = Field("", max_length=4000)


class StepOut(BaseModel):
    step: int
    approver: str
    signed_by: str | None
    outcome: str | None
    at: dt.datetime | None


class ProgressOut(BaseModel):
    route_id: int
    route: str
    mode: str
    missing_assessments: list[str]
    steps: list[StepOut]
    complete: bool


def _route_out(route: ApprovalRoute) -> RouteOut:
    return RouteOut(id=route.id, **service.route_snapshot(route))


@router.get("/approval-routes", response_model=list[RouteOut], responses=AUTH_RESPONSES)
def list_routes(session: DbSession, _who: AimsReader) -> list[RouteOut]:
    """Every approval route, by name."""
    return [_route_out(route) for route in approvals_store.list_routes(session)]


@router.post(
    "/approval-routes",
    response_model=RouteOut,
    status_code=201,
    responses={**AUTH_RESPONSES, 409: {"description": "A route with that name exists"}},
)
def create_route(session: DbSession, who: AimsAdmin, body: RouteIn) -> RouteOut:
    """Create an approval route."""
    values = body.model_dump()
    values["assessments_needed"] = values.pop("assessments")
    return _route_out(service.save_route(session, actor=who.actor, **values))


@router.put(
    "/approval-routes/{route_id}",
    response_model=RouteOut,
    responses={
        **AUTH_RESPONSES,
        404: {"description": "No such route"},
        409: {"description": "Another route has that name"},
    },
)
def update_route(route_id: RowId, session: DbSession, who: AimsAdmin, body: RouteIn) -> RouteOut:
    """Change a route (set active to false to retire it); entries already approved keep
    their decision, entries under review follow the new route."""
    values = body.model_dump()
    values["assessments_needed"] = values.pop("assessments")
    return _route_out(service.save_route(session, actor=who.actor, route_id=route_id, **values))


@router.get(
    "/register/{register_id}/route",
    response_model=list[ProgressOut],
    responses={**AUTH_RESPONSES, 404: {"description": "No such entry"}},
)
def entry_progress(
    register_id: RegisterId, session: DbSession, _who: AimsReader
) -> list[ProgressOut]:
    """The entry's progress on every route it falls under."""
    entry = register.get_register_entry(session, register_id=register_id)
    return [
        ProgressOut(
            route_id=p.route.id,
            route=p.route.name,
            mode=p.route.mode,
            missing_assessments=list(p.missing_assessments),
            steps=[
                StepOut(
                    step=s.index + 1,
                    approver=s.approver,
                    signed_by=s.signoff.signed_by if s.signoff else None,
                    outcome=s.signoff.outcome if s.signoff else None,
                    at=s.signoff.at if s.signoff else None,
                )
                for s in p.steps
            ],
            complete=p.complete,
        )
        for p in service.route_progress(session, entry=entry)
    ]


@router.post(
    "/register/{register_id}/signoffs",
    response_model=StepOut,
    status_code=201,
    responses={
        **AUTH_RESPONSES,
        404: {"description": "No such entry"},
        409: {"description": "That step is already signed"},
    },
)
def sign_off(
    register_id: RegisterId, session: DbSession, who: AimsReader, body: SignoffIn
) -> StepOut:
    """Sign one step of a route as the signed-in approver (a person, not a token)."""
    user = session_user(session, who)
    signoff = service.sign_off(
        session,
        actor=user.username,
        actor_role=user.role,
        register_id=register_id,
        route_id=body.route_id,
        step=body.step - 1,
        outcome=body.outcome,
        comment=body.comment,
    )
    return StepOut(
        step=signoff.step + 1,
        approver=signoff.approver,
        signed_by=signoff.signed_by,
        outcome=signoff.outcome,
        at=signoff.at,
    )
