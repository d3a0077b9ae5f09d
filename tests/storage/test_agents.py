"""Enrollment tokens and agent credentials, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from collector.errors import AuthenticationFailed, EnrollmentRefused
from collector.store import agents
from collector.store.base import utcnow
from tests.factories import enrolled_agent


def test_enrollment_token_limits(db: Session) -> None:
    token, secret = agents.create_enrollment_token(db, name="t", expires_at=None, max_uses=1)
    agents.enroll_agent(db, enrollment_secret=secret, agent_uid="agent-a", hostname="a", os="linux")
    with pytest.raises(EnrollmentRefused, match="used up"):
        agents.enroll_agent(
            db, enrollment_secret=secret, agent_uid="agent-b", hostname="b", os="linux"
        )

    _token, expired = agents.create_enrollment_token(
        db, name="old", expires_at=utcnow() - dt.timedelta(minutes=1), max_uses=None
    )
    with pytest.raises(EnrollmentRefused, match="expired"):
        agents.enroll_agent(
            db, enrollment_secret=expired, agent_uid="agent-c", hostname="c", os="linux"
        )

    revoked_token, revoked = agents.create_enrollment_token(
        db, name="r", expires_at=None, max_uses=None
    )
    agents.revoke_enrollment_token(db, token_id=revoked_token.id)
    with pytest.raises(EnrollmentRefused, match="revoked"):
        agents.enroll_agent(
            db, enrollment_secret=revoked, agent_uid="agent-d", hostname="d", os="linux"
        )
    with pytest.raises(AuthenticationFailed, match="unknown"):
        agents.enroll_agent(
            db, enrollment_secret="smet_nope", agent_uid="agent-e", hostname="e", os="linux"
        )
    assert token.uses == 1


def test_credentials_are_stored_hashed_and_rotate_on_reenrollment(db: Session) -> None:
    agent, first = enrolled_agent(db)
    assert first not in agent.credential_hash
    assert agents.authenticate_agent(db, credential=first).id == agent.id

    same_agent, second = enrolled_agent(db, current_credential=first)
    assert same_agent.id == agent.id and same_agent.host_id == agent.host_id
    with pytest.raises(AuthenticationFailed):
        agents.authenticate_agent(db, credential=first)
    assert agents.authenticate_agent(db, credential=second).id == agent.id
