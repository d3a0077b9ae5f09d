"""The training page: records, coverage per department against the departments using AI,
and the form that records a completion."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from collector.store import training as training_store
from collector.store.base import utcnow
from server.errors import GuardFailed
from server.training import service
from server.web.deps import DbSession, Reviewer, State, Viewer
from server.web.rendering import Csrf, check_csrf, render_page, see_other

router = APIRouter(include_in_schema=False)


@router.get("/training", response_class=HTMLResponse)
def training_page(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    today = utcnow().date()
    return render_page(
        state,
        request,
        "training/training.html",
        who,
        records=training_store.list_training_records(session)[:500],
        coverage=service.training_coverage(session, today=today),
        today=today,
    )


def _day(value: str, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise GuardFailed(field, "use a date like 2026-11-27") from exc


@router.post("/training")
def training_record(
    session: DbSession,
    who: Reviewer,
    csrf: Csrf,
    username: Annotated[str, Form(max_length=128)],
    course: Annotated[str, Form(max_length=200)],
    completed_on: Annotated[str, Form(max_length=10)],
    expires_on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    check_csrf(who, csrf)
    completed = _day(completed_on, "completed_on")
    if completed is None:
        raise GuardFailed("completed_on", "is required")
    service.record_training(
        session,
        actor=who.user.username,
        username=username,
        course=course,
        completed_on=completed,
        expires_on=_day(expires_on, "expires_on"),
    )
    return see_other("/training")
