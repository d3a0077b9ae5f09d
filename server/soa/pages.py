"""The Statement of Applicability page: every Annex A control reference, its applicability,
justification, status and evidence, with the crosswalk; admins decide a control."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from server.soa import service
from server.web.deps import Admin, DbSession, State, Viewer
from server.web.rendering import Csrf, check_csrf, render_page, see_other

router = APIRouter(include_in_schema=False)


@router.get("/soa", response_class=HTMLResponse)
def soa_page(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    return render_page(
        state,
        request,
        "soa/soa.html",
        who,
        rows=service.soa_rows(session),
        statuses=service.STATUSES,
        reference_url=service.reference_url,
    )


@router.post("/soa/{control_id}")
def soa_decide(
    control_id: Annotated[str, Path(max_length=16)],
    session: DbSession,
    who: Admin,
    csrf: Csrf,
    justification: Annotated[str, Form(max_length=4000)],
    status: Annotated[str, Form(max_length=24)],
    applicable: Annotated[str, Form(max_length=3)] = "",
    evidence_links: Annotated[str, Form(max_length=60_000)] = "",
) -> Response:
    check_csrf(who, csrf)
    service.decide_control(
        session,
        actor=who.user.username,
        control_id=control_id,
        applicable=applicable == "on",
        justification=justification,
        status=status,
        evidence_links=evidence_links.splitlines(),
    )
    return see_other(f"/soa#{control_id}")
