"""People who sign in: users and their browser sessions. Keyword-only; the caller owns the
transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    case,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from collector.credentials import hash_secret, new_secret
from collector.errors import Conflict, NotFound
from collector.store.base import Base, UTCDateTime, dialect_insert, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # admin | reviewer | viewer
    # Where review reminders for the entries they own are sent; "" for none.
    email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A signed-in browser session; only the hash of its cookie value is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class LoginThrottle(Base):
    """Failed sign-ins counted per account ("user:<name>") or client address ("ip:<addr>")
    in a window, and the time until which that key may not sign in."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def login_locked_until(session: Session, *, keys: Sequence[str]) -> dict[str, dt.datetime]:
    """Return, of ``keys``, those locked now and until when."""
    now = utcnow()
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(list(keys)))).all()
    return {
        row.key: row.locked_until
        for row in rows
        if row.locked_until is not None and row.locked_until > now
    }


def count_login_failure(
    session: Session, *, key: str, window: dt.timedelta, max_failures: int, lockout: dt.timedelta
) -> tuple[int, dt.datetime | None]:
    """Count one failed sign-in for ``key`` in one atomic upsert (parallel failures all count);
    lock the key when the count reaches ``max_failures``. Return the count in the window and
    the new lock's end when this failure set it, else None."""
    now = utcnow()
    table = LoginThrottle.__table__
    stale = table.c.window_start <= now - window
    statement = dialect_insert(session, table).values(
        key=key, failures=1, window_start=now, locked_until=None
    )
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((stale, 1), else_=table.c.failures + 1),
            "window_start": case((stale, literal(now, UTCDateTime())), else_=table.c.window_start),
        },
    ).returning(table.c.failures, table.c.locked_until)
    failures, locked_until = session.execute(statement).one()
    if failures >= max_failures and (locked_until is None or locked_until <= now):
        until = now + lockout
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(locked_until=until, failures=0, window_start=now)
            .execution_options(synchronize_session=False)
        )
        return int(failures), until
    return int(failures), None


def clear_login_failures(session: Session, *, key: str) -> None:
    """Forget the failed sign-ins of ``key`` (after a successful one)."""
    session.execute(
        delete(LoginThrottle)
        .where(LoginThrottle.key == key)
        .execution_options(synchronize_session=False)
    )


def end_user_sessions(session: Session, *, user_id: int) -> int:
    """End every browser session of a user; return how many there were."""
    result = session.execute(
        delete(WebSession)
        .where(WebSession.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def create_user(session: Session, *, username: str, password_hash: str, role: str) -> User:
    """Create a user; raises Conflict if the name is taken."""
    if get_user_by_username(session, username=username) is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(username=username, password_hash=password_hash, role=role)
    session.add(user)
    session.flush()
    return user


def get_user_by_username(session: Session, *, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def get_user(session: Session, *, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()


def count_users(session: Session) -> int:
    return session.scalar(select(func.count(User.id))) or 0


def count_active_admins(session: Session) -> int:
    query = select(func.count(User.id)).where(User.role == "admin", User.disabled.is_(False))
    return session.scalar(query) or 0


def create_web_session(
    session: Session, *, user: User, lifetime: dt.timedelta
) -> tuple[WebSession, str]:
    """Create a browser session; return it and the cookie value (stored only hashed)."""
    token = new_secret("smws_")
    web_session = WebSession(
        token_hash=hash_secret(token),
        user_id=user.id,
        csrf_token=new_secret(""),
        expires_at=utcnow() + lifetime,
    )
    session.add(web_session)
    session.flush()
    return web_session, token


def get_web_session(session: Session, *, token: str) -> WebSession | None:
    """Return the live session for a cookie value, or None when unknown or expired."""
    found = session.get(WebSession, hash_secret(token))
    if found is None or found.expires_at <= utcnow() or found.user.disabled:
        return None
    return found


def delete_web_session(session: Session, *, token: str) -> None:
    found = session.get(WebSession, hash_secret(token))
    if found is not None:
        session.delete(found)
