"""Issue 20 #13, the webhook side: a delivery round sends everything due (not 20 per poll),
a burst of inventory events does not hold register events back, and the backlog per
endpoint and lane is bounded, its drops counted and shown. Real receivers on loopback; items
created by agent reports over HTTP, register entries through the API."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.webhooks.service import deliver_due
from tests.server.conftest import bearer, enroll, make_token
from tests.server.receivers import Receiver
from tests.server.seed import post_report, unknowns


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def subscribe(client: TestClient, admin: str, url: str, patterns: list[str], name: str) -> int:
    body = {"name": name, "url": url, "event_types": patterns}
    created = client.post("/api/v1/webhooks", json=body, headers=bearer(admin))
    assert created.status_code == 201, created.text
    endpoint_id: int = created.json()["id"]
    return endpoint_id


def create_entry(client: TestClient, writer: str, title: str) -> None:
    answer = client.post(
        "/api/v1/register",
        json={"title": title, "ai_system": title, "supplier": "Acme"},
        headers=bearer(writer),
    )
    assert answer.status_code == 201, answer.text


@pytest.mark.slow
def test_one_round_sends_every_due_delivery(
    client: TestClient, app: FastAPI, receiver: Receiver
) -> None:
    """Before: at most 20 deliveries per poll (every 10 s), so one burst took hours."""
    state = app.state.shadowmap
    subscribe(client, make_token(app, ["webhooks:admin"]), receiver.url, ["inventory.*"], "all")
    deliver_due(state.settings, state.sessions)
    post_report(client, enroll(client, app), unknowns(*(f"tool-{n}" for n in range(300))))
    assert deliver_due(state.settings, state.sessions) == 300
    assert len(receiver.requests) == 300


def test_a_burst_of_inventory_events_does_not_hold_register_events_back(
    client: TestClient, app: FastAPI, receiver: Receiver
) -> None:
    state = app.state.shadowmap
    settings = state.settings.model_copy(update={"webhook_concurrency": 1})  # batches of 4
    subscribe(client, make_token(app, ["webhooks:admin"]), receiver.url, ["*"], "everything")
    deliver_due(settings, state.sessions)
    post_report(client, enroll(client, app), unknowns(*(f"tool-{n}" for n in range(120))))
    create_entry(client, make_token(app, ["register:write"]), "Drafting")
    assert deliver_due(settings, state.sessions) == 121
    order = [json.loads(body)["type"] for _headers, body in receiver.requests]
    # Queued after 120 inventory events, sent in the first batch: lanes take turns.
    assert order.index("register.entry.created") < 4, order[:10]


def test_the_backlog_is_bounded_and_its_drops_are_counted_and_shown(
    client: TestClient, app: FastAPI, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    state = app.state.shadowmap
    settings = state.settings.model_copy(update={"webhook_max_pending": 10})
    admin = make_token(app, ["webhooks:admin"])
    endpoint_id = subscribe(client, admin, receiver.url, ["*"], "down")
    receiver.status = 503  # the receiver is down: nothing leaves the backlog
    deliver_due(settings, state.sessions)
    post_report(client, enroll(client, app), unknowns(*(f"tool-{n}" for n in range(25))))
    with caplog.at_level(logging.WARNING, logger="server.webhooks.service"):
        deliver_due(settings, state.sessions)
    assert f"webhook {endpoint_id}: 15 inventory events dropped" in caplog.text
    # The register lane has a bound of its own: a full inventory backlog does not cost it.
    create_entry(client, make_token(app, ["register:write"]), "Drafting")
    deliver_due(settings, state.sessions)

    [endpoint] = client.get("/api/v1/webhooks", headers=bearer(admin)).json()
    assert endpoint["pending"] == 11 and endpoint["failed"] == 0
    assert endpoint["dropped_events"] == 15 and endpoint["last_dropped_at"]
    log = client.get("/api/v1/webhooks/deliveries", headers=bearer(admin)).json()
    assert sorted(entry["event_type"] for entry in log) == [
        *["inventory.item.created"] * 10,
        "register.entry.created",
    ]
    # A failing endpoint is tried once per round, not once per delivery.
    assert len(receiver.requests) <= 3
