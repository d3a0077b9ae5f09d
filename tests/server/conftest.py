"""An in-process server on a fresh SQLite database, signed-in clients and API tokens."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.store import agents, tokens, users
from server.accounts.passwords import hash_password
from server.app import create_app
from server.config import ServerSettings

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    """The in-process server without its background scheduler, so that tests drive report
    runs and webhook delivery rounds themselves and nothing races them (the scheduler has
    its own tests in tests/server/reports/test_schedule.py)."""
    return ServerSettings(data_dir=tmp_path, scheduler_enabled=False)


def _seed_users(url: str) -> None:
    """Migrate the database at ``url`` and create one user per role, as `shadowmap user create`
    would (the service functions, not rows written by hand)."""
    engine = make_engine(url)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        for role in ("admin", "reviewer", "viewer"):
            users.create_user(
                session, username=role, password_hash=hash_password(PASSWORD), role=role
            )
    engine.dispose()


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the three users, built once per run: each test starts
    from a copy, which saves the migrations and three argon2 hashes per test."""
    path = tmp_path_factory.mktemp("seeded") / "shadowmap.db"
    _seed_users(f"sqlite:///{path}")
    return path


@pytest.fixture
def app(settings: ServerSettings, seeded_sqlite: Path) -> FastAPI:
    if settings.database_url:
        _seed_users(settings.database_url)
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(seeded_sqlite, settings.data_dir / "shadowmap.db")
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the real form; return the session's CSRF token."""
    page = client.get("/login")
    login_csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert login_csrf
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": login_csrf.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    inventory = client.get("/inventory")
    token = re.search(r'name="csrf" value="([^"]+)"', inventory.text)
    assert token
    return token.group(1)


def enroll(
    client: TestClient,
    app: FastAPI,
    *,
    agent_id: str = "agent-0001",
    hostname: str = "laptop-1",
    os: str = "linux",
) -> str:
    """Create an enrollment token and enroll an agent over HTTP; return its credential."""
    state = app.state.shadowmap
    with transaction(state.sessions) as session:
        _token, secret = agents.create_enrollment_token(
            session, name="t", expires_at=None, max_uses=None
        )
    answer = client.post(
        "/api/v1/agents/enroll",
        json={
            "token": secret,
            "agent_id": agent_id,
            "host": {"hostname": hostname, "os": os, "os_version": "", "arch": "x86_64"},
        },
    )
    assert answer.status_code == 200, answer.text
    credential: str = answer.json()["credential"]
    return credential


def make_token(
    app: FastAPI,
    scopes: Sequence[str],
    *,
    name: str | None = None,
    expires_at: dt.datetime | None = None,
) -> str:
    """Create an API token straight in the app's database; return its secret."""
    with transaction(app.state.shadowmap.sessions) as session:
        count = len(tokens.list_api_tokens(session))
        _token, secret = tokens.create_api_token(
            session, name=name or f"token-{count}", scopes=scopes, expires_at=expires_at
        )
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
