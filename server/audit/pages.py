"""The audit trail page (filtered, paged) and its download."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from collector.store import audit as audit_store
from collector.store import inventory
from collector.store.base import utcnow
from server.audit.service import EXPORT_FORMATS, export_lines
from server.errors import GuardFailed
from server.web.deps import DbSession, State, Viewer
from server.web.listing import ListSpec, ListView, SortColumn, choice, read_view
from server.web.rendering import parse_day, render_page

router = APIRouter(include_in_schema=False)


AUDIT_LIST = ListSpec(
    path="/audit",
    noun=("event", "events"),
    sorts=(
        SortColumn("when", "When", descending_first=True),
        SortColumn("actor", "Who"),
        SortColumn("action", "What"),
        SortColumn("object", "Record"),
    ),
    default_sort="when",
    default_descending=True,
    filters=("actor", "object_type", "object_id", "since", "until"),
    page_sizes=(50, 100, 200),
    default_page_size=100,
)
RECORD_TYPES = ("item", "entry", "user", "suppression")


def _day(view: ListView, name: str, label: str) -> dt.datetime | None:
    try:
        return parse_day(view.filters[name], name)
    except GuardFailed:
        view.problem(f"{label} {view.filters[name][:20]!r} is not a date like 2026-11-27")
        view.filters[name] = ""
        return None


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    view = read_view(request, AUDIT_LIST)
    object_type = choice(view, "object_type", RECORD_TYPES, "record type")
    since = _day(view, "since", "from")
    until = _day(view, "until", "to")
    page = view.show(
        lambda wanted: audit_store.page_audit_events(
            session,
            page=wanted,
            actor=view.filters["actor"] or None,
            object_type=object_type or None,
            object_id=view.filters["object_id"] or None,
            since=since,
            until=until + dt.timedelta(days=1) if until else None,
        )
    )
    item_ids = [
        int(e.object_id) for e in page.rows if e.object_type == "item" and e.object_id.isdigit()
    ]
    return render_page(
        state,
        request,
        "audit/audit.html",
        who,
        page=page,
        view=view,
        events=page.rows,
        item_names=inventory.item_names(session, item_ids=item_ids),
        record_types=RECORD_TYPES,
        f=view.filters,
    )


@router.get("/audit/export")
def audit_export(
    session: DbSession,
    who: Viewer,
    format: Annotated[str, Query(pattern="^(jsonl|csv)$")] = "jsonl",
) -> Response:
    lines = export_lines(session, fmt=format)
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        lines,
        media_type=EXPORT_FORMATS[format],
        headers={"Content-Disposition": f'attachment; filename="shadowmap-audit-{stamp}.{format}"'},
    )
