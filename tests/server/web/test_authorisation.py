"""Every route, for every role, against the matrix in docs/authorisation.md."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.store import users
from server.accounts.passwords import hash_password
from server.app import create_app
from server.config import ServerSettings
from server.register import service
from server.register.schemas import EntryInput
from tests.factories import finding, report
from tests.server.conftest import PASSWORD, enroll, sign_in
from tests.server.web.routes import iter_routes

REPO = Path(__file__).resolve().parents[3]
ROLES = ("anonymous", "viewer", "reviewer", "admin")


def _matrix() -> dict[tuple[str, str], dict[str, str]]:
    rows = {}
    for line in (REPO / "docs" / "authorisation.md").read_text().splitlines():
        found = re.match(
            r"\| (GET|POST|PATCH|PUT|DELETE) \| `([^`]+)` \| (.+?) \| (.+?) \| "
            r"(.+?) \| (.+?) \|",
            line,
        )
        if found:
            method, path, *expected = found.groups()
            rows[(method, path)] = dict(zip(ROLES, expected, strict=True))
    return rows


MATRIX = _matrix()
# Signed-in sessions per role, reused across routes (signing in costs an argon2 hash).
_SESSIONS: dict[str, tuple[dict[str, str], str]] = {}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    _SESSIONS.clear()
    settings = ServerSettings(data_dir=tmp_path_factory.mktemp("authz"))
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        for role in ("admin", "reviewer", "viewer"):
            users.create_user(
                session, username=role, password_hash=hash_password(PASSWORD), role=role
            )
        target = users.create_user(
            session, username="target", password_hash=hash_password(PASSWORD), role="viewer"
        )
        entry = service.create_entry(
            session, actor="admin", fields=EntryInput(title="Seed", ai_system="Seed AI")
        )
        ids = {"user_id": str(target.id), "register_id": entry.register_id}
    engine.dispose()
    app = create_app(settings)
    with TestClient(app) as client:
        credential = enroll(client, app)
        answer = client.post(
            "/api/v1/agents/reports",
            content=report([finding()]).to_json(),
            headers={"Authorization": f"Bearer {credential}"},
        )
        assert answer.status_code == 200
        sign_in(client, "viewer")
        ids["item_id"] = str(client.get("/api/v1/inventory").json()[0]["id"])
        ids["host_id"] = str(client.get("/api/v1/hosts").json()[0]["id"])
    ids["path"] = "app.css"
    # Records that need not exist: an authorised caller gets 404 or 422, which passes auth.
    ids.update(
        run_id="1",
        token_id="1",
        agent_number="1",
        webhook_id="1",
        subscription_id="1",
        release_id="1",
        fmt="csv",
        name="weekly",
    )
    ids.update(
        policy_id="1", incident_id="INC-2026-0001", control_id="A.2.2", kind="dpia",
        token="1.1.forged", measure="open_incidents", assessment_id="1", route_id="1",
    )  # fmt: skip
    yield app, ids


def test_every_route_is_in_the_matrix_and_back(seeded: tuple[FastAPI, dict[str, str]]) -> None:
    app, _ids = seeded
    served = set(iter_routes(app.routes))
    assert served - set(MATRIX) == set(), "routes without a rule in docs/authorisation.md"
    assert set(MATRIX) - served == set(), "rules in docs/authorisation.md for no route"


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
def test_route_answers_each_role_as_documented(
    seeded: tuple[FastAPI, dict[str, str]], method: str, path: str
) -> None:
    app, ids = seeded
    url = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
    for role in ROLES:
        with TestClient(app) as client:
            csrf = ""
            if role != "anonymous":
                if role not in _SESSIONS:
                    csrf = sign_in(client, role)
                    _SESSIONS[role] = (dict(client.cookies), csrf)
                cookies, csrf = _SESSIONS[role]
                client.cookies.update(cookies)
                if path in ("/logout", "/admin/users/{user_id}"):
                    _SESSIONS.pop(role)  # this call may end or change the session
            if method == "GET":
                answer = client.get(url, follow_redirects=False)
            elif url.startswith("/api/"):
                answer = client.request(method, url, json={}, headers={"X-CSRF-Token": csrf})
            else:
                answer = client.request(method, url, data={"csrf": csrf}, follow_redirects=False)
        expected = MATRIX[(method, path)][role]
        if expected == "ok":
            assert answer.status_code not in (401, 403), (role, method, path, answer.text[:200])
        else:
            assert answer.status_code == int(expected), (role, method, path, answer.text[:200])
