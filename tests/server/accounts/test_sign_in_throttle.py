"""Sign-in throttling: an account locks after login_max_failures wrong passwords, an address
after login_max_failures_per_source, each with a clear message, Retry-After and an audit
event; parallel guesses do not slip past the count (SQLite and PostgreSQL); a password reset
by an admin ends the user's sessions."""

from __future__ import annotations

import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from collector.db import transaction
from collector.store import users
from collector.store.audit import AuditEvent
from collector.store.users import WebSession
from server.app import create_app
from server.cli import main
from server.config import ServerSettings
from tests.server.conftest import PASSWORD, _seed_users, sign_in

WRONG = "not the password at all"


def _login_csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert found
    return found.group(1)


def _try(client: TestClient, csrf: str, username: str, password: str) -> object:
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf": csrf},
        follow_redirects=False,
    )


def _lock_events(app: FastAPI) -> list[tuple[str, str]]:
    with transaction(app.state.shadowmap.sessions) as session:
        rows = session.execute(
            select(AuditEvent.object_type, AuditEvent.object_id).where(
                AuditEvent.action == "login.locked"
            )
        ).all()
    return [(kind, key) for kind, key in rows]


def test_an_account_locks_after_too_many_wrong_passwords(
    client: TestClient, app: FastAPI, settings: ServerSettings
) -> None:
    csrf = _login_csrf(client)
    limit = settings.login_max_failures
    statuses = [_try(client, csrf, "admin", WRONG).status_code for _ in range(limit)]  # type: ignore[attr-defined]
    assert statuses == [401] * (limit - 1) + [429]
    # Locked: even the right password is refused, with a clear message and Retry-After.
    locked = _try(client, csrf, "admin", PASSWORD)
    assert locked.status_code == 429  # type: ignore[attr-defined]
    assert "Too many failed sign-ins for this account" in locked.text  # type: ignore[attr-defined]
    assert "15 more minutes" in locked.text  # type: ignore[attr-defined]
    assert 800 < int(locked.headers["retry-after"]) <= 900  # type: ignore[attr-defined]
    assert _lock_events(app) == [("user", "admin")]
    # Another account, from the same address, still signs in.
    assert _try(client, csrf, "viewer", PASSWORD).status_code == 303  # type: ignore[attr-defined]


def test_a_successful_sign_in_resets_the_account_count(
    client: TestClient, settings: ServerSettings
) -> None:
    for _round in range(2):
        csrf = _login_csrf(client)
        for _ in range(settings.login_max_failures - 1):
            assert _try(client, csrf, "reviewer", WRONG).status_code == 401  # type: ignore[attr-defined]
        assert _try(client, csrf, "reviewer", PASSWORD).status_code == 303  # type: ignore[attr-defined]
        client.cookies.delete("shadowmap_session")


def test_an_admin_unlocks_an_account_by_cli_or_by_resetting_its_password(
    client: TestClient, app: FastAPI, settings: ServerSettings
) -> None:
    csrf = _login_csrf(client)
    for _ in range(settings.login_max_failures):
        _try(client, csrf, "viewer", WRONG)
    assert _try(client, csrf, "viewer", PASSWORD).status_code == 429  # type: ignore[attr-defined]
    data_dir = ["--data-dir", str(settings.data_dir)]
    assert main(["user", "unlock", "--username", "viewer", *data_dir]) == 0
    assert _try(client, csrf, "viewer", PASSWORD).status_code == 303  # type: ignore[attr-defined]

    client.cookies.delete("shadowmap_session")
    csrf = _login_csrf(client)
    for _ in range(settings.login_max_failures):
        _try(client, csrf, "reviewer", WRONG)
    with TestClient(app) as admin:
        admin_csrf = sign_in(admin, "admin")
        with transaction(app.state.shadowmap.sessions) as session:
            reviewer = users.get_user_by_username(session, username="reviewer")
            assert reviewer is not None
            reviewer_id = reviewer.id
        page = admin.post(f"/admin/users/{reviewer_id}/password", data={"csrf": admin_csrf})
        found = re.search(r'class="secret">([^<]+)<', page.text)
        assert found
    assert _try(client, csrf, "reviewer", found.group(1)).status_code == 303  # type: ignore[attr-defined]
    with transaction(app.state.shadowmap.sessions) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("login.%"))
        ).all()
    assert actions == ["login.locked", "login.unlocked", "login.locked"]


@pytest.fixture
def strict_source(tmp_path: Path) -> ServerSettings:
    return ServerSettings(
        data_dir=tmp_path, scheduler_enabled=False, login_max_failures_per_source=4
    )


def test_an_address_locks_after_too_many_failures_over_any_accounts(
    strict_source: ServerSettings, seeded_sqlite: Path
) -> None:
    strict_source.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(seeded_sqlite, strict_source.data_dir / "shadowmap.db")
    app = create_app(strict_source)
    with TestClient(app) as client:
        csrf = _login_csrf(client)
        names = ["alice", "bob", "carol", "dave"]
        statuses = [_try(client, csrf, name, WRONG).status_code for name in names]  # type: ignore[attr-defined]
        assert statuses == [401, 401, 401, 429]
        refused = _try(client, csrf, "viewer", PASSWORD)
        assert refused.status_code == 429  # type: ignore[attr-defined]
        assert "Too many failed sign-ins for your address" in refused.text  # type: ignore[attr-defined]
    assert _lock_events(app) == [("client_address", "testclient")]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> ServerSettings:
    url = None if request.param == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    return ServerSettings(data_dir=tmp_path, scheduler_enabled=False, database_url=url)


def test_parallel_guesses_get_no_more_tries_than_the_limit_and_a_slot(
    backend_settings: ServerSettings, seeded_sqlite: Path
) -> None:
    if backend_settings.database_url:
        _seed_users(backend_settings.database_url)
    else:
        backend_settings.data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(seeded_sqlite, backend_settings.data_dir / "shadowmap.db")
    app = create_app(backend_settings)
    with TestClient(app) as client:
        csrf = _login_csrf(client)
        with ThreadPoolExecutor(16) as pool:
            statuses = list(
                pool.map(lambda _n: _try(client, csrf, "admin", WRONG).status_code, range(16))  # type: ignore[attr-defined]
            )
    checked = statuses.count(401)
    limit = backend_settings.login_max_failures
    # Each guess is checked against the lock inside its password-check slot, so at most the
    # guesses already in a slot when the lock is set go past the limit.
    assert limit - 1 <= checked <= limit - 1 + backend_settings.login_concurrency, statuses
    assert statuses.count(429) == 16 - checked


def test_an_admin_password_reset_ends_the_users_sessions(app: FastAPI) -> None:
    with TestClient(app) as laptop, TestClient(app) as phone, TestClient(app) as admin:
        sign_in(laptop, "viewer")
        sign_in(phone, "viewer")
        assert laptop.get("/api/v1/inventory").status_code == 200
        csrf = sign_in(admin, "admin")
        with transaction(app.state.shadowmap.sessions) as session:
            viewer = users.get_user_by_username(session, username="viewer")
            assert viewer is not None
            viewer_id = viewer.id
        reset = admin.post(f"/admin/users/{viewer_id}/password", data={"csrf": csrf})
        assert reset.status_code == 200
        assert laptop.get("/api/v1/inventory").status_code == 401
        assert phone.get("/api/v1/inventory").status_code == 401
        with transaction(app.state.shadowmap.sessions) as session:
            left = session.scalars(select(WebSession).where(WebSession.user_id == viewer_id))
            assert left.all() == []
        # The admin's own session is untouched.
        assert admin.get("/api/v1/inventory").status_code == 200
