"""The report history page: every run with its headline figures, deliveries and files."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from collector.store import reports
from server.web.deps import DbSession, State, Viewer
from server.web.rendering import render_page

router = APIRouter(include_in_schema=False)


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, session: DbSession, state: State, who: Viewer) -> HTMLResponse:
    """The report history page."""
    runs = reports.list_report_runs(session, limit=100)
    return render_page(state, request, "reports/history.html", who, runs=runs)
