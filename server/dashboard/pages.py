"""The dashboard page, where a signed-in person lands."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.dashboard.service import build_dashboard
from server.scope.service import scope_coverage
from server.web.deps import DbSession, State, Viewer
from server.web.rendering import render_page

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(_who: Viewer) -> Response:
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    figures = build_dashboard(
        session,
        stale_after=dt.timedelta(minutes=state.settings.stale_after_minutes),
        due_soon_days=state.settings.review_due_soon_days,
    )
    return render_page(
        state, request, "dashboard/dashboard.html", who, d=figures, scope=scope_coverage(session)
    )
