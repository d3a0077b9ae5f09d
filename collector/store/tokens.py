"""API tokens: machine credentials for the REST API, with their scopes; only the SHA-256 of each
secret is stored. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.credentials import hash_secret, new_secret
from collector.errors import AuthenticationFailed, Conflict, NotFound
from collector.store.base import Base, JSONType, UTCDateTime, utcnow

#: Every scope an API token can hold. ``admin`` implies all the others.
SCOPES = (
    "inventory:read",
    "inventory:write",
    "hosts:read",
    "reports:read",
    "register:read",
    "register:write",
    "aims:read",
    "aims:write",
    "aims:admin",
    "webhooks:admin",
    "admin",
)


class ApiToken(Base):
    """A machine credential for the REST API; only the SHA-256 of its secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


API_TOKEN_PREFIX = "smapi_"  # noqa: S105 - a prefix, not a secret


_TOUCH_EVERY = dt.timedelta(minutes=1)


def create_api_token(
    session: Session,
    *,
    name: str,
    scopes: Sequence[str],
    expires_at: dt.datetime | None,
    created_by: str = "",
) -> tuple[ApiToken, str]:
    """Create an API token; return it and its secret (shown once). Raises Conflict on a
    duplicate name."""
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise Conflict(f"an API token named {name!r} already exists")
    secret = new_secret(API_TOKEN_PREFIX)
    token = ApiToken(
        name=name,
        token_hash=hash_secret(secret),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        created_by=created_by,
    )
    session.add(token)
    session.flush()
    return token, secret


def list_api_tokens(session: Session) -> Sequence[ApiToken]:
    return session.scalars(select(ApiToken).order_by(ApiToken.id)).all()


def revoke_api_token(session: Session, *, token_id: int) -> ApiToken:
    """Revoke a token (idempotent); raises NotFound."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("API token", token_id)
    token.revoked_at = token.revoked_at or utcnow()
    return token


def authenticate_api_token(session: Session, *, secret: str) -> ApiToken:
    """Return the live token for a secret; raises AuthenticationFailed."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret)))
    now = utcnow()
    if token is None or token.revoked_at is not None:
        raise AuthenticationFailed("unknown or revoked API token")
    if token.expires_at is not None and token.expires_at <= now:
        raise AuthenticationFailed("API token expired")
    # Record use at most once a minute, so that reads do not turn into writes.
    if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
        token.last_used_at = now
    return token
