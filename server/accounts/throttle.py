"""Sign-in throttling: failed sign-ins counted per account and per client address (in the
database, so every server replica sees them), lockouts with a clear message and an audit
event, and a bound on the password checks running at once (argon2 takes 64 MiB each).

Tried in this order, so that a locked key costs no password check:
``check`` (is the account or the address locked?) -> password check (one of
``login_concurrency`` slots) -> ``record_failure`` or ``record_success``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy.orm import Session

from collector.store import users
from collector.store.base import utcnow
from server.audit.service import record_change
from server.config import ServerSettings
from server.errors import RateLimited


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Failures per account and per address in ``window`` that lock it for ``lockout``."""

    per_account: int
    per_source: int
    window: dt.timedelta
    lockout: dt.timedelta

    @classmethod
    def of(cls, settings: ServerSettings) -> LoginLimits:
        return cls(
            per_account=settings.login_max_failures,
            per_source=settings.login_max_failures_per_source,
            window=dt.timedelta(minutes=settings.login_failure_window_minutes),
            lockout=dt.timedelta(minutes=settings.login_lockout_minutes),
        )


class SignInLocked(RateLimited):
    """Sign-in is locked for this account or this address (``scope``) for a while."""

    def __init__(self, scope: str, until: dt.datetime) -> None:
        self.scope = scope
        self.until = until
        wait = max(1.0, (until - utcnow()).total_seconds())
        super().__init__(wait)
        minutes = math.ceil(wait / 60)
        whose = "this account" if scope == "account" else "your address"
        self.message = (
            f"Too many failed sign-ins for {whose}; sign-in is locked for "
            f"{minutes} more minute{'s' if minutes != 1 else ''}."
        )
        self.args = (self.message,)


def account_key(username: str) -> str:
    return f"user:{username.strip().lower()[:64]}"


def source_key(source: str) -> str:
    return f"ip:{source[:64]}"


def check(session: Session, *, username: str, source: str) -> None:
    """Raise SignInLocked when the account or the address is locked now."""
    keys = {account_key(username): "account", source_key(source): "source"}
    locked = users.login_locked_until(session, keys=list(keys))
    for key, scope in keys.items():
        if key in locked:
            raise SignInLocked(scope, locked[key])


def record_failure(
    session: Session, *, username: str, source: str, limits: LoginLimits
) -> SignInLocked | None:
    """Count a failed sign-in for the account and the address; audit and return the lock this
    failure set, if any (the account's first)."""
    new_lock: SignInLocked | None = None
    for key, scope, maximum in (
        (account_key(username), "account", limits.per_account),
        (source_key(source), "source", limits.per_source),
    ):
        failures, until = users.count_login_failure(
            session, key=key, window=limits.window, max_failures=maximum, lockout=limits.lockout
        )
        if until is None:
            continue
        record_change(
            session,
            actor=f"sign-in from {source}"[:64],
            action="login.locked",
            object_type="user" if scope == "account" else "client_address",
            object_id=key.partition(":")[2][:64],
            before=None,
            after={"failures": failures, "locked_until": until.isoformat(), "scope": scope},
        )
        new_lock = new_lock or SignInLocked(scope, until)
    return new_lock


def record_success(session: Session, *, username: str) -> None:
    """Forget the account's failed sign-ins (the address's are kept: one good password must
    not reset an attacker's count)."""
    users.clear_login_failures(session, key=account_key(username))
