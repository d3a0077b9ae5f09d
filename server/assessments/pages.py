"""Assessment pages: the form that records one for an entry (its template's questions), one
assessment, and the template editor (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from collector.store import assessments as assessments_store
from collector.store import register
from server.approvals.service import ASSESSMENT_KINDS
from server.assessments import service
from server.errors import GuardFailed
from server.web.deps import Admin, DbSession, Reviewer, RowId, State, Viewer
from server.web.rendering import check_csrf, render_page, see_other

router = APIRouter(include_in_schema=False)
_KIND = "^(" + "|".join(ASSESSMENT_KINDS) + ")$"


@router.get("/assessments/new", response_class=HTMLResponse)
def new_assessment(
    request: Request,
    session: DbSession,
    state: State,
    who: Reviewer,
    register_id: Annotated[str, Query(max_length=16)],
    kind: Annotated[str, Query(pattern=_KIND)],
) -> Response:
    entry = register.get_register_entry(session, register_id=register_id)
    return render_page(
        state,
        request,
        "assessments/new.html",
        who,
        entry=entry,
        kind=kind,
        label=ASSESSMENT_KINDS[kind],
        questions=service.questions_for(session, kind=kind),
        yes_no=kind == "dpia_screening",
    )


@router.post("/assessments")
async def record_assessment(request: Request, session: DbSession, who: Reviewer) -> Response:
    form = await request.form(max_files=0, max_fields=service.MAX_QUESTIONS + 10)
    check_csrf(who, str(form.get("csrf", "")))
    register_id = str(form.get("register_id", ""))[:16]
    count = len(service.questions_for(session, kind=str(form.get("kind", ""))))
    item = service.record_assessment(
        session,
        actor=who.user.username,
        register_id=register_id,
        kind=str(form.get("kind", "")),
        answers=[str(form.get(f"answer-{n}", "")) for n in range(count)],
        outcome=str(form.get("outcome", "")),
    )
    return see_other(f"/register/{item.register_id}#assessments")


@router.get("/assessments/{assessment_id}", response_class=HTMLResponse)
def assessment_page(
    assessment_id: RowId, request: Request, session: DbSession, state: State, who: Viewer
) -> Response:
    item = assessments_store.get_assessment(session, assessment_id=assessment_id)
    return render_page(
        state,
        request,
        "assessments/assessment.html",
        who,
        item=item,
        label=ASSESSMENT_KINDS[item.kind],
    )


@router.get("/assessment-templates/{kind}", response_class=HTMLResponse)
def template_page(
    kind: Annotated[str, Path(pattern=_KIND)],
    request: Request,
    session: DbSession,
    state: State,
    who: Admin,
) -> Response:
    return render_page(
        state,
        request,
        "assessments/template.html",
        who,
        kind=kind,
        label=ASSESSMENT_KINDS[kind],
        questions=service.questions_for(session, kind=kind),
    )


@router.post("/assessment-templates/{kind}")
async def template_save(
    kind: Annotated[str, Path(pattern=_KIND)], request: Request, session: DbSession, who: Admin
) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    check_csrf(who, str(form.get("csrf", "")))
    text = str(form.get("questions", ""))
    if len(text) > 20_000:
        raise GuardFailed("questions", "at most 20,000 characters")
    service.save_template(session, actor=who.user.username, kind=kind, questions=text.splitlines())
    return see_other(f"/assessment-templates/{kind}")
