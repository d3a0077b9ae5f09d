"""The audit trail page (filtered, paged) and its download."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from collector.store import audit as audit_store
from collector.store.base import utcnow
from server.audit.service import EXPORT_FORMATS, export_lines
from server.web.deps import DbSession, State, Viewer
from server.web.rendering import parse_day, render_page

router = APIRouter(include_in_schema=False)


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    session: DbSession,
    state: State,
    who: Viewer,
    actor: Annotated[str, Query(max_length=64)] = "",
    object_type: Annotated[str, Query(max_length=32)] = "",
    object_id: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    until_at = parse_day(until, "until")
    events = audit_store.list_audit_events(
        session,
        actor=actor or None,
        object_type=object_type or None,
        object_id=object_id or None,
        since=parse_day(since, "since"),
        until=until_at + dt.timedelta(days=1) if until_at else None,
        limit=101,
        offset=(page - 1) * 100,
    )
    return render_page(
        state,
        request,
        "audit/audit.html",
        who,
        events=events[:100],
        more=len(events) > 100,
        page=page,
        f={
            "actor": actor,
            "object_type": object_type,
            "object_id": object_id,
            "since": since,
            "until": until,
        },
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
