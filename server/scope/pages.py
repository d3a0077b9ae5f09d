"""The scope page: the AIMS scope in force, its versions, how much discovered AI falls outside
it, and (for admins) the form that publishes a new version."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from collector.store import scope as scope_store
from collector.store.scope import AI_USE_KINDS
from server.scope import service
from server.web.deps import Admin, DbSession, State, Viewer
from server.web.rendering import check_csrf, render_page, see_other

router = APIRouter(include_in_schema=False)


@router.get("/scope", response_class=HTMLResponse)
def scope_page(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    return render_page(
        state,
        request,
        "scope/scope.html",
        who,
        coverage=service.scope_coverage(session),
        versions=scope_store.list_scope_versions(session),
        kinds=AI_USE_KINDS,
    )


@router.post("/scope")
async def scope_publish(request: Request, session: DbSession, who: Admin) -> Response:
    form = await request.form(max_files=0, max_fields=20)
    check_csrf(who, str(form.get("csrf", "")))
    service.publish_scope(
        session,
        actor=who.user.username,
        owner=str(form.get("owner", "")),
        business_units=str(form.get("business_units", "")).splitlines(),
        locations=str(form.get("locations", "")).splitlines(),
        ai_use_kinds=[str(kind) for kind in form.getlist("ai_use_kinds")],
        exclusions=str(form.get("exclusions", "")),
        rationale=str(form.get("rationale", "")),
    )
    return see_other("/scope")
