"""The register's JSON API as a signed-in session uses it: create, read, patch with versions."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.server.conftest import sign_in


def test_register_json_api(client: TestClient) -> None:
    csrf = sign_in(client, "reviewer")
    body = {
        "title": "Copilot for engineering",
        "ai_system": "GitHub Copilot",
        "business_unit": "Engineering",
    }
    assert client.post("/api/v1/register", json=body).status_code == 403  # no CSRF header
    created = client.post("/api/v1/register", json=body, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["status"] == "under_review" and entry["version"] == 1
    bad = client.patch(
        f"/api/v1/register/{entry['register_id']}",
        json={"version": 1, "changes": {"risk_level": "extreme"}},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "risk_level"]
    patched = client.patch(
        f"/api/v1/register/{entry['register_id']}",
        json={"version": 1, "changes": {"risk_level": "high"}},
        headers={"X-CSRF-Token": csrf},
    )
    assert patched.status_code == 200 and patched.json()["version"] == 2
    conflict = client.patch(
        f"/api/v1/register/{entry['register_id']}",
        json={"version": 1, "changes": {"risk_level": "low"}},
        headers={"X-CSRF-Token": csrf},
    )
    assert conflict.status_code == 409
    listed = client.get("/api/v1/register").json()
    assert [e["register_id"] for e in listed] == [entry["register_id"]]
    assert listed[0]["risk_level"] == "high"
