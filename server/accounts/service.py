"""Local accounts: sign-in and sign-out, and the user management the UI and the CLI share.

Every change to an account appends one audit event, in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from collector.db import transaction
from collector.errors import Conflict
from collector.store import users
from collector.store.base import utcnow
from collector.store.users import User
from server.accounts import throttle
from server.accounts.passwords import generate_password, hash_password, verify_password
from server.accounts.roles import ROLES
from server.accounts.throttle import LoginLimits
from server.audit.service import record_change
from server.errors import GuardFailed

USERNAME_RULE = "1-64 letters, digits, '.', '-' or '_'"


# Sessions ------------------------------------------------------------------------------------


def sign_in(
    sessions: sessionmaker[Session],
    *,
    username: str,
    password: str,
    source: str,
    lifetime: dt.timedelta,
    limits: LoginLimits,
    allowed: Callable[[User], bool] = lambda _user: True,
) -> str | None:
    """Open a browser session for an active account; return its token, or None when the
    username, the password, the account's state or ``allowed`` does not let this person in.

    Failures count against the account and the address ``source`` (throttle module).
    Raises SignInLocked (before any password check) when either is locked, or when this
    failure locked the account.
    """
    with transaction(sessions) as session:
        throttle.check(session, username=username, source=source)
    with transaction(sessions) as session:
        user = users.get_user_by_username(session, username=username)
        if (
            verify_password(password, user.password_hash if user else None)
            and user is not None
            and not user.disabled
            and allowed(user)
        ):
            user.last_login_at = utcnow()
            throttle.record_success(session, username=username)
            _web_session, token = users.create_web_session(session, user=user, lifetime=lifetime)
            return token
    with transaction(sessions) as session:
        lock = throttle.record_failure(session, username=username, source=source, limits=limits)
    if lock is not None:
        raise lock
    return None


def unlock_sign_in(session: Session, *, actor: str, username: str) -> None:
    """Lift the sign-in lock and forget the failed sign-ins of an account name (audited)."""
    throttle.record_success(session, username=username)
    record_change(
        session,
        actor=actor,
        action="login.unlocked",
        object_type="user",
        object_id=username[:64],
        before=None,
        after={"unlocked": True},
    )


def sign_out(session: Session, *, token: str) -> None:
    """End the browser session holding ``token``."""
    users.delete_web_session(session, token=token)


# Users ---------------------------------------------------------------------------------------


def _user_snapshot(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "disabled": user.disabled,
        "email": user.email,
    }


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise GuardFailed("role", f"must be one of {', '.join(ROLES)}")


def check_username(username: str) -> str:
    """Return the username stripped; raises GuardFailed unless it follows USERNAME_RULE."""
    username = username.strip()
    if (
        not username
        or len(username) > 64
        or not username.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise GuardFailed("username", USERNAME_RULE)
    return username


_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,24}$")


def check_email(email: str) -> str:
    """Return an account's email address ("" for none); raises GuardFailed."""
    email = email.strip()
    if email and not _EMAIL.fullmatch(email):
        raise GuardFailed("email", "not an email address (name@domain.tld)")
    return email


def create_user(
    session: Session,
    *,
    actor: str,
    username: str,
    role: str,
    password: str | None,
    email: str = "",
) -> tuple[User, str]:
    """Create a local account (its email receives the reminders of the register entries it
    owns); return it and its password (generated when not given).

    Raises GuardFailed, Conflict.
    """
    _check_role(role)
    username = check_username(username)
    email = check_email(email)
    password = generate_password() if password is None else password
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise GuardFailed("password", str(exc)) from exc
    user = users.create_user(session, username=username, password_hash=password_hash, role=role)
    user.email = email
    record_change(
        session,
        actor=actor,
        action="user.create",
        object_type="user",
        object_id=user.id,
        before=None,
        after=_user_snapshot(user),
    )
    return user, password


def _keep_an_admin(session: Session, user: User, *, role: str, disabled: bool) -> None:
    losing_admin = user.role == "admin" and not user.disabled and (role != "admin" or disabled)
    if losing_admin and users.count_active_admins(session) <= 1:
        raise Conflict("the last active admin cannot be demoted or disabled")


def update_user(
    session: Session,
    *,
    actor: str,
    user_id: int,
    role: str | None = None,
    disabled: bool | None = None,
    email: str | None = None,
) -> User:
    """Change a user's role or disable/enable them; raises NotFound, GuardFailed, Conflict."""
    user = users.get_user(session, user_id=user_id)
    new_role = role if role is not None else user.role
    new_disabled = disabled if disabled is not None else user.disabled
    _check_role(new_role)
    if user.username == actor and new_disabled:
        raise GuardFailed("disabled", "you cannot disable your own account")
    _keep_an_admin(session, user, role=new_role, disabled=new_disabled)
    before = _user_snapshot(user)
    user.role = new_role
    user.disabled = new_disabled
    if email is not None:
        user.email = check_email(email)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="user.update",
        object_type="user",
        object_id=user.id,
        before=before,
        after=_user_snapshot(user),
    )
    return user


def reset_password(session: Session, *, actor: str, user_id: int) -> str:
    """Give a user a new generated password (shown once); raises NotFound."""
    user = users.get_user(session, user_id=user_id)
    password = generate_password()
    user.password_hash = hash_password(password)
    # Whoever held the old password (or a session opened with it) is signed out, and the
    # account's sign-in lock, if any, is lifted: the admin vouches for the new password.
    ended = users.end_user_sessions(session, user_id=user.id)
    throttle.record_success(session, username=user.username)
    record_change(
        session,
        actor=actor,
        action="user.reset_password",
        object_type="user",
        object_id=user.id,
        before=None,
        after={"password_reset": True, "sessions_ended": ended},
    )
    return password
