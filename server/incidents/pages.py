"""The incident register page: incidents, the form that records one, and closing one."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from collector.store import incidents, register
from collector.store.base import utcnow
from server.errors import GuardFailed
from server.incidents import service
from server.web.deps import DbSession, Reviewer, State, Viewer
from server.web.rendering import Csrf, check_csrf, render_page, see_other

router = APIRouter(include_in_schema=False)


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    return render_page(
        state,
        request,
        "incidents/incidents.html",
        who,
        incidents=incidents.list_incidents(session),
        entries=register.list_register_entries(session, limit=1000),
        severities=service.SEVERITIES,
        today=utcnow().date(),
    )


@router.post("/incidents")
def incidents_report(
    session: DbSession,
    who: Reviewer,
    csrf: Csrf,
    title: Annotated[str, Form(max_length=200)],
    severity: Annotated[str, Form(max_length=16)],
    occurred_on: Annotated[str, Form(max_length=10)],
    register_id: Annotated[str, Form(max_length=16)] = "",
    description: Annotated[str, Form(max_length=8000)] = "",
    people_affected: Annotated[int, Form(ge=0, le=10_000_000_000)] = 0,
    actions: Annotated[str, Form(max_length=8000)] = "",
) -> Response:
    check_csrf(who, csrf)
    try:
        day = dt.date.fromisoformat(occurred_on)
    except ValueError as exc:
        raise GuardFailed("occurred_on", "use a date like 2026-11-27") from exc
    service.report_incident(
        session,
        actor=who.user.username,
        title=title,
        severity=severity,
        occurred_on=day,
        register_id=register_id or None,
        description=description,
        people_affected=people_affected,
        actions=actions,
    )
    return see_other("/incidents")


@router.post("/incidents/{incident_id}/close")
def incidents_close(
    incident_id: Annotated[str, Path(max_length=16)],
    session: DbSession,
    who: Reviewer,
    csrf: Csrf,
    closure: Annotated[str, Form(max_length=8000)],
) -> Response:
    check_csrf(who, csrf)
    service.close_incident(
        session, actor=who.user.username, incident_id=incident_id, closure=closure
    )
    return see_other("/incidents")
