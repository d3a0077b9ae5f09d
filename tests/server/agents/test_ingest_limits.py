"""Issue 20 #13, the ingest side: one agent report cannot flood the inventory. New items per
report and per agent per hour are limited; what is deferred is said in the ingest answer,
shown on the host (API and page) and logged; known items are never limited. Reports over
HTTP, as an agent sends them."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import finding
from tests.server.conftest import enroll, make_token, sign_in
from tests.server.seed import post_report, unknowns


def host_id(client: TestClient, app: FastAPI, hostname: str) -> int:
    token = make_token(app, ["hosts:read"])
    hosts = client.get("/api/v1/hosts", headers={"Authorization": f"Bearer {token}"}).json()
    found: int = next(host["id"] for host in hosts if host["hostname"] == hostname)
    return found


def item_count(client: TestClient, app: FastAPI) -> int:
    token = make_token(app, ["inventory:read"])
    items = client.get(
        "/api/v1/inventory", params={"limit": 1000}, headers={"Authorization": f"Bearer {token}"}
    )
    assert items.status_code == 200, items.text
    return len(items.json())


def test_one_report_cannot_create_more_new_items_than_the_limit(
    client: TestClient, app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: a report created every item it named (20,000 in the audit)."""
    credential = enroll(client, app, hostname="flood-1")
    findings = [finding("openai-chatgpt"), finding("anthropic-claude", indicator="Claude")]
    findings += unknowns(*(f"tool-{n:04d}" for n in range(600)))
    with caplog.at_level(logging.WARNING):
        answer = post_report(client, credential, findings, hostname="flood-1")
    assert answer["status"] == "stored"
    # Catalogue services first: the unknown candidates are what is deferred.
    assert answer["items"] == 500 and answer["findings"] == 500
    assert answer["limited"] == [
        {
            "limit": "new_items_per_report",
            "maximum": 500,
            "deferred_items": 102,
            "deferred_findings": 102,
        }
    ]
    assert item_count(client, app) == 500
    assert "ingest limit" in caplog.text and "102 findings deferred" in caplog.text

    host = host_id(client, app, "flood-1")
    token = make_token(app, ["hosts:read"])
    detail = client.get(
        f"/api/v1/hosts/{host}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    [hit] = detail["ingest_limits"]
    assert hit["limited_reports"] == 1 and hit["last_limited_at"]
    assert hit["last_limited"]["limits"] == answer["limited"]
    assert hit["last_limited"]["report_id"] == answer["report_id"]
    sign_in(client, "viewer")
    page = client.get(f"/hosts/{host}")
    assert "Ingest limits" in page.text and "102 findings deferred" in page.text


def test_new_items_per_agent_hour_are_limited_and_known_items_never(
    client: TestClient, app: FastAPI
) -> None:
    state = app.state.shadowmap
    app.state.shadowmap.settings = state.settings.model_copy(
        update={"ingest_max_new_items_per_agent_hour": 100}
    )
    noisy = enroll(client, app, agent_id="agent-noisy1", hostname="noisy")
    first = post_report(client, noisy, unknowns(*(f"a-{n}" for n in range(80))), hostname="noisy")
    assert first["items"] == 80 and first["limited"] == []
    second = post_report(client, noisy, unknowns(*(f"b-{n}" for n in range(50))), hostname="noisy")
    assert second["items"] == 20
    assert second["limited"] == [
        {
            "limit": "new_items_per_agent_hour",
            "maximum": 100,
            "deferred_items": 30,
            "deferred_findings": 30,
        }
    ]
    # Its items already known are ingested whatever its budget: only new items are limited.
    again = post_report(
        client, noisy, unknowns(*(f"a-{n}" for n in range(80)), "c-0"), hostname="noisy"
    )
    assert again["findings"] == 80 and again["items"] == 80
    assert again["limited"][0]["deferred_items"] == 1
    # Another agent's budget is its own.
    quiet = enroll(client, app, agent_id="agent-quiet1", hostname="quiet")
    other = post_report(client, quiet, unknowns("b-40", "d-0"), hostname="quiet")
    assert other["items"] == 2 and other["limited"] == []
    assert item_count(client, app) == 80 + 20 + 2
