"""Pages of local accounts: sign-in, sign-out and user management (admins)."""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import math
import secrets
from functools import partial
from typing import Annotated

import anyio
from anyio import to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from collector.errors import Conflict
from collector.store import users as users_store
from server.accounts import service
from server.accounts.roles import ROLES
from server.accounts.throttle import LoginLimits, SignInLocked
from server.errors import CsrfFailed, GuardFailed
from server.sso import service as sso_service
from server.state import AppState
from server.web.deps import SESSION_COOKIE, Admin, DbSession, RowId, SignedIn, State, Viewer
from server.web.listing import ListSpec, SortColumn, choice, page_in_memory, read_view
from server.web.rendering import Csrf, check_csrf, render_page, see_other

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "shadowmap_login_csrf"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, state: State) -> Response:
    token = secrets.token_urlsafe(24)
    response = render_page(
        state,
        request,
        "accounts/login.html",
        None,
        login_csrf=token,
        error=None,
        sso_name=sso_service.sign_in_button(state.settings),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=state.settings.cookies_secure(),
        max_age=3600,
    )
    return response


#: How long a sign-in waits for a password-check slot before it is told to retry.
LOGIN_SLOT_WAIT_SECONDS = 10.0


def _login_page(
    request: Request, state: AppState, csrf: str, error: str, status: int
) -> HTMLResponse:
    return render_page(
        state,
        request,
        "accounts/login.html",
        None,
        status=status,
        login_csrf=csrf,
        error=error,
        sso_name=sso_service.sign_in_button(state.settings),
    )


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    state: State,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form(max_length=64)],
) -> Response:
    """Sign in with a local password: throttled per account and per address, and at most
    login_concurrency password checks at once (each waits its turn without a thread)."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf):
        raise CsrfFailed()
    source = request.client.host if request.client else "unknown"
    slots = state.login_slots()
    acquired = False
    with anyio.move_on_after(LOGIN_SLOT_WAIT_SECONDS):
        await slots.acquire()
        acquired = True
    response: Response
    if not acquired:
        response = _login_page(
            request, state, csrf, "Too many sign-ins at once; try again in a minute.", 429
        )
        response.headers["Retry-After"] = "60"
        return response
    try:
        token = await to_thread.run_sync(
            partial(
                service.sign_in,
                state.sessions,
                username=username,
                password=password,
                source=source,
                lifetime=dt.timedelta(hours=state.settings.session_hours),
                limits=LoginLimits.of(state.settings),
                # With single sign-on, a local password opens only the break-glass account.
                allowed=partial(sso_service.local_login_allowed, state.settings),
            )
        )
    except SignInLocked as locked:
        log.warning("sign-in refused for %r from %s: %s", username, source, locked.message)
        response = _login_page(request, state, csrf, locked.message, 429)
        response.headers["Retry-After"] = str(max(1, math.ceil(locked.retry_after)))
        return response
    finally:
        slots.release()
    if token is None:
        return _login_page(request, state, csrf, "Wrong username or password.", 401)
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
def logout(request: Request, session: DbSession, state: State, who: Viewer, csrf: Csrf) -> Response:
    check_csrf(who, csrf)
    token = request.cookies.get(SESSION_COOKIE, "")
    # A session from the provider also ends the provider's session (RP-initiated logout).
    target = sso_service.logout_redirect(
        session, sso_service.client_for(state.settings), token=token
    )
    service.sign_out(session, token=token)
    response: Response = RedirectResponse("/login", status_code=303)
    if target:
        # A page that moves on to the provider: the CSP's form-action 'self' stops a form's
        # redirect to another origin, a navigation of our own page is not.
        response = HTMLResponse(sso_service.continue_page(target))
    response.delete_cookie(SESSION_COOKIE)
    return response


# Users ---------------------------------------------------------------------------------------


USER_LIST = ListSpec(
    path="/admin/users",
    noun=("user", "users"),
    sorts=(
        SortColumn("username", "User"),
        SortColumn("role", "Role"),
        SortColumn("status", "Status"),
        SortColumn("last_login", "Last sign-in", descending_first=True),
    ),
    default_sort="username",
    filters=("q", "role", "status", "saved"),
)
USER_SAVED = {"updated": "User updated."}


def _users_page(
    state: AppState,
    request: Request,
    session: Session,
    who: SignedIn,
    new_password: tuple[str, str] | None,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> HTMLResponse:
    """The user list; ``new_password`` (username, password) is shown once, after a change."""
    view = read_view(request, USER_LIST)
    role = choice(view, "role", ROLES, "role")
    active = choice(view, "status", ("active", "disabled"), "status")
    needle = view.filters["q"].lower()
    rows = [
        user
        for user in users_store.list_users(session)
        if (not role or user.role == role)
        and (not active or user.disabled == (active == "disabled"))
        and needle in user.username.lower()
    ]
    keys = {
        "username": lambda user: user.username.lower(),
        "role": lambda user: (user.role, user.username.lower()),
        "status": lambda user: (user.disabled, user.username.lower()),
        "last_login": lambda user: user.last_login_at,
    }
    page = view.show(lambda wanted: page_in_memory(rows, wanted, keys))
    saved = USER_SAVED.get(view.filters["saved"], "")
    view.filters["saved"] = ""
    return render_page(
        state,
        request,
        "accounts/users.html",
        who,
        status=status,
        page=page,
        view=view,
        f=view.filters,
        users=page.rows,
        roles=ROLES,
        new_password=new_password,
        saved=saved,
        errors=errors or {},
        typed=typed or {},
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, session: DbSession, state: State, who: Admin) -> Response:
    return _users_page(state, request, session, who, new_password=None)


@router.post("/admin/users", response_class=HTMLResponse)
def users_create(
    request: Request,
    session: DbSession,
    state: State,
    who: Admin,
    csrf: Csrf,
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=16)],
) -> Response:
    check_csrf(who, csrf)
    try:
        user, password = service.create_user(
            session, actor=who.user.username, username=username, role=role, password=None
        )
    except (GuardFailed, Conflict) as exc:
        field = exc.field if isinstance(exc, GuardFailed) else "username"
        reason = exc.reason
        return _users_page(
            state,
            request,
            session,
            who,
            new_password=None,
            status=422 if isinstance(exc, GuardFailed) else 409,
            errors={field if field in ("username", "role") else "username": reason},
            typed={"username": username, "role": role},
        )
    # The password is shown once, in this response, and never stored in clear.
    return _users_page(state, request, session, who, new_password=(user.username, password))


@router.post("/admin/users/{user_id}")
def users_update(
    user_id: RowId,
    session: DbSession,
    who: Admin,
    csrf: Csrf,
    role: Annotated[str, Form(max_length=16)] = "",
    disabled: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    check_csrf(who, csrf)
    service.update_user(
        session,
        actor=who.user.username,
        user_id=user_id,
        role=role or None,
        disabled={"true": True, "false": False}.get(disabled),
    )
    return see_other("/admin/users?saved=updated")


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
def users_reset_password(
    user_id: RowId, request: Request, session: DbSession, state: State, who: Admin, csrf: Csrf
) -> Response:
    check_csrf(who, csrf)
    password = service.reset_password(session, actor=who.user.username, user_id=user_id)
    user = users_store.get_user(session, user_id=user_id)
    return _users_page(state, request, session, who, new_password=(user.username, password))
