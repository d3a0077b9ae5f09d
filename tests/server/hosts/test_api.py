"""The host API: host detail with what was found on it, item detail with its trend, and the
department only admins set."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import finding, report
from tests.server.conftest import enroll, sign_in


def _post(client: TestClient, credential: str, body: bytes) -> int:
    answer = client.post(
        "/api/v1/agents/reports",
        content=body,
        headers={"Authorization": f"Bearer {credential}", "Content-Type": "application/json"},
    )
    return answer.status_code


def test_host_detail_lists_what_was_found_and_admins_set_a_department(
    client: TestClient, app: FastAPI
) -> None:
    credential = enroll(client, app)
    sent = report([finding(), finding("anthropic-claude", indicator="Claude", user="bob")])
    assert _post(client, credential, sent.to_json()) == 200

    csrf = sign_in(client, "admin")
    (host,) = client.get("/api/v1/hosts").json()
    detail = client.get(f"/api/v1/hosts/{host['id']}").json()
    assert detail["item_count"] == 2 and not detail["stale"]
    assert sorted((s["item_name"], s["user"]) for s in detail["sightings"]) == [
        ("ChatGPT", "alice"),
        ("Claude", "bob"),
    ]
    assert client.get("/api/v1/hosts/999999").status_code == 404

    path = f"/api/v1/hosts/{host['id']}"
    refused = client.patch(path, json={"department": "Finance"})
    assert refused.status_code == 403
    too_long = client.patch(path, json={"department": "x" * 129}, headers={"X-CSRF-Token": csrf})
    assert too_long.status_code == 422 and "department" in too_long.text
    changed = client.patch(path, json={"department": "Finance"}, headers={"X-CSRF-Token": csrf})
    assert changed.status_code == 200 and changed.json()["department"] == "Finance"

    # The department rolls up into the items from the host's next report.
    assert _post(client, credential, report([finding()]).to_json()) == 200
    items = {item["name"]: item for item in client.get("/api/v1/inventory").json()}
    assert items["ChatGPT"]["departments"] == ["Finance"]
    assert items["ChatGPT"]["evidence_kinds"] == ["process"]

    detail = client.get(f"/api/v1/inventory/{items['ChatGPT']['id']}?days=7").json()
    assert len(detail["trend"]) == 7 and detail["trend"][-1]["hosts"] == 1
    assert detail["violations"] == []


def test_viewers_cannot_change_hosts(client: TestClient, app: FastAPI) -> None:
    credential = enroll(client, app)
    assert _post(client, credential, report([finding()]).to_json()) == 200
    csrf = sign_in(client, "viewer")
    (host,) = client.get("/api/v1/hosts").json()
    answer = client.patch(
        f"/api/v1/hosts/{host['id']}", json={"department": "x"}, headers={"X-CSRF-Token": csrf}
    )
    assert answer.status_code == 403
