"""Single sign-on as the pages use it: start a sign-in, finish it (check everything, map the
groups to a role, create or update the just-in-time user, open the browser session), end
sessions the provider ended, and say who may still use a local password.

Users made here have no usable password (their hash is not an argon2 hash), so they can only
come in through the provider. A provider subject is tied to one local user by
``sso_identities``; a username that already belongs to a local account is never taken over.
Every user creation and role change is in the audit trail, with the provider as the actor.
"""

from __future__ import annotations

import datetime as dt
import hmac
import html
import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from collector.db import transaction
from collector.store import sso, users
from collector.store.base import utcnow
from collector.store.users import User
from server.accounts.roles import ROLES, role_allows
from server.accounts.service import USERNAME_RULE, check_username
from server.audit.service import record_change
from server.config import ServerSettings
from server.errors import GuardFailed, SettingsError
from server.sso.errors import SsoNotAllowed, SsoRefused
from server.sso.oidc import OidcClient, ProviderConfig

log = logging.getLogger(__name__)

#: How long a sign-in may stay at the provider before its state is forgotten.
LOGIN_LIFETIME = dt.timedelta(minutes=10)
#: Stored instead of a password hash: never verifies, so the account has no local password.
NO_PASSWORD = "!sso"  # noqa: S105 (a marker, not a password)
SSO_ACTOR = "sso"


def enabled(settings: ServerSettings) -> bool:
    return bool(settings.sso_issuer and settings.sso_client_id)


def provider_config(settings: ServerSettings) -> ProviderConfig:
    """The relying party's configuration from the settings; raises SettingsError."""
    if not enabled(settings):
        raise SettingsError("single sign-on needs sso_issuer and sso_client_id")
    if not settings.public_url:
        raise SettingsError("single sign-on needs public_url (the callback address)")
    if settings.sso_client_secret is not None and settings.sso_client_secret_file is not None:
        raise SettingsError("set one of 'sso_client_secret' and 'sso_client_secret_file'")
    secret: str | None = None
    if settings.sso_client_secret_file is not None:
        try:
            secret = settings.sso_client_secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(
                f"invalid setting 'sso_client_secret_file': {exc.strerror}"
            ) from exc
    elif settings.sso_client_secret is not None:
        secret = settings.sso_client_secret.get_secret_value()
    assert settings.sso_issuer is not None and settings.sso_client_id is not None
    return ProviderConfig(
        issuer=settings.sso_issuer,
        client_id=settings.sso_client_id,
        client_secret=secret,
        redirect_uri=f"{settings.public_url}/sso/callback",
        post_logout_redirect_uri=f"{settings.public_url}/login",
        scopes=settings.sso_scopes,
        clock_skew_seconds=settings.sso_clock_skew_seconds,
    )


_CLIENTS: dict[ProviderConfig, OidcClient] = {}


def client_for(settings: ServerSettings) -> OidcClient | None:
    """The relying party for these settings (one per configuration, so its discovery
    document and keys are fetched once), or None when single sign-on is off."""
    if not enabled(settings):
        return None
    config = provider_config(settings)
    client = _CLIENTS.get(config)
    if client is None:
        client = _CLIENTS[config] = OidcClient(config)
    return client


def sign_in_button(settings: ServerSettings) -> str | None:
    """The provider's name on the sign-in page, or None when single sign-on is off."""
    return settings.sso_display_name if enabled(settings) else None


def role_map(settings: ServerSettings) -> dict[str, str]:
    """Parse ``sso_role_map`` ('group=role,...'); raises SettingsError."""
    mapping: dict[str, str] = {}
    for item in settings.sso_role_map.split(","):
        if not item.strip():
            continue
        group, separator, role = item.rpartition("=")
        if not separator or not group.strip() or role.strip() not in ROLES:
            raise SettingsError(
                f"invalid setting 'sso_role_map': {item.strip()!r} is not group=role with a "
                f"role among {', '.join(ROLES)}"
            )
        mapping[group.strip()] = role.strip()
    return mapping


def role_for(settings: ServerSettings, claims: dict[str, object]) -> str:
    """The highest role the person's groups map to, else the default; raises SsoNotAllowed."""
    groups = claims.get(settings.sso_role_claim)
    if isinstance(groups, str):
        groups = [groups]
    names = (
        [group for group in groups if isinstance(group, str)] if isinstance(groups, list) else []
    )
    mapping = role_map(settings)
    roles = [mapping[name] for name in names if name in mapping]
    best = None
    for role in roles:
        if best is None or role_allows(role, best):
            best = role
    if best is None:
        best = settings.sso_default_role
    if best is None:
        raise SsoNotAllowed(
            f"none of your groups ({', '.join(names) or 'none'}) gives access to Shadowmap"
        )
    return best


def begin_login(sessions: sessionmaker[Session], client: OidcClient) -> tuple[str, str]:
    """Record a new sign-in; return the provider URL to send the browser to and the state
    (which the caller binds to the browser with a cookie)."""
    request = client.authorization_request()
    with transaction(sessions) as session:
        sso.create_login(
            session,
            state=request.state,
            nonce=request.nonce,
            code_verifier=request.code_verifier,
            lifetime=LOGIN_LIFETIME,
        )
    return request.url, request.state


