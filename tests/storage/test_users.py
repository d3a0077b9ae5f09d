"""Users and their browser sessions, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from collector.store import users
from collector.store.base import utcnow
from tests.factories import T0


def test_web_sessions_expire(db: Session) -> None:
    user = users.create_user(db, username="rev", password_hash="x", role="reviewer")
    _live, token = users.create_web_session(db, user=user, lifetime=dt.timedelta(hours=1))
    assert users.get_web_session(db, token=token) is not None
    assert users.get_web_session(db, token="smws_unknown") is None
    _old, old_token = users.create_web_session(db, user=user, lifetime=dt.timedelta(seconds=-1))
    assert users.get_web_session(db, token=old_token) is None
    assert utcnow() > T0
