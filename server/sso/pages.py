"""Single sign-on routes: start a sign-in at the provider, take its answer back, and let the
provider end sessions (back-channel logout). All are public: the provider's answer and its
logout token are what authenticate them, checked in server/sso/."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from collector.errors import NotFound
from server.sso import service
from server.sso.errors import ProviderUnavailable, SsoError, SsoNotAllowed, SsoRefused
from server.sso.oidc import OidcClient
from server.state import AppState
from server.web.deps import SESSION_COOKIE, DbSession, State
from server.web.rendering import render_page

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
#: Binds a sign-in to the browser that started it (login CSRF): holds its state.
STATE_COOKIE = "shadowmap_sso_state"


def oidc_client(state: AppState) -> OidcClient:
    """The application's relying party; 404 when single sign-on is off."""
    client = service.client_for(state.settings)
    if client is None:
        raise NotFound("single sign-on", "off")
    return client


def _refused(request: Request, state: AppState, error: SsoError) -> HTMLResponse:
    status = (
        403
        if isinstance(error, SsoNotAllowed)
        else 502
        if isinstance(error, ProviderUnavailable)
        else 400
    )
    log.warning("single sign-on refused: %s", error.reason)
    response = render_page(
        state,
        request,
        "accounts/login.html",
        None,
        status=status,
        login_csrf="",
        error=f"Single sign-on failed: {error.reason}",
        sso_name=state.settings.sso_display_name,
    )
    response.delete_cookie(STATE_COOKIE, path="/sso")
    return response


@router.get("/sso/login")
def sso_login(request: Request, state: State) -> Response:
    client = oidc_client(state)
    try:
        url, login_state = service.begin_login(state.sessions, client)
    except SsoError as exc:
        return _refused(request, state, exc)
    response = RedirectResponse(url, status_code=303)
    # Lax, not strict: the provider sends the browser back with a cross-site navigation.
    response.set_cookie(
        STATE_COOKIE,
        login_state,
        httponly=True,
        samesite="lax",
        secure=state.settings.cookies_secure(),
        max_age=int(service.LOGIN_LIFETIME.total_seconds()),
        path="/sso",
    )
    return response


@router.get("/sso/callback", response_class=HTMLResponse)
def sso_callback(
    request: Request,
    state: State,
    code: Annotated[str, Query(max_length=2048)] = "",
    login_state: Annotated[str, Query(alias="state", max_length=256)] = "",
    error: Annotated[str, Query(max_length=256)] = "",
    issuer: Annotated[str, Query(alias="iss", max_length=2048)] = "",
) -> Response:
    client = oidc_client(state)
    if error:
        return _refused(request, state, SsoNotAllowed(f"the provider answered {error!r}"))
    if issuer and issuer != client.config.issuer:
        # RFC 9207: an answer that names another issuer is a mix-up attack.
        return _refused(request, state, SsoRefused("the answer names another issuer"))
    try:
        signed_in = service.finish_login(
            state.sessions,
            client,
            state.settings,
            state=login_state,
            browser_state=request.cookies.get(STATE_COOKIE, ""),
            code=code,
            lifetime=dt.timedelta(hours=state.settings.session_hours),
        )
    except SsoError as exc:
        return _refused(request, state, exc)
    # A page of our own moves on to the inventory: the session cookie is SameSite=Strict,
    # and a redirect straight from the provider's navigation would not carry it.
    response = HTMLResponse(
        '<!doctype html><meta http-equiv="refresh" content="0;url=/inventory">'
        '<title>Signed in</title><a href="/inventory">Continue</a>'
    )
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        httponly=True,
        samesite="strict",
        secure=state.settings.cookies_secure(),
        max_age=state.settings.session_hours * 3600,
    )
    response.delete_cookie(STATE_COOKIE, path="/sso")
    return response


@router.post("/sso/backchannel-logout")
def sso_backchannel_logout(
    request: Request,
    session: DbSession,
    state: State,
    logout_token: Annotated[str, Form(max_length=16384)],
) -> Response:
    client = oidc_client(state)
    try:
        service.end_provider_session(session, client, logout_token=logout_token)
    except SsoError as exc:
        log.warning("back-channel logout refused: %s", exc.reason)
        return Response(
            '{"error":"invalid_request"}', status_code=400, media_type="application/json"
        )
    # Back-Channel Logout 1.0, section 2.8: 200 and no caching.
    return Response(status_code=200, headers={"Cache-Control": "no-store"})
