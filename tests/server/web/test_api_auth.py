"""API callers: token scopes, sessions with roles and CSRF on the same endpoints, rate limits
and request-size limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from collector.db import make_engine, transaction, upgrade
from collector.store.audit import list_audit_events
from server.app import create_app
from server.config import ServerSettings
from server.web.api_auth import TokenBucket
from tests.server.conftest import bearer, make_token, sign_in


def test_a_token_reads_what_its_scopes_allow_and_nothing_else(
    client: TestClient, app: FastAPI
) -> None:
    inventory_only = make_token(app, ["inventory:read"])
    assert client.get("/api/v1/inventory", headers=bearer(inventory_only)).status_code == 200
    assert client.get("/api/v1/sync/inventory", headers=bearer(inventory_only)).status_code == 200
    refused = client.get("/api/v1/hosts", headers=bearer(inventory_only))
    assert refused.status_code == 403 and "hosts:read" in refused.json()["detail"]
    assert client.get("/api/v1/tokens", headers=bearer(inventory_only)).status_code == 403
    admin = make_token(app, ["admin"])
    assert client.get("/api/v1/hosts", headers=bearer(admin)).status_code == 200
    assert client.get("/api/v1/tokens", headers=bearer(admin)).status_code == 200


def test_sessions_use_roles_and_writes_need_the_csrf_header(
    client: TestClient, app: FastAPI
) -> None:
    sign_in(client, "viewer")
    assert client.get("/api/v1/sync/inventory").status_code == 200
    assert client.get("/api/v1/tokens").status_code == 403
    client.cookies.clear()
    csrf = sign_in(client, "admin")
    body = {"name": "grc-feed", "scopes": ["inventory:read", "register:read"]}
    assert client.post("/api/v1/tokens", json=body).status_code == 403
    created = client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("smapi_") and created.json()["created_by"] == "admin"
    duplicate = client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf})
    assert duplicate.status_code == 409
    bad_scope = client.post(
        "/api/v1/tokens", json={"name": "x", "scopes": ["root"]}, headers={"X-CSRF-Token": csrf}
    )
    assert bad_scope.status_code == 422 and "scopes" in bad_scope.text
    client.cookies.clear()
    # A bearer token wins over any cookie and works without CSRF.
    assert client.get("/api/v1/sync/inventory", headers=bearer(secret)).status_code == 200
    # Only the hash is stored.
    with app.state.shadowmap.engine.connect() as connection:
        stored = connection.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert secret not in stored and all(len(value) == 64 for value in stored)


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path, api_burst=3, api_rate_per_minute=6)
    upgrade(make_engine(settings.resolved_database_url()))
    app = create_app(settings)
    fast, other = make_token(app, ["inventory:read"]), make_token(app, ["inventory:read"])
    with TestClient(app) as client:
        codes = [
            client.get("/api/v1/inventory", headers=bearer(fast)).status_code for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        limited = client.get("/api/v1/inventory", headers=bearer(fast))
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 10
        # Buckets are per token.
        assert client.get("/api/v1/inventory", headers=bearer(other)).status_code == 200


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate_per_second=2, burst=2)
    assert bucket.take("a", now=0) == 0 and bucket.take("a", now=0) == 0
    assert bucket.take("a", now=0) == pytest.approx(0.5)
    assert bucket.take("a", now=0.5) == 0
    assert bucket.take("b", now=0.5) == 0


def test_oversized_api_bodies_are_refused_before_parsing(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path, api_max_body_bytes=2048)
    upgrade(make_engine(settings.resolved_database_url()))
    app = create_app(settings)
    admin = make_token(app, ["admin"])
    with TestClient(app) as client:
        big = {"name": "x" * 4000, "scopes": ["admin"]}
        answer = client.post("/api/v1/tokens", json=big, headers=bearer(admin))
        assert answer.status_code == 413

        def chunks() -> object:
            for _ in range(10):
                yield b"{" + b" " * 500

        streamed = client.post(
            "/api/v1/tokens",
            content=chunks(),  # type: ignore[arg-type]
            headers={**bearer(admin), "Content-Type": "application/json"},
        )
        assert streamed.status_code == 413


def test_a_grc_tool_reads_and_writes_the_register_with_register_scopes(
    client: TestClient, app: FastAPI
) -> None:
    writer = make_token(app, ["register:read", "register:write"], name="grc-sync")
    reader = make_token(app, ["register:read"], name="grc-read")
    inventory_only = make_token(app, ["inventory:read"], name="dashboards")
    body = {"title": "ChatGPT Enterprise", "ai_system": "OpenAI ChatGPT", "risk_level": "high"}
    refused = client.post("/api/v1/register", json=body, headers=bearer(reader))
    assert refused.status_code == 403 and "register:write" in refused.json()["detail"]
    created = client.post("/api/v1/register", json=body, headers=bearer(writer))
    assert created.status_code == 201, created.text
    register_id = created.json()["register_id"]
    listed = client.get("/api/v1/register", headers=bearer(reader))
    assert [entry["register_id"] for entry in listed.json()] == [register_id]
    assert client.get("/api/v1/register", headers=bearer(inventory_only)).status_code == 403
    stale = client.patch(
        f"/api/v1/register/{register_id}",
        json={"version": 0, "changes": {"controls": "SSO only"}},
        headers=bearer(writer),
    )
    assert stale.status_code == 409
    patched = client.patch(
        f"/api/v1/register/{register_id}",
        json={"version": 1, "changes": {"controls": "SSO only"}},
        headers=bearer(writer),
    )
    assert patched.status_code == 200 and patched.json()["controls"] == "SSO only"
    unknown_status = client.get("/api/v1/register?status=approvedish", headers=bearer(reader))
    assert unknown_status.status_code == 422
    with transaction(app.state.shadowmap.sessions) as session:
        actors = {event.actor for event in list_audit_events(session, object_id=register_id)}
    assert len(actors) == 1 and actors.pop().endswith(":grc-sync")
