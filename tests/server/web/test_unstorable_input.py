"""A value PostgreSQL cannot store (NUL in text) that reaches the database through a form is
refused with a 400 and nothing half-written, not a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.ingest import ingest_report
from collector.store import users
from collector.store.hosts import Host
from server.accounts.passwords import hash_password
from server.app import create_app
from server.config import ServerSettings
from signatures import load_catalogue
from tests.factories import enrolled_agent, finding, report
from tests.server.conftest import PASSWORD, sign_in

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_client(tmp_path: Path, fresh_postgres_url: str) -> Iterator[tuple[TestClient, int]]:
    settings = ServerSettings(
        data_dir=tmp_path, database_url=fresh_postgres_url, scheduler_enabled=False
    )
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        users.create_user(
            session, username="admin", password_hash=hash_password(PASSWORD), role="admin"
        )
        agent, _ = enrolled_agent(session)
        ingest_report(
            session,
            agent=agent,
            catalogue=load_catalogue(),
            report=report([finding("openai-chatgpt")], agent_id=agent.agent_uid),
        )
        host_id = session.query(Host.id).scalar()
    engine.dispose()
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        yield client, host_id


def test_nul_in_a_department_is_refused_cleanly_on_postgresql(
    pg_client: tuple[TestClient, int],
) -> None:
    client, host_id = pg_client
    csrf = sign_in(client, "admin")
    refused = client.patch(
        f"/api/v1/hosts/{host_id}",
        json={"department": "Fin\x00ance"},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid input"
    fine = client.patch(
        f"/api/v1/hosts/{host_id}", json={"department": "Finance"}, headers={"X-CSRF-Token": csrf}
    )
    assert fine.status_code == 200 and fine.json()["department"] == "Finance"
