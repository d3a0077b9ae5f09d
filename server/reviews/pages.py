"""The reviews page: entries due or overdue for review, and the suppliers behind the register."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from collector.store.base import utcnow
from server.reviews.service import review_rows, supplier_rows
from server.web.deps import DbSession, State, Viewer
from server.web.rendering import render_page

router = APIRouter(include_in_schema=False)


@router.get("/reviews", response_class=HTMLResponse)
def reviews(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    today = utcnow().date()
    return render_page(
        state,
        request,
        "reviews/reviews.html",
        who,
        rows=review_rows(session, today=today, due_within_days=state.settings.review_due_soon_days),
        window=state.settings.review_due_soon_days,
        suppliers=supplier_rows(session),
        today=today,
    )
