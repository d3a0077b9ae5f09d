"""Server-rendered pages: sign-in, the draft inventory, an item's evidence, hosts."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from collector.store import audit, triage, users
from collector.store import hosts as hosts_store
from collector.store import inventory as inventory_store
from collector.store.base import utcnow
from collector.store.register import RegisterEntry
from collector.store.users import User
from server.deps import SESSION_COOKIE, DbSession, RowId, SignedIn, State, Viewer
from server.errors import CsrfFailed
from server.passwords import verify_password
from server.register import states
from server.register.evidence import summarise, user_display

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "shadowmap_login_csrf"


def _page(
    state: State,
    request: Request,
    name: str,
    who: SignedIn | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    context.update(
        request=request,
        user=who.user if who else None,
        csrf_token=who.web_session.csrf_token if who else "",
        can_edit=bool(who and who.user.role in ("reviewer", "admin")),
    )
    context.setdefault("show_user", user_display(state.settings.user_pseudonym_key))
    return state.templates.TemplateResponse(request, name, context, status_code=status)


def check_csrf(who: SignedIn, token: str) -> None:
    if not hmac.compare_digest(who.web_session.csrf_token, token):
        raise CsrfFailed()


@router.get("/", response_class=HTMLResponse)
def home(_who: Viewer) -> Response:
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, state: State) -> Response:
    token = secrets.token_urlsafe(24)
    response = _page(state, request, "login.html", None, login_csrf=token, error=None)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=state.settings.cookies_secure(),
        max_age=3600,
    )
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: DbSession,
    state: State,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form(max_length=64)],
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf):
        raise CsrfFailed()
    user = users.get_user_by_username(session, username=username)
    if not verify_password(password, user.password_hash if user else None) or (
        user is None or user.disabled
    ):
        return _page(
            state,
            request,
            "login.html",
            None,
            status=401,
            login_csrf=csrf,
            error="Wrong username or password.",
        )
    user.last_login_at = utcnow()
    _web_session, token = users.create_web_session(
        session, user=user, lifetime=dt.timedelta(hours=state.settings.session_hours)
    )
    response = RedirectResponse("/inventory", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=state.settings.cookies_secure(),
        max_age=state.settings.session_hours * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request, session: DbSession, who: Viewer, csrf: Annotated[str, Form(max_length=64)]
) -> Response:
    check_csrf(who, csrf)
    users.delete_web_session(session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/inventory", response_class=HTMLResponse)
def inventory(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    # False positives are suppressed: hidden here (their rules are listed under /suppressions).
    rows = [
        row
        for row in inventory_store.list_inventory(session)
        if row.item.state != states.FALSE_POSITIVE
    ]
    return _page(state, request, "inventory.html", who, rows=rows)


@router.get("/inventory/{item_id}", response_class=HTMLResponse)
def inventory_item(
    item_id: RowId, request: Request, session: DbSession, state: State, who: Viewer
) -> Response:
    item = inventory_store.get_inventory_item(session, item_id=item_id)
    sightings = inventory_store.list_sightings(session, item_id=item_id)
    catalogue_entry = state.catalogue.get(item.service_id) if item.service_id else None
    show_user = user_display(state.settings.user_pseudonym_key)
    record = triage.get_triage_record(session, item_id=item_id)
    entry = (
        session.get(RegisterEntry, record.register_entry_id) if record.register_entry_id else None
    )
    assignee = session.get(User, record.assignee_id) if record.assignee_id else None
    return _page(
        state,
        request,
        "item.html",
        who,
        item=item,
        sightings=sightings,
        service=catalogue_entry,
        summary=summarise(sightings, show_user),
        record=record,
        entry=entry,
        assignee=assignee,
        targets=[
            t
            for t in states.triage_targets(item.state)
            if t not in (states.PROMOTED, states.MERGED)
        ],
        can_promote=states.PROMOTED in states.triage_targets(item.state),
        can_merge=states.MERGED in states.triage_targets(item.state),
        reviewers=[u for u in users.list_users(session) if u.role != "viewer" and not u.disabled],
        comments=triage.list_comments(session, item_id=item_id),
        history=audit.list_audit_events(
            session, object_type="item", object_id=str(item_id), limit=50
        ),
        reason_required=states.TRIAGE_REASON_REQUIRED,
    )


@router.get("/hosts", response_class=HTMLResponse)
def hosts(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    rows = hosts_store.list_hosts(
        session, stale_after=dt.timedelta(minutes=state.settings.stale_after_minutes)
    )
    return _page(state, request, "hosts.html", who, rows=rows)


@router.get("/hosts/{host_id}", response_class=HTMLResponse)
def host_detail(
    host_id: RowId, request: Request, session: DbSession, state: State, who: Viewer
) -> Response:
    host = hosts_store.get_host(session, host_id=host_id)
    sightings = inventory_store.list_sightings(session, host_id=host_id)
    items = {
        sighting.item_id: inventory_store.get_inventory_item(session, item_id=sighting.item_id)
        for sighting, _host in sightings
    }
    return _page(state, request, "host.html", who, host=host, sightings=sightings, items=items)
