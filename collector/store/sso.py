"""Single sign-on state: who a provider's subject is here (identities), logins under way
(state, nonce and PKCE verifier until the provider answers) and which browser sessions came
from which provider session (so the provider can end them). Keyword-only; the caller owns the
transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import ForeignKey, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.credentials import hash_secret
from collector.store.base import Base, UTCDateTime, utcnow
from collector.store.users import WebSession


class SsoIdentity(Base):
    """A local user made from (or linked to) one subject of one identity provider."""

    __tablename__ = "sso_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True, index=True
    )
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SsoLogin(Base):
    """A sign-in sent to the provider and not yet back; used once. Only the state's hash is
    kept, so the table cannot be used to forge a callback."""

    __tablename__ = "sso_logins"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class SsoSession(Base):
    """The provider session (``sid``) a browser session was opened from."""

    __tablename__ = "sso_sessions"

    token_hash: Mapped[str] = mapped_column(
        ForeignKey("web_sessions.token_hash", ondelete="CASCADE"), primary_key=True
    )
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255), index=True)
    sid: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def create_login(
    session: Session, *, state: str, nonce: str, code_verifier: str, lifetime: dt.timedelta
) -> SsoLogin:
    """Record a sign-in sent to the provider (and forget expired ones)."""
    session.execute(delete(SsoLogin).where(SsoLogin.expires_at <= utcnow()))
    login = SsoLogin(
        state_hash=hash_secret(state),
        nonce=nonce,
        code_verifier=code_verifier,
        expires_at=utcnow() + lifetime,
    )
    session.add(login)
    session.flush()
    return login


def take_login(session: Session, *, state: str) -> SsoLogin | None:
    """Return and delete the live sign-in of ``state``; None when unknown, used or expired."""
    login = session.get(SsoLogin, hash_secret(state))
    if login is None:
        return None
    session.delete(login)
    session.flush()
    if login.expires_at <= utcnow():
        return None
    return login


def get_identity(session: Session, *, issuer: str, subject: str) -> SsoIdentity | None:
    query = select(SsoIdentity).where(SsoIdentity.issuer == issuer, SsoIdentity.subject == subject)
    return session.scalar(query)


def get_identity_of_user(session: Session, *, user_id: int) -> SsoIdentity | None:
    return session.scalar(select(SsoIdentity).where(SsoIdentity.user_id == user_id))


def create_identity(session: Session, *, user_id: int, issuer: str, subject: str) -> SsoIdentity:
    identity = SsoIdentity(user_id=user_id, issuer=issuer, subject=subject)
    session.add(identity)
    session.flush()
    return identity


def record_session(
    session: Session, *, web_session: WebSession, issuer: str, subject: str, sid: str | None
) -> None:
    session.add(
        SsoSession(token_hash=web_session.token_hash, issuer=issuer, subject=subject, sid=sid)
    )
    session.flush()


def get_session(session: Session, *, token: str) -> SsoSession | None:
    """The provider session behind a browser session's cookie value, if it came from one."""
    return session.get(SsoSession, hash_secret(token))


def end_provider_sessions(
    session: Session, *, issuer: str, subject: str | None, sid: str | None
) -> int:
    """Delete the browser sessions opened from a provider session (by ``sid``) or, without a
    sid, from any session of ``subject``; return how many ended."""
    query = select(SsoSession.token_hash).where(SsoSession.issuer == issuer)
    if sid is not None:
        query = query.where(SsoSession.sid == sid)
        if subject is not None:
            query = query.where(SsoSession.subject == subject)
    elif subject is not None:
        query = query.where(SsoSession.subject == subject)
    else:
        return 0
    hashes: Sequence[str] = session.scalars(query).all()
    if hashes:
        session.execute(delete(WebSession).where(WebSession.token_hash.in_(hashes)))
        session.execute(delete(SsoSession).where(SsoSession.token_hash.in_(hashes)))
    return len(hashes)
