"""The person behind an API call, for actions only a named person may take (sign-offs,
acknowledgements): a signed-in session's user, never an API token."""

from __future__ import annotations

from sqlalchemy.orm import Session

from collector.store import users
from collector.store.users import User
from server.errors import Forbidden
from server.web.api_auth import ApiCaller


def session_user(session: Session, caller: ApiCaller) -> User:
    """Return the signed-in user making the call; raises Forbidden for an API token."""
    if caller.kind != "session" or caller.user_id is None:
        raise Forbidden("this needs a signed-in person, not an API token")
    return users.get_user(session, user_id=caller.user_id)
