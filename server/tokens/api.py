"""Admin management of API tokens over the API (the CLI offers the same)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field, field_validator

from collector.store import tokens
from collector.store.tokens import ApiToken
from server.web.api_auth import AUTH_RESPONSES, ApiAdmin
from server.web.deps import DbSession, RowId

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])

Scope = Literal[
    "inventory:read",
    "inventory:write",
    "hosts:read",
    "reports:read",
    "register:read",
    "register:write",
    "webhooks:admin",
    "admin",
]


class TokenOut(BaseModel):
    id: int
    name: str
    scopes: list[str]
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            name=token.name,
            scopes=list(token.scopes),
            created_by=token.created_by,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
        )


class TokenCreate(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\w .:@-]+$")]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=8)]
    expires_at: AwareDatetime | None = Field(
        None,
        description="An RFC 3339 time (text, never a number); none: the token does not expire.",
    )

    @field_validator("expires_at", mode="before")
    @classmethod
    def _time_as_text(cls, value: object) -> object:
        # A number would be read as seconds since 1970 (0: a token born expired).
        if value is not None and not isinstance(value, str):
            raise ValueError("give the expiry as an RFC 3339 time, e.g. 2027-01-31T00:00:00Z")
        return value


class TokenCreated(TokenOut):
    secret: str = Field(description="The token itself; shown once, stored only hashed.")


@router.get("", response_model=list[TokenOut], responses=AUTH_RESPONSES)
def list_tokens(session: DbSession, _caller: ApiAdmin) -> list[TokenOut]:
    """List API tokens (never their secrets)."""
    return [TokenOut.of(token) for token in tokens.list_api_tokens(session)]


@router.post(
    "",
    response_model=TokenCreated,
    status_code=201,
    responses={**AUTH_RESPONSES, 409: {"description": "The name is taken"}},
)
def create_token(body: TokenCreate, session: DbSession, caller: ApiAdmin) -> TokenCreated:
    """Create an API token; its secret is in this response only."""
    token, secret = tokens.create_api_token(
        session,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
        created_by=caller.name,
    )
    return TokenCreated(**TokenOut.of(token).model_dump(), secret=secret)


@router.delete(
    "/{token_id}",
    response_model=TokenOut,
    responses={**AUTH_RESPONSES, 404: {"description": "No such token"}},
)
def revoke_token(token_id: RowId, session: DbSession, _caller: ApiAdmin) -> TokenOut:
    """Revoke an API token."""
    return TokenOut.of(tokens.revoke_api_token(session, token_id=token_id))
