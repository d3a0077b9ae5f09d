"""Objectives and the management review pack as JSON, HTML and PDF, under /api/v1."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import BaseModel, Field

from collector.store.base import utcnow
from server.management_review import render, service
from server.web.api_auth import AUTH_RESPONSES, AimsAdmin, AimsReader
from server.web.deps import DbSession

router = APIRouter(prefix="/api/v1", tags=["aims"])
_MEASURE = "^(" + "|".join(service.MEASURES_BY_KEY) + ")$"


class TrendPoint(BaseModel):
    at: dt.datetime
    value: float


class ObjectiveOut(BaseModel):
    measure: str
    label: str
    better: str = Field(description="higher or lower")
    value: float | None
    target: float
    met: bool | None
    trend: list[TrendPoint]


class TargetIn(BaseModel):
    target: float = Field(
        ge=0,
        le=1_000_000,
        description="A count, or a share as 0-1 or a percentage (above 100 means 100%)",
    )


@router.get("/objectives", response_model=list[ObjectiveOut], responses=AUTH_RESPONSES)
def list_objectives(session: DbSession, _who: AimsReader) -> list[ObjectiveOut]:
    """Each objective with its value now, its target and its recorded trend."""
    return [
        ObjectiveOut(
            measure=row.measure.key,
            label=row.measure.label,
            better=row.measure.better,
            value=row.value,
            target=row.target,
            met=row.met,
            trend=[TrendPoint(at=at, value=value) for at, value in row.trend],
        )
        for row in service.objective_rows(session, today=utcnow().date())
    ]


@router.put("/objectives/{measure}", status_code=204, responses=AUTH_RESPONSES)
def put_target(
    measure: Annotated[str, Path(pattern=_MEASURE)],
    session: DbSession,
    who: AimsAdmin,
    body: TargetIn,
) -> Response:
    """Set an objective's target (a share between 0 and 1, or a count)."""
    service.set_target(session, actor=who.actor, measure=measure, target=body.target)
    return Response(status_code=204)


@router.post("/objectives/measurements", status_code=201, responses=AUTH_RESPONSES)
def take_measurements(session: DbSession, who: AimsAdmin) -> dict[str, float]:
    """Take and keep today's value of every objective (a point of each trend)."""
    return service.record_measurements(session, actor=who.actor, now=utcnow())


@router.get(
    "/management-review.{fmt}",
    responses={
        **AUTH_RESPONSES,
        200: {"content": {"text/html": {}, "application/pdf": {}}, "description": "The pack"},
    },
    response_class=Response,
)
def management_review(
    fmt: Annotated[str, Path(pattern="^(html|pdf)$")], session: DbSession, _who: AimsReader
) -> Response:
    """The management review pack with the inputs ISO/IEC 42001 9.3 asks for."""
    review = service.build_review(session, now=utcnow())
    if fmt == "pdf":
        return Response(
            render.render_pdf(review),
            media_type="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="management-review.pdf"'},
        )
    return Response(
        render.render_html(review),
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": render.PACK_CSP},
    )
