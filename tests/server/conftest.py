"""An in-process server on a fresh SQLite database, and signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.store import agents, users
from server.app import create_app
from server.config import ServerSettings
from server.passwords import hash_password

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return ServerSettings(data_dir=tmp_path)


@pytest.fixture
def app(settings: ServerSettings) -> FastAPI:
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        for role in ("admin", "reviewer", "viewer"):
            users.create_user(
                session, username=role, password_hash=hash_password(PASSWORD), role=role
            )
    engine.dispose()
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