@dataclass(frozen=True, slots=True)
class SignedIn:
    username: str
    role: str
    token: str  # the new browser session's cookie value


def finish_login(
    sessions: sessionmaker[Session],
    client: OidcClient,
    settings: ServerSettings,
    *,
    state: str,
    browser_state: str,
    code: str,
    lifetime: dt.timedelta,
) -> SignedIn:
    """Complete a sign-in from the provider's answer; raises SsoRefused, SsoNotAllowed,
    ProviderUnavailable.

    ``state`` must be the one this browser started (``browser_state``, from its cookie) and a
    live one: it is spent (committed) before anything else, so a replayed callback finds
    nothing. The code is exchanged with its PKCE verifier, outside any database transaction,
    and the ID token checked, nonce included.
    """
    if not state or not browser_state or not hmac.compare_digest(state, browser_state):
        raise SsoRefused("the sign-in's state does not match this browser's")
    with transaction(sessions) as session:
        login = sso.take_login(session, state=state)
        if login is None:
            raise SsoRefused("unknown, used or expired sign-in state")
        nonce, verifier = login.nonce, login.code_verifier
    token = client.exchange_code(code, code_verifier=verifier)
    identity = client.verify_id_token(token, nonce=nonce)
    role = role_for(settings, identity.claims)
    with transaction(sessions) as session:
        user = _user_for(
            session, settings, identity.issuer, identity.subject, identity.claims, role
        )
        if user.disabled:
            raise SsoNotAllowed("this account is disabled in Shadowmap")
        user.last_login_at = utcnow()
        web_session, cookie = users.create_web_session(session, user=user, lifetime=lifetime)
        sso.record_session(
            session,
            web_session=web_session,
            issuer=identity.issuer,
            subject=identity.subject,
            sid=identity.session_id,
        )
        return SignedIn(username=user.username, role=user.role, token=cookie)


def _username(settings: ServerSettings, claims: dict[str, object]) -> str:
    for name in (settings.sso_username_claim, "email"):
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            try:
                return check_username(value.strip())
            except GuardFailed as exc:
                raise SsoNotAllowed(
                    f"the provider's {name} {value!r} is not a usable username ({USERNAME_RULE})"
                ) from exc
    raise SsoNotAllowed(f"the ID token carries no {settings.sso_username_claim} or email")


def _user_for(
    session: Session,
    settings: ServerSettings,
    issuer: str,
    subject: str,
    claims: dict[str, object],
    role: str,
) -> User:
    """The local user of a provider subject: created on first sign-in, its role kept in
    step with the groups at every sign-in."""
    identity = sso.get_identity(session, issuer=issuer, subject=subject)
    if identity is not None:
        user = users.get_user(session, user_id=identity.user_id)
        identity.last_login_at = utcnow()
        if user.role != role:
            before = {"role": user.role}
            user.role = role
            record_change(
                session,
                actor=SSO_ACTOR,
                action="user.update",
                object_type="user",
                object_id=user.id,
                before=before,
                after={"role": role, "reason": f"groups at sign-in ({settings.sso_role_claim})"},
            )
        return user
    username = _username(settings, claims)
    if users.get_user_by_username(session, username=username) is not None:
        raise SsoNotAllowed(
            f"a local account named {username!r} already exists; an admin must rename or "
            f"remove it before {username!r} can sign in through the provider"
        )
    user = users.create_user(session, username=username, password_hash=NO_PASSWORD, role=role)
    sso.create_identity(session, user_id=user.id, issuer=issuer, subject=subject)
    record_change(
        session,
        actor=SSO_ACTOR,
        action="user.create",
        object_type="user",
        object_id=user.id,
        before=None,
        after={"username": username, "role": role, "issuer": issuer, "just_in_time": True},
    )
    return user


def end_provider_session(session: Session, client: OidcClient, *, logout_token: str) -> int:
    """Back-channel logout: check the provider's logout token and end the browser sessions
    of that provider session; return how many ended. Raises SsoRefused."""
    subject, sid = client.verify_logout_token(logout_token)
    ended = sso.end_provider_sessions(
        session, issuer=client.config.issuer, subject=subject, sid=sid
    )
    log.info("back-channel logout ended %d session(s)", ended)
    return ended


def logout_redirect(session: Session, client: OidcClient | None, *, token: str) -> str | None:
    """Where to send a browser that signs out: the provider's end-session endpoint when the
    session came from the provider (RP-initiated logout), else None."""
    if client is None or sso.get_session(session, token=token) is None:
        return None
    return client.end_session_url()


def continue_page(url: str) -> str:
    """A minimal page that sends the browser on to ``url`` (escaped)."""
    safe = html.escape(url, quote=True)
    return (
        f'<!doctype html><meta http-equiv="refresh" content="0;url={safe}">'
        f'<title>Signing out</title><a href="{safe}">Continue</a>'
    )


def local_login_allowed(settings: ServerSettings, user: User) -> bool:
    """Whether a local password sign-in may open a session for ``user``: always without
    single sign-on; with it, per ``sso_local_login`` (admins only by default: the break-glass
    account)."""
    if not enabled(settings) or settings.sso_local_login == "all":
        return True
    return user.role == "admin"
