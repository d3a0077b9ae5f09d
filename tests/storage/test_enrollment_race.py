"""A 3-use enrollment token enrolls 3 agents, however many enroll at the same moment: 12
threads, each in its own transaction, on SQLite (no row locks) and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.errors import EnrollmentRefused
from collector.store import agents
from collector.store.agents import Agent, EnrollmentToken

PARALLEL = 12
USES = 3


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_parallel_enrollments_take_no_more_uses_than_the_token_has(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        token, secret = agents.create_enrollment_token(
            session, name="three", expires_at=None, max_uses=USES
        )
        token_id = token.id
    start = threading.Barrier(PARALLEL)

    def enroll(number: int) -> str:
        start.wait()
        try:
            with transaction(sessions) as session:
                agents.enroll_agent(
                    session,
                    enrollment_secret=secret,
                    agent_uid=f"agent-race-{number:04d}",
                    hostname=f"host-{number}",
                    os="linux",
                )
        except EnrollmentRefused as exc:
            return exc.reason
        return "enrolled"

    with ThreadPoolExecutor(PARALLEL) as pool:
        outcomes = list(pool.map(enroll, range(PARALLEL)))

    assert outcomes.count("enrolled") == USES, outcomes
    assert outcomes.count("enrollment token used up") == PARALLEL - USES, outcomes
    with transaction(sessions) as session:
        assert session.scalar(select(func.count(Agent.id))) == USES
        assert session.get(EnrollmentToken, token_id).uses == USES  # type: ignore[union-attr]


def test_parallel_enrollments_of_one_new_id_enroll_it_once(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        _token, secret = agents.create_enrollment_token(
            session, name="fleet", expires_at=None, max_uses=None
        )
    start = threading.Barrier(PARALLEL)

    def enroll(_number: int) -> str:
        start.wait()
        try:
            with transaction(sessions) as session:
                agents.enroll_agent(
                    session,
                    enrollment_secret=secret,
                    agent_uid="agent-same-0001",
                    hostname="same",
                    os="linux",
                )
        except EnrollmentRefused as exc:
            return "already enrolled" if "already enrolled" in exc.reason else exc.reason
        return "enrolled"

    with ThreadPoolExecutor(PARALLEL) as pool:
        outcomes = list(pool.map(enroll, range(PARALLEL)))
    assert outcomes.count("enrolled") == 1, outcomes
    assert outcomes.count("already enrolled") == PARALLEL - 1, outcomes
    with transaction(sessions) as session:
        assert session.scalar(select(func.count(Agent.id))) == 1
