"""The management system page (objectives with targets and trends, links to every part of the
AIMS) and the printable management review pack (HTML, PDF)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from collector.store.base import utcnow
from server.errors import GuardFailed
from server.management_review import render, service
from server.scope.service import scope_coverage
from server.web.deps import Admin, DbSession, State, Viewer
from server.web.rendering import Csrf, check_csrf, render_page, see_other

router = APIRouter(include_in_schema=False)


@router.get("/management-review", response_class=HTMLResponse)
def review_page(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    return render_page(
        state,
        request,
        "management_review/review.html",
        who,
        objectives=service.objective_rows(session, today=utcnow().date()),
        coverage=scope_coverage(session),
    )


@router.post("/management-review/targets")
def review_target(
    session: DbSession,
    who: Admin,
    csrf: Csrf,
    measure: Annotated[str, Form(max_length=32)],
    target: Annotated[str, Form(max_length=20)],
) -> Response:
    check_csrf(who, csrf)
    try:
        value = float(target)
    except ValueError as exc:
        raise GuardFailed("target", "a number, e.g. 0.9 for 90%") from exc
    service.set_target(session, actor=who.user.username, measure=measure, target=value)
    return see_other("/management-review")


@router.post("/management-review/measure")
def review_measure(session: DbSession, who: Admin, csrf: Csrf) -> Response:
    check_csrf(who, csrf)
    service.record_measurements(session, actor=who.user.username, now=utcnow())
    return see_other("/management-review")


@router.post("/management-review/print", response_class=HTMLResponse)
def review_print(session: DbSession, who: Admin, csrf: Csrf) -> Response:
    """Take today's measurements (a trend point), show the pack and record that it was printed
    (the next pack lists what changed since)."""
    check_csrf(who, csrf)
    now = utcnow()
    service.record_measurements(session, actor=who.user.username, now=now)
    review = service.build_review(session, now=now)
    service.note_printed(session, actor=who.user.username, review=review)
    return HTMLResponse(
        render.render_html(review), headers={"Content-Security-Policy": render.PACK_CSP}
    )


@router.get("/management-review/pack.{fmt}")
def review_pack(
    fmt: Annotated[str, Path(pattern="^(html|pdf)$")], session: DbSession, who: Viewer
) -> Response:
    review = service.build_review(session, now=utcnow())
    if fmt == "pdf":
        return Response(
            render.render_pdf(review),
            media_type="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="management-review.pdf"'},
        )
    return HTMLResponse(
        render.render_html(review), headers={"Content-Security-Policy": render.PACK_CSP}
    )
