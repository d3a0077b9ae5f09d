"""The reviews page: entries due or overdue for review (paged, sorted, with the catalogue's
risk score of their service), and the suppliers behind the register."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from collector.store.base import utcnow
from server.inventory.risk import service_score
from server.reviews.service import ReviewRow, review_rows, supplier_rows
from server.web.deps import DbSession, State, Viewer
from server.web.listing import ListSpec, SortColumn, page_in_memory, read_view
from server.web.rendering import render_page

router = APIRouter(include_in_schema=False)

REVIEW_LIST = ListSpec(
    path="/reviews",
    noun=("review", "reviews"),
    sorts=(
        SortColumn("due", "Next review"),
        SortColumn("register_id", "Entry"),
        SortColumn("title", "AI use"),
        SortColumn("status", "Status"),
        SortColumn("risk", "Risk score", descending_first=True),
        SortColumn("triggers", "Reassessment triggers", descending_first=True),
    ),
    default_sort="due",
)


@router.get("/reviews", response_class=HTMLResponse)
def reviews(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    today = utcnow().date()
    view = read_view(request, REVIEW_LIST)
    rows = review_rows(session, today=today, due_within_days=state.settings.review_due_soon_days)
    scores = {
        row.entry.id: service_score(state.catalogue.get(row.entry.service_id)).score
        if row.entry.service_id
        else None
        for row in rows
    }

    def risk_of(row: ReviewRow) -> int | None:
        return scores[row.entry.id]

    keys = {
        "due": lambda row: (row.days, row.entry.register_id),
        "register_id": lambda row: row.entry.register_id,
        "title": lambda row: row.entry.title.lower(),
        "status": lambda row: row.entry.status,
        "risk": risk_of,
        "triggers": lambda row: len(row.triggers),
    }
    page = view.show(lambda wanted: page_in_memory(rows, wanted, keys))
    return render_page(
        state,
        request,
        "reviews/reviews.html",
        who,
        page=page,
        view=view,
        rows=page.rows,
        scores=scores,
        window=state.settings.review_due_soon_days,
        suppliers=supplier_rows(session),
        today=today,
    )
