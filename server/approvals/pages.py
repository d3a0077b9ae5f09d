"""Approval route pages: the routes and the form that adds one (admins), and the sign-off an
approver gives from an entry's page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from collector.store import approvals as approvals_store
from collector.store.register import FIELDS
from server.approvals import service
from server.web.deps import Admin, DbSession, RowId, State, Viewer
from server.web.rendering import Csrf, check_csrf, render_page, see_other

router = APIRouter(include_in_schema=False)


@router.get("/approval-routes", response_class=HTMLResponse)
def routes_page(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    return render_page(
        state,
        request,
        "approvals/routes.html",
        who,
        routes=approvals_store.list_routes(session),
        kinds=service.ASSESSMENT_KINDS,
        risk_field=FIELDS["risk_level"],
        data_field=FIELDS["data_classes"],
    )


@router.post("/approval-routes")
async def routes_create(request: Request, session: DbSession, who: Admin) -> Response:
    form = await request.form(max_files=0, max_fields=80)
    check_csrf(who, str(form.get("csrf", "")))
    service.save_route(
        session,
        actor=who.user.username,
        name=str(form.get("name", "")),
        risk_levels=[str(v) for v in form.getlist("risk_levels")],
        data_classes=[str(v) for v in form.getlist("data_classes")],
        personal_data=form.get("personal_data") == "on",
        customer_facing=form.get("customer_facing") == "on",
        decision_support=form.get("decision_support") == "on",
        suppliers=str(form.get("suppliers", "")).splitlines(),
        assessments_needed=[str(v) for v in form.getlist("assessments")],
        approvers=str(form.get("approvers", "")).splitlines(),
        mode=str(form.get("mode", "sequential")),
    )
    return see_other("/approval-routes")


@router.post("/approval-routes/{route_id}/active")
def routes_toggle(
    route_id: RowId,
    session: DbSession,
    who: Admin,
    csrf: Csrf,
    active: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    check_csrf(who, csrf)
    route = approvals_store.get_route(session, route_id=route_id)
    values = service.route_snapshot(route)
    values["assessments_needed"] = values.pop("assessments")
    values["active"] = active == "true"
    service.save_route(session, actor=who.user.username, route_id=route_id, **values)
    return see_other("/approval-routes")


@router.post("/register/{register_id}/signoffs")
def entry_sign_off(
    register_id: Annotated[str, Path(max_length=16)],
    session: DbSession,
    who: Viewer,
    csrf: Csrf,
    route_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    step: Annotated[int, Form(ge=0, le=9)],
    outcome: Annotated[str, Form(max_length=16)],
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    check_csrf(who, csrf)
    service.sign_off(
        session,
        actor=who.user.username,
        actor_role=who.user.role,
        register_id=register_id,
        route_id=route_id,
        step=step,
        outcome=outcome,
        comment=comment,
    )
    return see_other(f"/register/{register_id}")
