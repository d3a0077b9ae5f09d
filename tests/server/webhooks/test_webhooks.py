"""Webhooks: signatures (sign, verify, tamper, replay), events from inventory and register
changes delivered to a real HTTP receiver on loopback, retries with backoff, the delivery log."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import get_args

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from collector.db import transaction
from collector.store.inventory import InventoryItem
from collector.store.webhooks import WebhookDelivery
from server.errors import InvalidSignature
from server.inventory import service as triage_service
from server.register import service
from server.register.schemas import EntryInput
from server.signing import key_from_hex, sign, verify_signature
from server.webhooks.api import EventPattern
from server.webhooks.service import EVENT_TYPES, backoff, deliver_due
from tests.server.conftest import bearer, make_token
from tests.server.receivers import Receiver

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def test_signatures_verify_and_refuse_tampering_replay_and_garbage() -> None:
    key = b"k" * 32
    body = b'{"type":"inventory.item.created"}'
    header = sign(key, body, timestamp=1_800_000_000)
    assert header.startswith("t=1800000000,v1=")
    assert verify_signature(key, body, header, now=1_800_000_100) == 1_800_000_000
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(key, body + b" ", header, now=1_800_000_100)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(b"x" * 32, body, header, now=1_800_000_100)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_signature(key, body, header, now=1_800_000_000 + 301)
    for bad in (None, "", "v1=abc", "t=abc,v1=abc", "t=1800000000"):
        with pytest.raises(InvalidSignature):
            verify_signature(key, body, bad, now=1_800_000_000)
    # Key rotation: any v1 may match.
    rotated = header + ",v1=" + "0" * 64
    assert verify_signature(key, body, rotated, now=1_800_000_000)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def add_item(app: FastAPI, key: str) -> int:
    with transaction(app.state.shadowmap.sessions) as session:
        item = InventoryItem(key=key, name=key.title(), first_seen_at=T0, last_seen_at=T0)
        session.add(item)
        session.flush()
        return item.id


def prohibit_item(session: Session, item_id: int, *, alternative: str = "") -> str:
    """Promote a triaging item into a new register entry and prohibit it (the services)."""
    item = session.get(InventoryItem, item_id)
    assert item is not None
    entry = service.create_entry(
        session, actor="rita", fields=EntryInput(title=f"{item.name} use", ai_system=item.name)
    )
    if item.state == "new":
        triage_service.transition_item(session, actor="rita", item_id=item_id, target="triaging")
    triage_service.promote_item(
        session, actor="rita", item_id=item_id, existing_register_id=entry.register_id
    )
    service.decide_entry(
        session,
        actor="carol",
        register_id=entry.register_id,
        expected_version=entry.version,
        decision="prohibited",
        rationale="sends source code to a third party",
        alternative=alternative,
    )
    return entry.register_id


def test_inventory_events_reach_a_real_receiver_signed(
    client: TestClient, app: FastAPI, receiver: Receiver
) -> None:
    state = app.state.shadowmap
    admin = make_token(app, ["webhooks:admin"])
    reader = make_token(app, ["inventory:read"])
    body = {"name": "grc", "url": receiver.url, "event_types": ["inventory.*"]}
    assert client.post("/api/v1/webhooks", json=body, headers=bearer(reader)).status_code == 403
    created = client.post("/api/v1/webhooks", json=body, headers=bearer(admin))
    assert created.status_code == 201, created.text
    key = key_from_hex(created.json()["signing_key"])
    assert "signing_key" not in client.get("/api/v1/webhooks", headers=bearer(admin)).json()[0]

    deliver_due(state.settings, state.sessions)  # the first round starts the feed from now
    item_id = add_item(app, "claude")
    with transaction(state.sessions) as session:
        triage_service.transition_item(session, actor="rita", item_id=item_id, target="triaging")
    assert deliver_due(state.settings, state.sessions) == 1  # both changes coalesce: one row

    assert len(receiver.requests) == 1
    headers, raw = receiver.requests[0]
    verify_signature(key, raw, headers["Shadowmap-Signature"])
    event = json.loads(raw)
    assert event["type"] == headers["Shadowmap-Event"] == "inventory.item.created"
    assert event["id"] == headers["Shadowmap-Delivery"]
    assert event["data"]["item"]["state"] == "triaging" and event["data"]["id"] == item_id

    with transaction(state.sessions) as session:
        prohibit_item(session, item_id)
    assert deliver_due(state.settings, state.sessions) == 1
    updated = json.loads(receiver.requests[1][1])
    assert updated["type"] == "inventory.item.updated"
    assert updated["data"]["item"]["state"] == "promoted"
    assert updated["data"]["item"]["governed_status"] == "prohibited"
    assert deliver_due(state.settings, state.sessions) == 0  # nothing new, nothing resent

    log = client.get("/api/v1/webhooks/deliveries", headers=bearer(admin)).json()
    assert [(d["event_type"], d["status"], d["attempts"]) for d in log] == [
        ("inventory.item.updated", "delivered", 1),
        ("inventory.item.created", "delivered", 1),
    ]


def test_failures_are_retried_with_backoff_then_given_up(
    client: TestClient, app: FastAPI, receiver: Receiver
) -> None:
    state = app.state.shadowmap
    settings = state.settings.model_copy(update={"webhook_max_attempts": 3})
    admin = make_token(app, ["admin"])
    body = {"name": "flaky", "url": receiver.url, "event_types": ["inventory.item.created"]}
    assert client.post("/api/v1/webhooks", json=body, headers=bearer(admin)).status_code == 201
    deliver_due(settings, state.sessions)
    add_item(app, "gemini")
    receiver.status = 500
    assert deliver_due(settings, state.sessions) == 0
    with state.sessions() as session:
        delivery = session.query(WebhookDelivery).one()
        assert delivery.status == "pending" and delivery.attempts == 1
        assert delivery.last_status_code == 500
        wait = delivery.next_attempt_at - dt.datetime.now(dt.UTC)
        assert dt.timedelta(seconds=14) < wait <= dt.timedelta(seconds=30)
    # Not due yet: nothing is sent.
    deliver_due(settings, state.sessions)
    assert len(receiver.requests) == 1

    def make_due() -> None:
        with transaction(state.sessions) as session:
            for row in session.query(WebhookDelivery):
                row.next_attempt_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)

    make_due()
    deliver_due(settings, state.sessions)
    make_due()
    deliver_due(settings, state.sessions)
    assert len(receiver.requests) == 3
    failed = client.get(
        "/api/v1/webhooks/deliveries", params={"status": "failed"}, headers=bearer(admin)
    ).json()
    assert len(failed) == 1 and failed[0]["attempts"] == 3
    assert failed[0]["last_error"] == "receiver answered 500"
    # The same event id on every attempt, so a receiver can deduplicate.
    ids = {json.loads(raw)["id"] for _headers, raw in receiver.requests}
    assert len(ids) == 1


def test_unreachable_receivers_are_logged_not_raised(client: TestClient, app: FastAPI) -> None:
    state = app.state.shadowmap
    admin = make_token(app, ["admin"])
    body = {"name": "gone", "url": "http://127.0.0.1:9/hook", "event_types": ["*"]}
    assert client.post("/api/v1/webhooks", json=body, headers=bearer(admin)).status_code == 201
    deliver_due(state.settings, state.sessions)
    add_item(app, "ollama")
    assert deliver_due(state.settings, state.sessions) == 0
    log = client.get("/api/v1/webhooks/deliveries", headers=bearer(admin)).json()
    # The kind of failure only: no errno text to tell a closed port from a filtered one.
    assert log[0]["status"] == "pending" and log[0]["last_error"] == "could not connect"


def test_register_events_reach_a_real_receiver_one_per_action(
    client: TestClient, app: FastAPI, receiver: Receiver
) -> None:
    state = app.state.shadowmap
    admin = make_token(app, ["webhooks:admin"])
    writer = make_token(app, ["register:write"])
    for name, patterns in (("register-only", ["register.*"]), ("decisions", ["*"])):
        body = {"name": name, "url": receiver.url + "/" + name, "event_types": patterns}
        created = client.post("/api/v1/webhooks", json=body, headers=bearer(admin))
        assert created.status_code == 201, created.text
    key = key_from_hex(created.json()["signing_key"])
    deliver_due(state.settings, state.sessions)  # the first round starts the feeds from now

    entry = client.post(
        "/api/v1/register",
        json={"title": "Drafting", "ai_system": "ChatGPT", "supplier": "OpenAI"},
        headers=bearer(writer),
    ).json()
    patch = {
        "version": entry["version"],
        "changes": {"business_owner": "Bob", "purpose": "Letters", "risk_level": "low"},
    }
    patched = client.patch(
        f"/api/v1/register/{entry['register_id']}", json=patch, headers=bearer(writer)
    )
    assert patched.status_code == 200, patched.text
    with transaction(state.sessions) as session:
        service.decide_entry(
            session,
            actor="carol",
            register_id=entry["register_id"],
            expected_version=patched.json()["version"],
            decision="approved",
            rationale="low risk",
        )
    add_item(app, "claude")  # an inventory change: only the "*" endpoint hears of it
    assert deliver_due(state.settings, state.sessions) == 7

    register_only = [json.loads(raw) for _headers, raw in receiver.by_path("/hook/register-only")]
    assert [event["type"] for event in register_only] == [
        "register.entry.created",
        "register.entry.updated",
        "register.entry.decided",
    ]
    decided = register_only[2]["data"]
    assert decided["register_id"] == entry["register_id"] and decided["actor"] == "carol"
    assert decided["after"]["decision"] == "approved" and decided["entry"]["status"] == "approved"
    assert register_only[0]["data"]["actor"].startswith("api-token:")
    everything = receiver.by_path("/hook/decisions")
    assert sorted(json.loads(raw)["type"] for _headers, raw in everything) == sorted(
        [*(event["type"] for event in register_only), "inventory.item.created"]
    )
    for headers, raw in everything:  # signed with the "*" endpoint's key
        verify_signature(key, raw, headers["Shadowmap-Signature"])
        assert json.loads(raw)["id"] == headers["Shadowmap-Delivery"]
    assert deliver_due(state.settings, state.sessions) == 0  # nothing new, nothing resent


def test_every_event_type_can_be_subscribed_to() -> None:
    patterns = set(get_args(EventPattern))
    assert set(EVENT_TYPES) <= patterns
    assert {"*", "inventory.*", "register.*"} <= patterns


def test_backoff_doubles_and_is_capped_with_jitter() -> None:
    for attempts, ceiling in ((1, 30), (2, 60), (5, 480), (40, 6 * 3600)):
        waits = {backoff(attempts) for _ in range(50)}
        low, high = dt.timedelta(seconds=ceiling / 2), dt.timedelta(seconds=ceiling)
        assert all(low <= wait <= high for wait in waits), (attempts, waits)
        assert len(waits) > 40  # spread: retries of deliveries that failed together disperse
