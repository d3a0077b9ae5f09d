"""User management on SQLite and PostgreSQL: roles, the last admin, audited without secrets."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.errors import Conflict
from collector.store import audit, users
from collector.store.audit import AuditEvent
from server.accounts import service
from server.errors import GuardFailed


def test_user_management_keeps_an_admin_and_never_audits_secrets(db: Session) -> None:
    admin = users.create_user(db, username="boss", password_hash="x", role="admin")
    user, password = service.create_user(
        db, actor="boss", username="ann", role="viewer", password=None
    )
    assert len(password) >= 12 and user.password_hash.startswith("$argon2")
    with pytest.raises(GuardFailed):
        service.create_user(db, actor="boss", username="bad name!", role="viewer", password=None)
    with pytest.raises(GuardFailed):
        service.create_user(db, actor="boss", username="x", role="root", password=None)
    with pytest.raises(Conflict):
        service.create_user(db, actor="boss", username="ann", role="viewer", password=None)
    with pytest.raises(Conflict):
        service.update_user(db, actor="ann", user_id=admin.id, role="viewer")
    with pytest.raises(GuardFailed):
        service.update_user(db, actor="boss", user_id=admin.id, disabled=True)
    service.update_user(db, actor="boss", user_id=user.id, role="reviewer", disabled=True)
    new = service.reset_password(db, actor="boss", user_id=user.id)
    assert new != password
    events = db.scalars(select(AuditEvent).where(AuditEvent.object_type == "user")).all()
    assert [e.action for e in events] == ["user.create", "user.update", "user.reset_password"]
    assert events[1].before == {"disabled": False, "role": "viewer"}
    dumped = " ".join(str(e.after) for e in events)
    assert "argon2" not in dumped and new not in dumped and password not in dumped
    assert audit.verify_audit_chain(db).ok
