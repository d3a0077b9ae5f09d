"""Request dependencies: the database session, the signed-in user and the calling agent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session, sessionmaker

from collector.errors import AuthenticationFailed
from collector.store import agents, users
from collector.store.agents import Agent
from collector.store.users import User, WebSession
from server.accounts.roles import role_allows
from server.errors import Forbidden, NotAuthenticated
from server.state import AppState

SESSION_COOKIE = "shadowmap_session"


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.shadowmap
    return state


def db_session(request: Request) -> Iterator[Session]:
    """Yield a session in a transaction, committed when the handler returns normally."""
    factory: sessionmaker[Session] = app_state(request).sessions
    with factory() as session, session.begin():
        yield session


# scope="function": commit before the response is sent. Otherwise a browser that follows a
# post/redirect/get redirect (sign-in, any form) can read the database before the commit.
DbSession = Annotated[Session, Depends(db_session, scope="function")]
State = Annotated[AppState, Depends(app_state)]
#: A row id in a URL path, bounded so that no database sees an integer it cannot hold.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    web_session: WebSession


def signed_in(request: Request, session: DbSession) -> SignedIn:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotAuthenticated()
    web_session = users.get_web_session(session, token=token)
    if web_session is None:
        raise NotAuthenticated()
    return SignedIn(user=web_session.user, web_session=web_session)


def require(role: str) -> object:
    """Return a dependency that admits users holding ``role`` or a higher one."""

    def check(who: Annotated[SignedIn, Depends(signed_in)]) -> SignedIn:
        if not role_allows(who.user.role, role):
            raise Forbidden(f"this needs the {role} role")
        return who

    return Depends(check)


Viewer = Annotated[SignedIn, require("viewer")]
Reviewer = Annotated[SignedIn, require("reviewer")]
Admin = Annotated[SignedIn, require("admin")]


def bearer_credential(request: Request) -> str:
    """Return the agent credential from ``Authorization: Bearer``; raises AuthenticationFailed."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise AuthenticationFailed("missing agent credential (Authorization: Bearer ...)")
    return credential.strip()


def calling_agent(request: Request, session: DbSession) -> Agent:
    return agents.authenticate_agent(session, credential=bearer_credential(request))


CallingAgent = Annotated[Agent, Depends(calling_agent)]
